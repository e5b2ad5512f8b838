"""What every guardrail shares: which side and text it checks, the invert switch, the 422 it answers,
and the incremental check of a response stream.

A guardrail module supplies a `TextRule` (is this text acceptable, and why not); `Guardrail` does the
rest. Request side: the text the JSONPath reaches in the request body, joined by newlines. Response
side: the same in a JSON response, or the text deltas of a stream. On streams the guardrail checks
each chunk as it passes, in the client API's own format, and returns it at once: it never holds a
content chunk back. A rule that can tell from a prefix that the whole answer fails (a banned pattern
appeared, a maximum was passed) ends the stream there with the client API's in-band error event,
instead of that chunk; every other verdict (minimums, JSON Schema, inverted rules, network rules) is
reached at the end of the stream. For that, the filter holds back only the stream's final event
(OpenAI's `data: [DONE]`, after which the openai SDK reads no error; Anthropic's `message_stop`), so
a refused answer ends in an error event the SDK raises instead of a normal end. Network rules (URL,
bring-your-own HTTP) set `awaits_response`: the chain awaits their verdict on a whole JSON answer
(refused with a 422 before anything is sent) and at the end of a stream (the client waits for it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import orjson
from pydantic import Field, field_validator

from tollgate.errors import GatewayError, GuardrailError
from tollgate.policies.attached import AttachedPolicy, client_api_name
from tollgate.policies.jsonpath import JSONPath, JSONPathError, texts_of
from tollgate.policies.params import PolicyParams, Side
from tollgate.policies.stream_text import StreamTextReader
from tollgate.policies.text_paths import text_paths
from tollgate.types import JSONValue

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["GuardParams", "Guardrail", "GuardrailViolation", "StreamGuard", "TextRule"]

#: Status of a guardrail refusal: the content was understood and refused.
VIOLATION_STATUS = 422


class GuardParams(PolicyParams):
    """Parameters every guardrail has."""

    side: Side = Field(default="request", description="Check the request, the response, or both.")
    path: str | None = Field(
        default=None,
        description="JSONPath to the checked text; default: the messages or answer of the client's API "
        "(e.g. $.messages[*].content for OpenAI chat requests).",
    )
    invert: bool = Field(default=False, description="Refuse what the rule accepts, and accept what it refuses.")
    message: str | None = Field(
        default=None, max_length=500, description="Shown to the client instead of the rule's own assessment."
    )

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                JSONPath(value)
            except JSONPathError as exc:
                raise ValueError(f"not a supported JSONPath: {exc}") from None
        return value


class TextRule(Protocol):
    """A compiled check of text. `evaluate` says whether the text is acceptable and describes what it saw.

    Network rules set `is_async = True` and implement `evaluate_async` instead.
    """

    def evaluate(self, text: str) -> tuple[bool, str]: ...

    def early(self, text: str, new_from: int) -> str | None:
        """For streams: a description if this prefix already guarantees the whole text fails, else None.

        `new_from` is where the text added since the last call starts (rules may rescan only near it).
        """
        ...


class GuardrailViolation(GuardrailError):
    """422: a guardrail refused the request or the response."""

    status = VIOLATION_STATUS
    code = "guardrail_violation"


class Guardrail(AttachedPolicy):
    """A rule bound to its side, text path and invert switch; built once per attachment.

    Phases: REQUEST_BODY (request side), RESPONSE_COMPLETE (a whole JSON answer) and RESPONSE_CHUNK
    (a check-only stream filter, see the module docstring).
    """

    needs_request_body = True
    buffers_response = True

    def __init__(self, name: str, params: GuardParams, rule: TextRule) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self.params = params
        self.rule = rule
        self.is_async = bool(getattr(rule, "is_async", False))
        self.awaits_response = self.is_async
        self.checks_request = params.side in ("request", "both")
        self.checks_response = params.side in ("response", "both")
        self._path = (JSONPath(params.path),) if params.path is not None else None
        unused: set[str] = set()
        if not self.checks_request:
            unused.add("on_request_body")
        if not self.checks_response:
            unused |= {"on_response_complete", "stream_filter"}
        self.unused_hooks = frozenset(unused)

    # --- texts --------------------------------------------------------------------------------------

    def request_text(self, api: str | None, body: JSONValue) -> str:
        texts: list[str] = []
        for path in self._path or text_paths(api).request:
            selected = path.select(body)  # [] at once when the body lacks the path's first field
            if selected:
                texts += texts_of(selected)
        return "\n".join(texts)

    def response_text(self, api: str | None, body: bytes) -> str:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return ""
        texts: list[str] = []
        for path in self._path or text_paths(api).response:
            selected = path.select(document)
            if selected:
                texts += texts_of(selected)
        return "\n".join(texts)

    # --- verdicts -----------------------------------------------------------------------------------

    async def assess(self, text: str, side: str) -> GuardrailViolation | None:
        """The violation for `text`, or None when it passes."""
        if self.is_async:
            ok, detail = await self.rule.evaluate_async(text)  # type: ignore[attr-defined]
        else:
            ok, detail = self.rule.evaluate(text)
        return self._verdict(ok, detail, side)

    def assess_now(self, text: str, side: str) -> GuardrailViolation | None:
        """`assess` for rules that need no I/O (every rule but the network ones)."""
        ok, detail = self.rule.evaluate(text)
        return self._verdict(ok, detail, side)

    def _verdict(self, ok: bool, detail: str, side: str) -> GuardrailViolation | None:
        if ok != self.params.invert:
            return None
        if self.params.invert:
            detail = f"inverted rule: {detail}"
        return self.violation(side, detail)

    def violation(self, side: str, detail: str) -> GuardrailViolation:
        text = self.params.message or f"Blocked by guardrail {self.name!r} on the {side}: {detail}."
        return GuardrailViolation(text, status=VIOLATION_STATUS)

    def stream_guard(self, api: str | None) -> StreamGuard:
        if self._path is not None:
            return StreamGuard(self, StreamTextReader(self._path))
        defaults = text_paths(api)
        return StreamGuard(self, StreamTextReader(defaults.stream, defaults.stream_fields))

    # --- phases -------------------------------------------------------------------------------------

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        if not self.checks_request or ex.body_obj is None or not self.applies(ex):
            return None
        return await self.assess(self.request_text(client_api_name(ex), ex.body_obj), "request")

    def on_response_complete(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
        if not self.checks_response or not 200 <= ex.status < 300 or not self.applies(ex):
            return body
        violation = self.assess_now(self.response_text(client_api_name(ex), body), "response")
        return body if violation is None else violation

    async def on_response_complete_async(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
        if not self.checks_response or not 200 <= ex.status < 300 or not self.applies(ex):
            return body
        violation = await self.assess(self.response_text(client_api_name(ex), body), "response")
        return body if violation is None else violation

    def stream_filter(self, ex: Exchange) -> GuardFilter | None:
        if not self.checks_response or not 200 <= ex.status < 300 or not self.applies(ex):
            return None
        api = client_api_name(ex)
        return GuardFilter(self, self.stream_guard(api), final_event_marker(api))


class StreamGuard:
    """One streamed response's check; `feed` each chunk, `finish` at the end."""

    __slots__ = ("_guard", "_reader", "_text", "violated")

    def __init__(self, guard: Guardrail, reader: StreamTextReader) -> None:
        self._guard = guard
        self._reader = reader
        self._text = ""
        self.violated = False

    @property
    def text(self) -> str:
        return self._text

    def feed(self, chunk: bytes) -> GuardrailViolation | None:
        """The violation this chunk completes (then stop feeding), or None."""
        new = self._reader.feed(chunk)
        if not new:
            return None
        start = len(self._text)
        self._text += new
        if self._guard.params.invert:
            return None
        detail = self._guard.rule.early(self._text, start)
        if detail is None:
            return None
        self.violated = True
        return self._guard.violation("response", detail)

    def close_text(self) -> str:
        self._text += self._reader.close()
        return self._text

    async def finish(self) -> GuardrailViolation | None:
        """The verdict on the whole streamed text."""
        if self.violated:
            return None
        return await self._guard.assess(self.close_text(), "response")


