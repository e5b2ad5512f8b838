"""One mock server per test module; behaviours and recordings are reset around every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tollgate.mock import MockServer


@pytest.fixture(scope="module")
def mock_server() -> Iterator[MockServer]:
    with MockServer(deployments={"my-gpt": "gpt-4o-2024-11-20"}) as server:
        yield server


@pytest.fixture
def mock(mock_server: MockServer) -> Iterator[MockServer]:
    mock_server.reset()
    yield mock_server
    mock_server.reset()
