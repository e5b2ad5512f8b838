"""Debian's chromium for the console's browser tests, driven by Playwright (never a downloaded browser).

Without chromium (a fresh machine where `scripts/bootstrap test` could not install it), the browser
tests skip and say why; under CI (`CI` set) a missing browser fails them, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TOLLGATE_TEST_CHROMIUM", "/usr/bin/chromium")
#: Where the screenshots of the main screens go for review (ignored by git).
ARTIFACTS = Path(os.environ.get("TOLLGATE_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")) / "console"


def require_chromium() -> str:
    """The chromium executable, or skip (fail under CI) when it is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"no chromium at {CHROMIUM}: `apt-get install chromium` (scripts/bootstrap test does it as root)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI requires it)")
        pytest.skip(reason)
    return CHROMIUM
