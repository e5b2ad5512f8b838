"""`response-cache` params: validation names the field; the chain runs its final-body hook last."""

from __future__ import annotations

import pytest

from tollgate.errors import GatewayError, ResourceValidationError
from tollgate.gateway.exchange import Exchange
from tollgate.policies.base import Policy, PolicyChain
from tollgate.policies.env import BuildEnv
from tollgate.policies.registry import validate_params
from tollgate.policies.response_cache import ResponseCache, ResponseCacheParams


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"ttl": "forever"}, "params.ttl", "is not a duration"),
        ({"store": "disk"}, "params.store", "'auto', 'memory' or 'redis'"),
        ({"maxEntries": 0}, "params.maxEntries", "greater than or equal to 1"),
        ({"semantic": {"provider": "e", "model": "m", "threshold": 1.5}}, "params.semantic.threshold", "less than"),
        ({"semantic": {"model": "m"}}, "params.semantic.provider", "Field required"),
    ],
)
def test_bad_params_name_the_field(params: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ResourceValidationError) as info:
        validate_params("LLMProxy/p", "spec.policies[0]", "response-cache", params)  # type: ignore[arg-type]
    assert field in str(info.value) and message in str(info.value)


def test_defaults() -> None:
    params = validate_params("LLMProxy/p", "spec.policies[0]", "response-cache", {})
    assert isinstance(params, ResponseCacheParams)
    assert (params.ttl, params.store, params.max_entries, params.max_entry_bytes) == (300, "auto", 1000, 1 << 20)
    assert params.endpoints == ["chat", "messages", "generate_content", "embeddings"]


class Rewriter(Policy):
    buffers_response = True

    def on_response_complete(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
        return body.upper()


def test_the_cache_reads_the_final_body_whatever_its_place() -> None:
    cache = ResponseCache(ResponseCacheParams(), BuildEnv("LLMProxy/p#1"))
    rewriter = Rewriter()
    for order in ((cache, rewriter), (rewriter, cache)):
        chain = PolicyChain.compile(order)
        assert chain.response_complete[-1] == cache.on_response_complete
        assert chain.request_body == (cache.on_request_body,)
