"""Fixtures of the gateway tests: one vendor-mock server per session (a thread), reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tollgate.mock import MockServer


@pytest.fixture(scope="session")
def mock_session() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def mock(mock_session: MockServer) -> Iterator[MockServer]:
    mock_session.reset()
    yield mock_session
    mock_session.reset()
