"""The photo quality checks on the corpus (tests/quality_corpus.py): no good photo
refused or warned about, every bad one caught by the check it is aimed at. The
README shows the same figures (bench/photo_quality.py)."""

from __future__ import annotations

import pytest

from tests.quality_corpus import CHECKS, Figures, evaluate


@pytest.fixture(scope="module")
def figures() -> dict[str, Figures]:
    return {figure.check: figure for figure in evaluate()}


@pytest.mark.parametrize("check", CHECKS)
def test_no_good_photo_is_flagged(figures, check):
    assert figures[check].good > 0
    assert figures[check].false_rejections == []


@pytest.mark.parametrize("check", CHECKS)
def test_every_bad_photo_is_caught_by_its_check(figures, check):
    assert figures[check].bad > 0
    assert figures[check].let_through == []


def test_no_good_photo_is_refused_for_another_reason(figures):
    others = {
        code: f.false_rejections for code, f in figures.items() if code not in CHECKS
    }
    assert not any(others.values()), others
