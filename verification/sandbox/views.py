"""The sandbox mounted at /sandbox/ by the project's URLconf while KREDIBEL_SANDBOX
is on: it accepts exactly settings.KREDIBEL_API_KEY and injects the faults in
settings.KREDIBEL_SANDBOX_FAULTS."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from verification.sandbox.answers import Sandbox, declared_length, read_body
from verification.sandbox.faults import Faults

# The mounted sandbox: one per process, rebuilt when its settings change.

_mounted: Sandbox | None = None
_mounted_lock = threading.Lock()


def mounted_sandbox() -> Sandbox:
    """The sandbox served under /sandbox/, built from settings on first use; its
    fault state (clock, request count, random sequence) starts then."""
    global _mounted
    with _mounted_lock:
        if _mounted is None:
            _mounted = Sandbox(
                api_key=settings.KREDIBEL_API_KEY,
                faults=Faults.from_mapping(settings.KREDIBEL_SANDBOX_FAULTS),
            )
        return _mounted


@receiver(setting_changed)
def _reset_mounted_sandbox(*, setting: str, **kwargs: Any) -> None:
    global _mounted
    if setting in ("KREDIBEL_API_KEY", "KREDIBEL_SANDBOX_FAULTS"):
        with _mounted_lock:
            _mounted = None


@csrf_exempt
def sandbox_view(request: HttpRequest, subpath: str) -> HttpResponse:
    """Serve the sandbox under /sandbox/<subpath>.

    Reads the body with `request.read()`, not `request.body`: real requests (about
    8 MB) are over DATA_UPLOAD_MAX_MEMORY_SIZE, which only `request.body` enforces.
    """
    body = read_body(request, declared_length(request.headers))
    status, headers, content = mounted_sandbox().handle(
        request.method or "GET", "/" + subpath, request.headers, body
    )
    return HttpResponse(content, status=status, headers=dict(headers))
