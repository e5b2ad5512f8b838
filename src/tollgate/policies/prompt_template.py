"""`prompt-template`: named prompts with `{{variables}}`, chosen by the request.

A request names a template and its variables in a body field the SDKs let through (`extra_body`):
`"prompt_template": {"name": "summarize", "variables": {"text": "..."}}`. The gateway removes the
field and adds the template's messages (and system prompt) in the client API's shape. A missing
variable, an unknown template, or (with `allowUntemplated: false`) a request without one, is a 400
naming the problem. Templates are parsed when built; rendering is string substitution, no code.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

import orjson
from pydantic import Field, model_validator

from tollgate.errors import BadRequestError, GatewayError
from tollgate.policies.attached import AttachedPolicy, client_api_name
from tollgate.policies.env import BuildEnv
from tollgate.policies.messages import Message, add_messages, add_system
from tollgate.policies.params import PolicyParams
from tollgate.types import JSONObject

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "PromptTemplateParams", "PromptTemplates", "build"]

NAME = "prompt-template"
DESCRIPTION = "Named prompt templates with {{variables}}, chosen by the request's prompt_template field."

#: The request body field naming the template.
REQUEST_FIELD = "prompt_template"
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class TemplateMessage(PolicyParams):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1, max_length=100_000)


class Template(PolicyParams):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="What requests call it.")
    messages: list[TemplateMessage] = Field(min_length=1, max_length=100, description="Messages with {{variables}}.")
    defaults: dict[str, str] = Field(default_factory=dict, description="Values of variables a request may omit.")


class PromptTemplateParams(PolicyParams):
    templates: list[Template] = Field(min_length=1, max_length=200, description="The named templates.")
    allow_untemplated: bool = Field(default=True, description="Let requests without prompt_template through.")
    max_variable_length: int = Field(default=100_000, ge=1, le=10_000_000, description="Longest variable value.")

    @model_validator(mode="after")
    def _unique(self) -> PromptTemplateParams:
        names = [t.name for t in self.templates]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"templates: the name {name!r} is used twice")
        return self


class _Compiled:
    __slots__ = ("defaults", "messages", "variables")

    def __init__(self, template: Template) -> None:
        self.messages = [(m.role, m.content) for m in template.messages]
        self.defaults = dict(template.defaults)
        self.variables = {v for _, text in self.messages for v in _VARIABLE.findall(text)}


class PromptTemplates(AttachedPolicy):
    """Phase: REQUEST_BODY (render the named template into the body, or 400)."""

    name = NAME
    needs_request_body = True

    def __init__(self, params: PromptTemplateParams) -> None:
        super().__init__()
        self._templates = {t.name: _Compiled(t) for t in params.templates}
        self._allow_plain = params.allow_untemplated
        self._max = params.max_variable_length

    def apply(self, api: str | None, body: JSONObject) -> bool:
        """Render the template the body names into it (in place); False when it names none."""
        ref = body.pop(REQUEST_FIELD, None)
        if ref is None:
            if not self._allow_plain:
                raise BadRequestError(f"This API only accepts requests that name a {REQUEST_FIELD}.")
            return False
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            raise BadRequestError(f"{REQUEST_FIELD} must be an object with a 'name'.")
        template = self._templates.get(str(ref["name"]))
        if template is None:
            raise BadRequestError(f"{REQUEST_FIELD}.name: no template named {str(ref['name'])[:64]!r}.")
        given = ref.get("variables") or {}
        if not isinstance(given, dict):
            raise BadRequestError(f"{REQUEST_FIELD}.variables must be an object of strings.")
        values = dict(template.defaults)
        for key, value in given.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise BadRequestError(f"{REQUEST_FIELD}.variables.{key[:64]} must be a string.")
            text = str(value)
            if len(text) > self._max:
                raise BadRequestError(f"{REQUEST_FIELD}.variables.{key[:64]} is longer than {self._max} characters.")
            values[key] = text
        missing = sorted(template.variables - values.keys())
        if missing:
            raise BadRequestError(f"{REQUEST_FIELD}.variables: missing {', '.join(missing)}.")
        rendered: list[Message] = [
            (role, _VARIABLE.sub(lambda m: values[m.group(1)], text)) for role, text in template.messages
        ]
        for role, text in rendered:
            if role == "system":
                add_system(api, body, text, "prepend")
        add_messages(api, body, [m for m in rendered if m[0] != "system"], at_start=False)
        return True

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        if ex.body_obj is None or not self.applies(ex):
            return None
        if self.apply(client_api_name(ex), ex.body_obj):
            ex.body = orjson.dumps(ex.body_obj)
        return None


def build(params: PromptTemplateParams, env: BuildEnv) -> PromptTemplates:
    return PromptTemplates(params)