#: The start of the final event of a stream, per client API family: held back until the end-of-stream
#: verdict, so a refusal can take its place. Gemini streams have none (they just end).
_FINAL_EVENTS = {"openai": b"data: [DONE]", "anthropic": b"event: message_stop"}


def final_event_marker(api: str | None) -> bytes | None:
    family = text_paths(api)
    if family is text_paths("anthropic"):
        return _FINAL_EVENTS["anthropic"]
    if family is text_paths("openai"):
        return _FINAL_EVENTS["openai"]
    return None


class GuardFilter:
    """The stream filter of one response: passes each chunk on unchanged (the final event excepted,
    see the module docstring), raises the violation instead. `aclose` is the end for network rules."""

    __slots__ = ("_guard", "_held", "_marker", "_stream")

    def __init__(self, guard: Guardrail, stream: StreamGuard, marker: bytes | None) -> None:
        self._guard = guard
        self._stream = stream
        self._marker = marker
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return chunk
        violation = self._stream.feed(chunk)
        if violation is not None:
            raise violation
        marker = self._marker
        if marker is None:
            return chunk
        if self._held:
            chunk = self._held + chunk
            self._held = b""
        at = chunk.find(marker)
        while at > 0 and chunk[at - 1] != 0x0A:  # inside a frame (a text that quotes it): not the event
            at = chunk.find(marker, at + 1)
        if at >= 0:  # the final event and anything after it wait for the verdict
            self._held = chunk[at:]
            return chunk[:at]
        cut = chunk.rfind(b"\n") + 1
        if cut < len(chunk) and marker.startswith(chunk[cut:]):  # it may be the final event, cut short
            self._held = chunk[cut:]
            return chunk[:cut]
        return chunk

    def close(self) -> bytes:
        if not self._stream.violated:
            violation = self._guard.assess_now(self._stream.close_text(), "response")
            if violation is not None:
                raise violation
        return self._held

    async def aclose(self) -> bytes:
        if not self._stream.violated:
            violation = await self._guard.assess(self._stream.close_text(), "response")
            if violation is not None:
                raise violation
        return self._held
