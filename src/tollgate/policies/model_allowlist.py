"""`model-allowlist`: the request models an API accepts (exact names or `*` patterns). Others get a 400.

A request that names no model (paths that carry none, such as /v1/models) is not refused.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from pydantic import Field

from tollgate.errors import GatewayError, ModelNotAllowedError
from tollgate.policies.attached import AttachedPolicy
from tollgate.policies.env import BuildEnv
from tollgate.policies.params import PolicyParams

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "ModelAllowlist", "ModelAllowlistParams", "build"]

NAME = "model-allowlist"
DESCRIPTION = "Accept only the listed request models (exact names or * patterns)."


class ModelAllowlistParams(PolicyParams):
    models: list[str] = Field(min_length=1, max_length=1000, description="Model names or patterns like 'gpt-4o*'.")


class ModelAllowlist(AttachedPolicy):
    """Phase: REQUEST_BODY (the request facts name the model)."""

    name = NAME

    def __init__(self, params: ModelAllowlistParams) -> None:
        super().__init__()
        self._exact = frozenset(m for m in params.models if "*" not in m and "?" not in m)
        patterns = [fnmatch.translate(m) for m in params.models if "*" in m or "?" in m]
        self._pattern = re.compile("|".join(patterns)) if patterns else None

    def allows(self, model: str | None) -> bool:
        if model is None or model in self._exact:
            return True
        return self._pattern is not None and self._pattern.match(model) is not None

    def check(self, model: str | None) -> None:
        if not self.allows(model):
            raise ModelNotAllowedError(f"Model {str(model)[:128]!r} is not allowed on this API.")

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        if self.applies(ex):
            self.check(ex.facts.model)
        return None


def build(params: ModelAllowlistParams, env: BuildEnv) -> ModelAllowlist:
    return ModelAllowlist(params)
