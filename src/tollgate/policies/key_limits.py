"""An APIKey's own limits (`spec.limits`): rate, token and cost windows and a model list, per key.

At snapshot compile each limited key's `KeyLimits` become a small compiled chain of the ordinary
limit policies (scope `key`, counters namespaced `APIKey/<key id>`, so they hold on every node that
shares Redis and never mix with a route's counters). A route whose keys carry limits gets one
`KeyLimitsPolicy` at the head of its chain: per request it costs one dict lookup by key id, and a
route without limited keys has none at all. The store is never read on the request path.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import ValidationError

from tollgate.errors import GatewayError, KeyModelDeniedError, ResourceValidationError
from tollgate.policies.attached import AttachedPolicy
from tollgate.policies.base import BodyVerdict, Policy, PolicyChain
from tollgate.policies.cost_limit import CostLimitParams, CostLimitPolicy
from tollgate.policies.env import BuildEnv
from tollgate.policies.rate_limit import RateLimitParams, RateLimitPolicy
from tollgate.policies.services import PolicyServices
from tollgate.policies.token_limit import TokenLimitParams, TokenLimitPolicy
from tollgate.policies.windows import KeyLimits
from tollgate.types import JSONObject

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = [
    "KeyBudgetsPolicy",
    "KeyLimitsPolicy",
    "KeyModels",
    "build_key_chain",
    "key_limits_policy",
    "parse_key_limits",
]

#: Methods that invoke no model: a request naming none is not refused by a key's model list.
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class KeyModels(AttachedPolicy):
    """The key's model list (exact names or `*` patterns). Fails closed like a route's allow-list: a
    model call that names no model the client API can read is refused. Phase: REQUEST_BODY."""

    name = "key-models"
    needs_request_body = True

    def __init__(self, models: list[str]) -> None:
        super().__init__()
        self._exact = frozenset(m for m in models if "*" not in m and "?" not in m)
        patterns = [fnmatch.translate(m) for m in models if "*" in m or "?" in m]
        self._pattern = re.compile("|".join(patterns)) if patterns else None

    def allows(self, method: str, model: str | None) -> bool:
        if model is None:
            return method in _READ_METHODS
        if model in self._exact:
            return True
        return self._pattern is not None and self._pattern.match(model) is not None

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        model = ex.facts.model
        if self.allows(ex.method, model):
            return None
        if model is None:
            return KeyModelDeniedError("This API key may use only its listed models, and the request names none.")
        return KeyModelDeniedError(f"This API key may not use model {model[:128]!r}.")


def parse_key_limits(label: str, raw: JSONObject) -> KeyLimits:
    """The typed limits of a stored key, or ResourceValidationError naming the field (never a value)."""
    try:
        return KeyLimits.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise ResourceValidationError(label, f"spec.limits{loc}", first["msg"].removeprefix("Value error, ")) from None


def build_key_chain(key_id: str, limits: KeyLimits, services: PolicyServices) -> PolicyChain:
    """One key's compiled chain, in the order it runs: requests (before the body is read), the model
    list (before anything is reserved), tokens, cost."""
    env = BuildEnv(f"APIKey/{key_id}", services.counters, services.cost)
    policies: list[Policy] = []
    if limits.requests:
        policies.append(RateLimitPolicy(RateLimitParams(limits=limits.requests, scope="key"), env))
    if limits.models:
        policies.append(KeyModels(limits.models))
    if limits.tokens:
        policies.append(TokenLimitPolicy(TokenLimitParams(limits=limits.tokens, scope="key"), env))
    if limits.cost:
        policies.append(CostLimitPolicy(CostLimitParams(limits=limits.cost, scope="key"), env))
    return PolicyChain.compile(tuple(policies))


class KeyLimitsPolicy(Policy):
    """Runs the presenting key's own chain; one per route that has limited keys, built per snapshot.

    Each hook is one dict lookup by key id and, for a limited key, that key's hooks of the phase.
    This variant has only the phases of request limits (REQUEST_HEADERS, RESPONSE_HEADERS): a route
    whose keys have no token or cost limit and no model list reads no body for them.
    """

    name = "key-limits"

    def __init__(self, chains: Mapping[str, PolicyChain]) -> None:
        self._chains: dict[str | None, PolicyChain] = {k: v for k, v in chains.items()}

    async def on_request_headers(self, ex: Exchange) -> GatewayError | None:
        chain = self._chains.get(ex.key_id)
        if chain is not None:
            for hook in chain.request_headers:
                verdict = await hook(ex)
                if verdict is not None:
                    return verdict
        return None

    def on_response_headers(self, ex: Exchange) -> GatewayError | None:
        chain = self._chains.get(ex.key_id)
        if chain is not None:
            for hook in chain.response_headers:
                verdict = hook(ex)
                if verdict is not None:
                    return verdict
        return None


class KeyBudgetsPolicy(KeyLimitsPolicy):
    """`KeyLimitsPolicy` with the body phases, for routes where some key counts tokens or cost or has a
    model list: REQUEST_BODY (model list, reservations) and COMPLETION (settling)."""

    needs_request_body = True

    async def on_request_body(self, ex: Exchange) -> BodyVerdict:
        chain = self._chains.get(ex.key_id)
        if chain is not None:
            for hook in chain.request_body:
                verdict = await hook(ex)
                if verdict is not None:
                    return verdict
        return None

    def on_completion(self, ex: Exchange) -> None:
        chain = self._chains.get(ex.key_id)
        if chain is not None:
            for hook in chain.completion:
                hook(ex)


def key_limits_policy(chains: Mapping[str, PolicyChain]) -> KeyLimitsPolicy | None:
    """The route's key-limits policy, or None when none of its keys is limited (then it costs nothing)."""
    if not chains:
        return None
    if any(chain.needs_request_body for chain in chains.values()):
        return KeyBudgetsPolicy(chains)
    return KeyLimitsPolicy(chains)
