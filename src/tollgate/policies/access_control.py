"""`access-control`: which vendor paths and methods a provider or proxy exposes.

`default: allow` exposes everything except the listed rules; `default: deny` exposes only them. A
rule is a path pattern below the context (`*` matches within one segment, `**` across segments) and
optional methods. Checked in the request-header phase, before the body is read; a refusal is 403.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from tollgate.errors import GatewayError, PermissionDeniedError
from tollgate.policies.attached import AttachedPolicy
from tollgate.policies.env import BuildEnv
from tollgate.policies.params import PolicyParams

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "AccessControl", "AccessControlParams", "build"]

NAME = "access-control"
DESCRIPTION = "Expose vendor paths and methods: allow all with exceptions, or deny all with exceptions."

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def path_regex(pattern: str) -> re.Pattern[str]:
    """`/v1/*/completions` or `/v1/**` as a compiled regex anchored at both ends."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"/?\Z")


class PathRule(PolicyParams):
    path: str = Field(min_length=1, max_length=512, description="Path below the context; * one segment, ** any.")
    methods: list[Method] = Field(default_factory=list, description="Methods the rule covers; empty = all.")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


class AccessControlParams(PolicyParams):
    default: Literal["allow", "deny"] = Field(description="What paths not matched by a rule get.")
    exceptions: list[PathRule] = Field(default_factory=list, max_length=200, description="Paths that get the opposite.")


class AccessControl(AttachedPolicy):
    """Phase: REQUEST_HEADERS (403 before any body byte is read)."""

    name = NAME

    def __init__(self, params: AccessControlParams) -> None:
        super().__init__()
        self._allow_default = params.default == "allow"
        self._rules = tuple((path_regex(r.path), frozenset(r.methods)) for r in params.exceptions)

    def allows(self, method: str, path: str) -> bool:
        for regex, methods in self._rules:
            if (not methods or method in methods) and regex.match(path):
                return not self._allow_default
        return self._allow_default

    def check(self, method: str, path: str) -> None:
        """Raise PermissionDeniedError (403) when `method path` is not exposed."""
        if not self.allows(method, path):
            raise PermissionDeniedError(f"{method} {path[:200]} is not exposed on this API.")

    async def on_request_headers(self, ex: Exchange) -> GatewayError | None:
        route = ex.route
        path = (ex.path[len(route.context) :] if route is not None else ex.path) or "/"
        if not self.applies(ex):
            return None
        self.check(ex.method, path)
        return None


def build(params: AccessControlParams, env: BuildEnv) -> AccessControl:
    return AccessControl(params)
