"""Tests for gateway/refusals.py: refused requests are all counted, recorded only up to a rate."""

from __future__ import annotations

import logging

import pytest

from tollgate.gateway.app import GatewayState
from tollgate.gateway.exchange import Exchange
from tollgate.gateway.refusals import REFUSED_PATH_LIMIT, RefusalLog

from .gw_helpers import ListSink, provider, resource_set


def _state() -> tuple[GatewayState, ListSink]:
    sink = ListSink()
    state = GatewayState("gw", sink)
    state.apply(resource_set([provider("p", "openai", "/p", "http://127.0.0.1:9")]))
    return state, sink


def _refused(state: GatewayState) -> Exchange:
    ex = Exchange("r", 0.0, "POST", "/p/" + "a" * 3000, "", [], "1.2.3.4")
    ex.route = state.snapshot.routes["/p"]
    ex.status, ex.error = 401, "invalid_api_key"
    return ex


def test_a_burst_is_recorded_up_to_the_bucket_and_the_rest_only_counted(caplog: pytest.LogCaptureFixture) -> None:
    state, sink = _state()
    refusals = RefusalLog(rows_per_second=0.0001, burst=3, log_interval=0)
    with caplog.at_level(logging.WARNING, logger="tollgate.gateway"):
        for _ in range(1000):
            refusals.refused(_refused(state), state)
    assert refusals.total == 1000 and refusals.unrecorded == 997
    assert len(sink.records) == 3
    assert all(len(r.path) == REFUSED_PATH_LIMIT and r.status == 401 for r in sink.records)
    assert "were not recorded individually" in caplog.text


def test_the_bucket_refills_with_time(monkeypatch: pytest.MonkeyPatch) -> None:
    state, sink = _state()
    now = [100.0]
    monkeypatch.setattr("tollgate.gateway.refusals.time.monotonic", lambda: now[0])
    refusals = RefusalLog(rows_per_second=2, burst=2)
    for _ in range(5):
        refusals.refused(_refused(state), state)
    assert len(sink.records) == 2
    now[0] += 1.0  # two more tokens
    for _ in range(5):
        refusals.refused(_refused(state), state)
    assert len(sink.records) == 4 and refusals.unrecorded == 6
