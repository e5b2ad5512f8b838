"""The end-to-end gateways run the hot path as compiled by mypyc when scripts/test built it.

`scripts/test` compiles the hot-path modules into a directory of their own (`scripts/compile --into`)
and points TOLLGATE_TEST_COMPILED at it; the gateway processes of this suite then import the
extension modules, so the whole SDK matrix checks the compiled build that production runs, while
the in-process tests check the plain Python fallback. A stale or broken build must not pass as
compiled: every hot module has to come from an extension module.
"""

from __future__ import annotations

import pytest
from e2e_harness import COMPILED_BUILD, compiled_module_file

HOT_MODULES = (
    "tollgate.gateway.relay",
    "tollgate.gateway.server",
    "tollgate.gateway.upstream_connection",
    "tollgate.providers.taps",
    "tollgate.usage.record",
)


@pytest.mark.parametrize("module", HOT_MODULES)
def test_gateway_processes_import_the_compiled_hot_path(module: str) -> None:
    if not COMPILED_BUILD:
        pytest.skip("TOLLGATE_TEST_COMPILED is unset: the end-to-end gateways run plain Python")
    path = compiled_module_file(module)
    assert path.startswith(COMPILED_BUILD), path
    assert path.endswith(".so"), path
