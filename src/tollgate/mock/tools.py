"""Deterministic tool use and image reading for the mock vendors; each vendor module renders it in
its own wire format.

Rules (the same for every vendor, so a test can predict the answer through any translation):
- When the request offers tools, tool choice is not "none", and the last turn is the user's own
  message (not tool results), the mock calls tools instead of answering: the forced tool, else the
  first `[mock:tool-calls=N]` tools (default one). Arguments come from the tool's JSON Schema:
  every property gets a value, strings the user's text (without directives), so they are long
  enough to be streamed in many deltas.
- When the last turn carries tool results, the answer is `Tool results: <r1> | <r2>`.
- Images in the last user turn are described after the answer: ` [images: image/png 68 bytes,
  https://…]`, after the mock checked them as the vendor does (a bad one is a 400).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from dataclasses import dataclass

import orjson

from tollgate.mock.behaviour import directives
from tollgate.mock.text import strip_directives
from tollgate.types import JSONObject, JSONValue

__all__ = [
    "MockToolCall",
    "ToolDecl",
    "arguments_for",
    "decode_image",
    "describe_images",
    "new_id",
    "plan_calls",
    "split_arguments",
    "tool_results_text",
]

#: characters per streamed argument delta (OpenAI and Anthropic send a few characters at a time)
ARGUMENT_PIECE = 5
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class ToolDecl:
    """A tool the request offers: its name and the JSON Schema of its arguments."""

    name: str
    schema: JSONObject


@dataclass(frozen=True, slots=True)
class MockToolCall:
    """A call the mock makes: id, tool name, and the arguments as JSON text."""

    id: str
    name: str
    arguments: str

    @property
    def args(self) -> JSONObject:
        value = orjson.loads(self.arguments)
        return value if isinstance(value, dict) else {}


def new_id(prefix: str, size: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(size))


def _value(schema: JSONValue, name: str, text: str) -> JSONValue:
    if not isinstance(schema, dict):
        return text
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    kind = str(kind).lower() if kind is not None else "string"
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(schema.get("items"), name, text)]
    if kind == "object":
        return arguments_for(schema, text)
    return text


def arguments_for(schema: JSONObject, text: str) -> JSONObject:
    """Arguments with a value for every property of `schema` (strings get `text`)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {name: _value(spec, name, text) for name, spec in properties.items()}


def plan_calls(
    tools: list[ToolDecl], forced: str | None, prompt: str, id_of: str, *, id_size: int = 24
) -> list[MockToolCall]:
    """The calls to make for a user turn `prompt` (see the module rules); `id_of` prefixes the ids."""
    if not tools:
        return []
    wanted = directives(prompt).get("tool-calls")
    count = int(wanted) if isinstance(wanted, str) and wanted.isdigit() else 1
    chosen = [t for t in tools if t.name == forced] if forced else tools[: max(1, count)]
    text = strip_directives(prompt) or "mock"
    return [
        MockToolCall(new_id(id_of, id_size), tool.name, orjson.dumps(arguments_for(tool.schema, text)).decode())
        for tool in chosen
    ]


def split_arguments(arguments: str, size: int = ARGUMENT_PIECE) -> list[str]:
    """Argument JSON cut into the small pieces a streamed tool call sends."""
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def tool_results_text(results: list[str]) -> str:
    return "Tool results: " + " | ".join(results)


def decode_image(data: JSONValue) -> int | None:
    """Byte size of base64 image data, or None when it is not valid base64."""
    if not isinstance(data, str) or not data:
        return None
    try:
        return len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return None


def describe_images(images: list[str]) -> str:
    """The suffix the answer gets for the images it was shown ("" for none)."""
    return f" [images: {', '.join(images)}]" if images else ""
