"""What every guardrail shares: which side and text it checks, the invert switch, the 422 it answers,
and the incremental check of a response stream.

A guardrail module supplies a `TextRule` (is this text acceptable, and why not); `Guardrail` does the
rest. Request side: the text the JSONPath reaches in the request body, joined by newlines. Response
side: the same in a JSON response, or the text deltas of a stream, read as they pass: a rule that
can tell from a prefix that the whole answer fails (a banned pattern appeared, a maximum was passed)
cuts the stream at once; every other verdict waits for the end of the stream. A stream reader never
holds a chunk back, so the chunk that broke a rule has already been sent; the in-band error event
that follows makes the client's SDK raise.
"""

from __future__ import annotations

from typing import Protocol

import orjson
from pydantic import Field, field_validator

from tollgate.errors import GuardrailError
from tollgate.policies.jsonpath import JSONPath, JSONPathError, texts_of
from tollgate.policies.params import PolicyParams, Side
from tollgate.policies.stream_text import StreamTextReader
from tollgate.policies.text_paths import text_paths
from tollgate.types import JSONValue

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
    """A compiled check of text. `evaluate` says whether the text is acceptable and describes what it saw."""

    async def evaluate(self, text: str) -> tuple[bool, str]: ...

    def early(self, text: str, new_from: int) -> str | None:
        """For streams: a description if this prefix already guarantees the whole text fails, else None.

        `new_from` is where the text added since the last call starts (rules may rescan only near it).
        """
        ...


class GuardrailViolation(GuardrailError):
    """422: a guardrail refused the request or the response."""

    status = VIOLATION_STATUS
    code = "guardrail_violation"


class Guardrail:
    """A rule bound to its side, text path and invert switch; built once per attachment."""

    def __init__(self, name: str, params: GuardParams, rule: TextRule) -> None:
        self.name = name
        self.params = params
        self.rule = rule
        self.checks_request = params.side in ("request", "both")
        self.checks_response = params.side in ("response", "both")
        self._path = (JSONPath(params.path),) if params.path is not None else None

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

    async def assess(self, text: str, side: str) -> GuardrailViolation | None:
        """The violation for `text`, or None when it passes."""
        ok, detail = await self.rule.evaluate(text)
        if ok != self.params.invert:
            return None
        if self.params.invert:
            detail = f"inverted rule: {detail}"
        return self.violation(side, detail)

    def violation(self, side: str, detail: str) -> GuardrailViolation:
        text = self.params.message or f"Blocked by guardrail {self.name!r} on the {side}: {detail}."
        return GuardrailViolation(text, status=VIOLATION_STATUS)

    def stream_guard(self, api: str | None) -> StreamGuard:
        paths = self._path or text_paths(api).stream
        return StreamGuard(self, StreamTextReader(paths))


class StreamGuard:
    """One streamed response's check; `feed` after each chunk was sent, `finish` at the end."""

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
        if not new or self._guard.params.invert:
            return None
        start = len(self._text)
        self._text += new
        detail = self._guard.rule.early(self._text, start)
        if detail is None:
            return None
        self.violated = True
        return self._guard.violation("response", detail)

    async def finish(self) -> GuardrailViolation | None:
        """The verdict on the whole streamed text."""
        if self.violated:
            return None
        self._text += self._reader.close()
        return await self._guard.assess(self._text, "response")
