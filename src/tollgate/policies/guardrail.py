"""What every guardrail shares: which side and text it checks, the invert switch, the 422 it answers,
and the incremental check of a response stream.

A guardrail module supplies a `TextRule` (is this text acceptable, and why not); `Guardrail` does the
rest. Request side: the text the JSONPath reaches in the request body, joined by newlines. Response
side: the same in a JSON response, or the text deltas of a stream. On streams the guardrail checks
each chunk as it passes, in the client API's own format, and returns it at once: it never holds a
chunk back. A rule that can tell from a prefix that the whole answer fails (a banned pattern
appeared, a maximum was passed) ends the stream there with the client API's in-band error event,
instead of that chunk; every other verdict (minimums, JSON Schema, inverted rules) is reached at
the end of the stream, before its normal end is sent, so a refused answer still ends in an error
the SDK raises. Network rules (URL, bring-your-own HTTP) judge the request before it goes upstream;
on answers (the response hooks are synchronous) their verdict comes after the answer and is logged.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger("tollgate.policies")

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
        self.checks_request = params.side in ("request", "both")
        self.checks_response = params.side in ("response", "both")
        self._path = (JSONPath(params.path),) if params.path is not None else None

    # --- texts --------------------------------------------------------------------------------------

    def request_text(self, api: str | None, body: JSONValue) -> str:
        paths = self._path or text_paths(api).request
        return "\n".join(t for p in paths for t in texts_of(p.select(body)))

    def response_text(self, api: str | None, body: bytes) -> str:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return ""
        paths = self._path or text_paths(api).response
        return "\n".join(t for p in paths for t in texts_of(p.select(document)))

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
        text = self.response_text(client_api_name(ex), body)
        if self.is_async:
            self.spawn(self._after_the_fact(ex.request_id, text))
            return body
        violation = self.assess_now(text, "response")
        return body if violation is None else violation

    def stream_filter(self, ex: Exchange) -> GuardFilter | None:
        if not self.checks_response or not 200 <= ex.status < 300 or not self.applies(ex):
            return None
        return GuardFilter(self, self.stream_guard(client_api_name(ex)), ex.request_id)

    async def _after_the_fact(self, request_id: str, text: str) -> None:
        violation = await self.assess(text, "response")
        if violation is not None:
            log.warning("request %s: %s (answer already sent)", request_id, violation.message)


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


class GuardFilter:
    """The stream filter of one response: passes each chunk on unchanged, raises the violation instead."""

    __slots__ = ("_guard", "_request_id", "_stream")

    def __init__(self, guard: Guardrail, stream: StreamGuard, request_id: str) -> None:
        self._guard = guard
        self._stream = stream
        self._request_id = request_id

    def feed(self, chunk: bytes) -> bytes:
        if chunk:
            violation = self._stream.feed(chunk)
            if violation is not None:
                raise violation
        return chunk

    def close(self) -> bytes:
        if self._stream.violated:
            return b""
        text = self._stream.close_text()
        if self._guard.is_async:
            self._guard.spawn(self._guard._after_the_fact(self._request_id, text))
            return b""
        violation = self._guard.assess_now(text, "response")
        if violation is not None:
            raise violation
        return b""
