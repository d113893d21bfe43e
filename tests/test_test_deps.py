"""`bin/test-deps` (run by `bin/test` every time) installs only what is missing: with
everything in place it runs neither apt-get nor npm.

It runs from a copy of the checkout's files in a temporary folder, with stand-ins
for apt-get and npm on the PATH that record how they were called (nothing is
installed for real) and for `id`, so that the root-only path is taken whoever runs
the tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.production import BASE_DIR

RECORDER = '#!/bin/sh\necho "${0##*/} $*" >> "$CALLS"\n'
# What the script needs from the system, besides the tools a case takes away.
SYSTEM_TOOLS = ("sh", "dirname", "python3")


@pytest.fixture
def checkout(tmp_path) -> Path:
    """bin/test-deps and the npm lock, with node_modules as `npm ci` leaves it."""
    root = tmp_path / "checkout"
    (root / "bin").mkdir(parents=True)
    shutil.copy(BASE_DIR / "bin" / "test-deps", root / "bin")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(BASE_DIR / name, root)
    axe = root / "node_modules" / "axe-core"
    axe.mkdir(parents=True)
    (axe / "axe.min.js").write_text("/* axe */")
    (axe / "package.json").write_text(json.dumps({"version": locked_axe_version()}))
    return root


def locked_axe_version() -> str:
    lock = json.loads((BASE_DIR / "package-lock.json").read_text())
    return lock["packages"]["node_modules/axe-core"]["version"]


def run_test_deps(
    checkout: Path, *, tools: tuple[str, ...] = ("xgettext", "npm")
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run the copy with a PATH of the system tools, `tools` (the real ones where
    they exist; npm always a recorder) and recorders for apt-get and id. Returns
    the result and the recorded calls."""
    bin_dir = checkout.parent / "path"
    bin_dir.mkdir()
    for tool in (*SYSTEM_TOOLS, *tools):
        real = shutil.which(tool)
        if tool != "npm" and real:
            (bin_dir / tool).symlink_to(real)
        else:
            (bin_dir / tool).write_text(RECORDER)
    (bin_dir / "apt-get").write_text(RECORDER)
    (bin_dir / "id").write_text("#!/bin/sh\necho 0\n")  # as root, as CI runs it
    for stand_in in bin_dir.iterdir():
        if not stand_in.is_symlink():
            stand_in.chmod(0o755)
    calls = checkout.parent / "calls"
    calls.touch()
    result = subprocess.run(
        [str(bin_dir / "sh"), str(checkout / "bin" / "test-deps")],
        env={"PATH": str(bin_dir), "CALLS": str(calls), "HOME": str(checkout)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, calls.read_text().splitlines()


def test_it_installs_nothing_when_everything_is_there(checkout):
    result, calls = run_test_deps(checkout)

    assert result.returncode == 0, result.stderr
    assert calls == []


def test_it_installs_axe_core_when_node_modules_is_missing(checkout):
    shutil.rmtree(checkout / "node_modules")

    result, calls = run_test_deps(checkout)

    assert result.returncode == 0, result.stderr
    assert calls == ["npm ci --silent --no-audit --no-fund"]


def test_it_installs_again_when_node_modules_is_not_what_the_lock_names(checkout):
    (checkout / "node_modules/axe-core/package.json").write_text(
        json.dumps({"version": "0.0.1"})
    )

    result, calls = run_test_deps(checkout)

    assert result.returncode == 0, result.stderr
    assert calls == ["npm ci --silent --no-audit --no-fund"]


def test_it_installs_gettext_alone_when_only_gettext_is_missing(checkout):
    result, calls = run_test_deps(checkout, tools=("npm",))

    assert result.returncode == 0, result.stderr
    assert calls == ["apt-get install -y -qq gettext"]
