"""An APIKey's own limits compiled into the snapshot: no cost for routes without limited keys, one
dict lookup per request for the others, each key its own counters, bad stored limits refuse the key."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from tests.gateway.gw_helpers import new_key, provider, proxy, resource_set
from tests.policies.conftest import FakeExchange, FakeFacts, FakeRoute
from tollgate.errors import KeyModelDeniedError
from tollgate.gateway.snapshot import compile_snapshot
from tollgate.gateway.upstream import PoolRegistry
from tollgate.policies.key_limits import KeyBudgetsPolicy, KeyLimitsPolicy, KeyModels, build_key_chain
from tollgate.policies.limits import LimitExceededError
from tollgate.policies.services import PolicyServices
from tollgate.policies.windows import KeyLimits

UP = "http://127.0.0.1:9"


@dataclasses.dataclass
class SlotExchange(FakeExchange):
    """A fake exchange with the per-policy state slots the limit policies keep their tickets in."""

    slots: dict[object, object] = dataclasses.field(default_factory=dict)

    def get(self, key: object) -> object:
        return self.slots.get(key)

    def set(self, key: object, value: object) -> None:
        self.slots[key] = value


def _limited(kind: str, target: str, limits: dict[str, object]) -> object:
    _value, record = new_key(kind, target)
    return dataclasses.replace(record, limits=limits)


def test_routes_without_limited_keys_get_nothing() -> None:
    _v, plain = new_key("LLMProxy", "app")
    rate_only = _limited("LLMProxy", "rated", {"requests": [{"requests": 5, "per": 60}]})
    budget = _limited("LLMProvider", "base", {"tokens": [{"tokens": 5, "per": 60}]})
    rs = resource_set(
        [provider("base", "openai", "/base", UP)],
        [proxy("app", "base", "/app"), proxy("rated", "base", "/rated")],
        keys=[plain, rate_only, budget],  # type: ignore[list-item]
    )
    snap = compile_snapshot(rs, PoolRegistry())
    assert snap.routes["/app"].chain.is_empty  # a route whose keys carry no limits pays nothing
    (rated,) = snap.routes["/rated"].chain.policies
    assert type(rated) is KeyLimitsPolicy and not snap.routes["/rated"].chain.needs_request_body
    assert snap.routes["/rated"].chain.request_body == ()  # rate-only: no body hook at all
    (base,) = snap.routes["/base"].chain.policies
    assert type(base) is KeyBudgetsPolicy and snap.routes["/base"].chain.needs_request_body


def test_stored_limits_that_no_longer_validate_refuse_the_key(caplog: pytest.LogCaptureFixture) -> None:
    bad = _limited("LLMProvider", "base", {"requests": [{"requests": 5, "per": "fortnight-sk-secret"}]})
    rs = resource_set([provider("base", "openai", "/base", UP)], keys=[bad])  # type: ignore[list-item]
    with caplog.at_level(logging.ERROR, "tollgate.gateway"):
        snap = compile_snapshot(rs, PoolRegistry())
    assert snap.routes["/base"].auth.keys == {}
    assert "limits not built at spec.limits.requests[0].per; key refused" in caplog.text
    assert "sk-secret" not in caplog.text  # the field, never the value


async def test_each_key_counts_on_its_own() -> None:
    services = PolicyServices()
    limits = KeyLimits.model_validate({"requests": [{"requests": 2, "per": "day"}], "models": ["gpt-4o*"]})
    policy = KeyLimitsPolicy({k: build_key_chain(k, limits, services) for k in ("k1", "k2")})
    route = FakeRoute()
    for _ in range(2):
        assert await policy.on_request_headers(SlotExchange(key_id="k1", route=route)) is None  # type: ignore[arg-type]
    with pytest.raises(LimitExceededError):
        await policy.on_request_headers(SlotExchange(key_id="k1", route=route))  # type: ignore[arg-type]
    assert await policy.on_request_headers(SlotExchange(key_id="k2", route=route)) is None  # type: ignore[arg-type]
    assert await policy.on_request_headers(SlotExchange(key_id="other", route=route)) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "model", "allowed"),
    [
        ("POST", "gpt-4o", True),
        ("POST", "gpt-4o-mini-2024-07-18", True),
        ("POST", "o1", False),
        ("POST", None, False),  # a model call naming none the client API can read: fails closed
        ("GET", None, True),  # /v1/models and the like name none
    ],
)
async def test_key_model_list(method: str, model: str | None, allowed: bool) -> None:
    models = KeyModels(["gpt-4o", "gpt-4o-mini*"])
    assert models.allows(method, model) is allowed


async def test_key_model_refusal_message() -> None:
    ex = FakeExchange(facts=FakeFacts(model="o1"))
    verdict = await KeyModels(["gpt-4o"]).on_request_body(ex)  # type: ignore[arg-type]
    assert isinstance(verdict, KeyModelDeniedError)
    assert (verdict.status, verdict.code, verdict.message) == (
        403,
        "model_not_allowed",
        "This API key may not use model 'o1'.",
    )
