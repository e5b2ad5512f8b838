"""Builds the policies attached to a provider or proxy (`spec.policies`) into compiled policies.

Called by the snapshot compiler only, which also decides the chain's order (the provider's
policies, the baseline, then the proxy's). Params were validated at apply; they are validated again
here (documents may come from an older version), and a policy that cannot be built is an error the
compiler reports for its route.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tollgate.errors import ResourceValidationError
from tollgate.policies.access_control import path_regex
from tollgate.policies.attached import AttachedPolicy, PathScope
from tollgate.policies.base import Policy
from tollgate.policies.env import BuildEnv
from tollgate.policies.registry import BUILTIN_POLICIES, validate_params
from tollgate.policies.services import PolicyServices
from tollgate.resources.models import PolicyRef

if TYPE_CHECKING:
    from tollgate.gateway.targets import Target

__all__ = ["build_policies"]


def build_policies(
    kind: str, name: str, refs: list[PolicyRef], services: PolicyServices, targets: Mapping[str, Target] | None = None
) -> tuple[Policy, ...]:
    """The compiled policies of one document, in list order; ResourceValidationError for a bad one.

    `targets` (provider name -> upstream target, filled by the snapshot compiler) is handed to policies
    that call a provider themselves.

    Each is built with the owner `Kind/name#index`, the namespace of its counters: a provider's
    limits are one set of counters, whichever of its proxies (or the provider itself) is called.
    """
    document = f"{kind}/{name}"
    out: list[Policy] = []
    for i, ref in enumerate(refs):
        where = f"spec.policies[{i}]"
        params = validate_params(document, where, ref.name, ref.params)  # type: ignore[arg-type]
        shared = {} if targets is None else targets
        env = BuildEnv(f"{document}#{i}", services.counters, services.cost, services.redis, shared, services.kept)
        policy = BUILTIN_POLICIES[ref.name].build(params, env)
        if not isinstance(policy, AttachedPolicy):
            raise ResourceValidationError(document, where, f"policy {ref.name!r} did not build")
        if ref.paths:
            policy.scope = PathScope([(path_regex(p.path), frozenset(p.methods)) for p in ref.paths])
        out.append(policy)
    return tuple(out)
