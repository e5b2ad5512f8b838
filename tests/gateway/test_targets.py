"""Tests for gateway/targets.py: passive health and the default picker."""

from __future__ import annotations

from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.targets import TargetHealth, first_available
from tollgate.gateway.upstream import PoolRegistry

from .gw_helpers import provider, resource_set


def test_health_goes_down_for_a_cooldown_and_up_on_success() -> None:
    health = TargetHealth()
    assert health.is_up
    health.failed(cooldown=60)
    assert not health.is_up and health.failures == 1
    health.failed(cooldown=0)
    assert health.is_up and health.failures == 2  # the cooldown is over, the count stays
    health.succeeded()
    assert health.is_up and health.failures == 0


def test_first_available_skips_targets_that_are_down_but_never_returns_none_for_targets() -> None:
    rs = resource_set([provider(n, "openai", f"/{n}", "http://127.0.0.1:9") for n in ("a", "b")])
    snap = compile_snapshot(rs, PoolRegistry(), {})
    a, b = snap.routes["/a"].targets[0], snap.routes["/b"].targets[0]
    assert first_available((a, b)) is a
    a.health.failed(cooldown=60)
    assert first_available((a, b)) is b
    b.health.failed(cooldown=60)
    assert first_available((a, b)) is a
    assert first_available(()) is None


def test_health_survives_a_new_snapshot_by_provider_name() -> None:
    health: dict[str, TargetHealth] = {}
    rs = resource_set([provider("a", "openai", "/a", "http://127.0.0.1:9")])
    one = compile_snapshot(rs, PoolRegistry(), health)
    two = compile_snapshot(rs, PoolRegistry(), health)
    assert one.routes["/a"].targets[0].health is two.routes["/a"].targets[0].health is health["a"]


def test_target_url_strips_client_key_params_and_adds_the_credential() -> None:
    rs = resource_set(
        [provider("g", "gemini", "/g", "http://127.0.0.1:9/base", security={"location": "query", "name": "gk"})]
    )
    (target,) = compile_snapshot(rs, PoolRegistry()).routes["/g"].targets
    assert target.target_url("/v1/models/m:generateContent", "alt=sse&key=AIza&gk=tg_x") == (
        "/base/v1/models/m:generateContent?alt=sse"
    )
