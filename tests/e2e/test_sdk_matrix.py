"""The SDK matrix (DESIGN.md §2) through the real gateway: 13 client setups x basic/stream x
provider/proxy, with the current SDKs (pyproject's `clients` extra); matrix_checks.py says what each
run checks. test_sdk_previous.py runs the same setups with the previous majors.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_clients import Setup, setups
from e2e_harness import AZURE_DEPLOYMENT, E2E, FOUNDRY_DEPLOYMENT
from matrix_checks import check_matrix_run

SETUPS = setups(AZURE_DEPLOYMENT, FOUNDRY_DEPLOYMENT)


def _params() -> list[Any]:
    out = []
    for setup in SETUPS:
        for mode in ("basic", "stream"):
            for via in ("provider", "proxy"):
                out.append(pytest.param(setup, mode, via, id=f"{setup.id}-{mode}-{via}"))
    return out


@pytest.mark.parametrize(("setup", "mode", "via"), _params())
def test_matrix(e2e: E2E, setup: Setup, mode: str, via: str) -> None:
    check_matrix_run(e2e, setup, mode, via, setup.basic if mode == "basic" else setup.stream)
