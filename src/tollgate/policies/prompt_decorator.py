"""`prompt-decorator`: add a system prompt and fixed messages to every request, in its client API's shape.

Runs in the request-body phase, after guardrails that check what the client sent (list order
decides: put it after them). The body is decoded once by the pipeline and re-encoded once here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import orjson
from pydantic import Field, model_validator

from tollgate.errors import GatewayError
from tollgate.policies.attached import AttachedPolicy, client_api_name
from tollgate.policies.env import BuildEnv
from tollgate.policies.messages import Message, SystemMode, add_messages, add_system
from tollgate.policies.params import PolicyParams
from tollgate.types import JSONObject

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "PromptDecorator", "PromptDecoratorParams", "build"]

NAME = "prompt-decorator"
DESCRIPTION = "Prepend or append a system prompt and messages to every request, per client API."


class DecoratorMessage(PolicyParams):
    role: Literal["system", "user", "assistant"] = Field(description="Who says it.")
    content: str = Field(min_length=1, max_length=100_000, description="The text.")


class PromptDecoratorParams(PolicyParams):
    system: str | None = Field(default=None, min_length=1, max_length=100_000, description="System prompt text.")
    system_mode: SystemMode = Field(
        default="prepend", description="Put `system` before, after or instead of the client's system prompt."
    )
    prepend: list[DecoratorMessage] = Field(default_factory=list, max_length=100, description="Messages put first.")
    append: list[DecoratorMessage] = Field(default_factory=list, max_length=100, description="Messages put last.")

    @model_validator(mode="after")
    def _something(self) -> PromptDecoratorParams:
        if self.system is None and not self.prepend and not self.append:
            raise ValueError("give at least one of system, prepend or append")
        return self


class PromptDecorator(AttachedPolicy):
    """Phase: REQUEST_BODY (decorate, re-encode the body once)."""

    name = NAME
    needs_request_body = True

    def __init__(self, params: PromptDecoratorParams) -> None:
        super().__init__()
        self._system = params.system
        self._mode = params.system_mode
        self._prepend: list[Message] = [(m.role, m.content) for m in params.prepend]
        self._append: list[Message] = [(m.role, m.content) for m in params.append]

    def decorate(self, api: str | None, body: JSONObject) -> None:
        """Change `body` in place."""
        if self._prepend:
            add_messages(api, body, self._prepend, at_start=True)
        if self._append:
            add_messages(api, body, self._append, at_start=False)
        if self._system is not None:
            add_system(api, body, self._system, self._mode)

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        if ex.body_obj is None or not self.applies(ex):
            return None
        self.decorate(client_api_name(ex), ex.body_obj)
        ex.body = orjson.dumps(ex.body_obj)
        return None


def build(params: PromptDecoratorParams, env: BuildEnv) -> PromptDecorator:
    return PromptDecorator(params)
