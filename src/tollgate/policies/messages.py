"""Adding system text and messages to a request body in each client API's own shape.

OpenAI chat (and Mistral, Azure): `messages` with a `system` role. OpenAI Responses: `instructions`
and `input`. Anthropic: a top-level `system` (string or blocks), `messages` of user/assistant.
Gemini: `systemInstruction.parts` and `contents` of user/model with `parts`. Bodies are changed in
place; the caller re-encodes them once.
"""

from __future__ import annotations

from typing import Literal

from tollgate.types import JSONObject, JSONValue

__all__ = ["Message", "SystemMode", "add_messages", "add_system"]

SystemMode = Literal["prepend", "append", "replace"]
Message = tuple[str, str]  # (role: system | user | assistant, text)


def _join(old: str, new: str, mode: SystemMode) -> str:
    if mode == "replace" or not old:
        return new
    return f"{new}\n\n{old}" if mode == "prepend" else f"{old}\n\n{new}"


def _text_of(value: JSONValue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text_of(v) for v in value)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return str(value["text"])
    return ""


def add_system(api: str | None, body: JSONObject, text: str, mode: SystemMode) -> None:
    """Put `text` into the request's system prompt (before, after or instead of the client's)."""
    if api == "anthropic":
        body["system"] = _join(_text_of(body.get("system")), text, mode)
        return
    if api == "gemini":
        old = body.get("systemInstruction", body.get("system_instruction"))
        body.pop("system_instruction", None)
        body["systemInstruction"] = {"parts": [{"text": _join(_text_of(_parts(old)), text, mode)}]}
        return
    if "messages" not in body and "input" in body:  # OpenAI Responses API
        old_instructions = body.get("instructions")
        body["instructions"] = _join(old_instructions if isinstance(old_instructions, str) else "", text, mode)
        return
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = []
        body["messages"] = messages
    systems = [m for m in messages if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    if systems and mode != "replace":
        first = systems[0]
        first["content"] = _join(_text_of(first.get("content")), text, mode)
        return
    if mode == "replace":
        messages[:] = [m for m in messages if not (isinstance(m, dict) and m.get("role") in ("system", "developer"))]
    messages.insert(0, {"role": "system", "content": text})


def _parts(value: JSONValue) -> JSONValue:
    return value.get("parts") if isinstance(value, dict) else value


def add_messages(api: str | None, body: JSONObject, messages: list[Message], at_start: bool) -> None:
    """Insert conversation messages at the start or the end; system messages go to the system prompt."""
    turns = [(r, t) for r, t in messages if r != "system"]
    for role, text in messages:
        if role == "system":
            add_system(api, body, text, "prepend" if at_start else "append")
    if not turns:
        return
    if api == "gemini":
        contents = body.get("contents")
        if not isinstance(contents, list):
            contents = []
            body["contents"] = contents
        new: list[JSONValue] = [
            {"role": "model" if r == "assistant" else "user", "parts": [{"text": t}]} for r, t in turns
        ]
        contents[:] = [*new, *contents] if at_start else [*contents, *new]
        return
    key = "messages"
    if api != "anthropic" and "messages" not in body and "input" in body:  # OpenAI Responses API
        key = "input"
        if isinstance(body["input"], str):
            body["input"] = [{"role": "user", "content": body["input"]}]
    target = body.get(key)
    if not isinstance(target, list):
        target = []
        body[key] = target
    added: list[JSONValue] = [{"role": r, "content": t} for r, t in turns]
    if at_start:
        # after any leading system messages (OpenAI chat keeps them first)
        lead = 0
        while lead < len(target) and isinstance(target[lead], dict) and target[lead].get("role") == "system":  # type: ignore[union-attr]
            lead += 1
        target[lead:lead] = added
    else:
        target.extend(added)
