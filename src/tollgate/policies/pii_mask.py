"""`pii-masking`: hide personal data from the vendor.

`mode: mask` replaces each value found in the request text by a placeholder (`[PII_EMAIL_1]`; the
same value gets the same placeholder) and puts the values back into the answer, JSON or stream; on
streams a placeholder cut across two events is held back (at most its own length, never a whole
chunk of other text) until it is complete. `mode: redact` replaces values for good
(`[REDACTED_EMAIL]`): in the request, and in the response when `side` includes it (on streams, per
event: a value cut across two events is not recognised). Detectors are regular expressions compiled
once; credit card numbers must also pass the Luhn check.

Restoring rewrites the stream (each event that carries text is decoded and re-encoded); masking
costs one pass over the request text per detector.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import orjson
from pydantic import Field, field_validator

from tollgate.errors import GatewayError
from tollgate.gateway.exchange import ExchangeKey
from tollgate.policies.attached import AttachedPolicy, client_api_name
from tollgate.policies.env import BuildEnv
from tollgate.policies.jsonpath import JSONPath
from tollgate.policies.params import PolicyParams, Side
from tollgate.policies.stream_text import frame_json
from tollgate.policies.text_paths import text_paths
from tollgate.sse import SSEFrameSplitter
from tollgate.types import JSONValue

if TYPE_CHECKING:
    from tollgate.gateway.exchange import Exchange

__all__ = ["NAME", "PIIMaskParams", "PIIMasker", "StreamRestorer", "build"]

NAME = "pii-masking"
DESCRIPTION = "Mask personal data in requests (placeholders restored in the answer, streams included) or redact it."

Entity = Literal["email", "phone", "credit-card", "ipv4", "ssn", "iban"]

_DETECTORS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "credit-card": r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])",
    "ssn": r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])",
    "iban": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
    "phone": r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?![\w])",
    "ipv4": r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])",
}
#: Order of detection: the most specific first, so a card number is not taken for a phone number.
_ORDER: tuple[str, ...] = ("email", "credit-card", "ssn", "iban", "phone", "ipv4")
_ALL_ENTITIES: tuple[Entity, ...] = ("email", "phone", "credit-card", "ssn", "iban", "ipv4")
_PARTIAL = re.compile(r"\[(?:P(?:I(?:I(?:_[A-Z0-9_]*)?)?)?)?")
_PLACEHOLDER = re.compile(r"\[PII_[A-Z0-9_]+?_\d+\]")
_MAX_PLACEHOLDER = 48


class CustomDetector(PolicyParams):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$", description="Label in placeholders, e.g. EMPLOYEE_ID.")
    pattern: str = Field(min_length=1, description="Python regular expression of the value.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class PIIMaskParams(PolicyParams):
    mode: Literal["mask", "redact"] = Field(
        default="mask", description="'mask': placeholders restored in the answer; 'redact': replaced for good."
    )
    entities: list[Entity] = Field(
        default_factory=lambda: list(_ALL_ENTITIES),
        description="Built-in detectors to use.",
    )
    custom: list[CustomDetector] = Field(default_factory=list, max_length=50, description="Extra detectors.")
    side: Side = Field(default="request", description="redact mode: which side is redacted.")
    path: str | None = Field(default=None, description="JSONPath to the request text; default per client API.")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


class PIIMasker(AttachedPolicy):
    """The compiled detectors of one attachment; shared by every request (the map is per request).

    Phases: REQUEST_BODY (mask or redact, re-encode the body), RESPONSE_COMPLETE (restore a JSON
    answer), RESPONSE_CHUNK (a filter restoring a stream; redact mode: redacting it).
    """

    name = NAME
    needs_request_body = True
    buffers_response = True

    def __init__(self, params: PIIMaskParams, owner: str = "pii") -> None:
        super().__init__()
        self.params = params
        self._mapping: ExchangeKey[dict[str, str]] = ExchangeKey(owner)
        detectors = [(e.upper().replace("-", "_"), _DETECTORS[e]) for e in _ORDER if e in params.entities]
        detectors += [(c.name.upper(), c.pattern) for c in params.custom]
        self._labels = [label for label, _ in detectors]
        self._regex = re.compile("|".join(f"(?P<g{i}>{p})" for i, (_, p) in enumerate(detectors)))
        self._path = JSONPath(params.path) if params.path is not None else None
        self.restores = params.mode == "mask"
        self.redacts_response = params.mode == "redact" and params.side in ("response", "both")
        self.redacts_request = params.mode == "mask" or params.side in ("request", "both")

    def _label(self, match: re.Match[str]) -> str | None:
        group = match.lastgroup
        assert group is not None
        label = self._labels[int(group[1:])]
        if label == "CREDIT_CARD" and not _luhn(re.sub(r"\D", "", match.group(0))):
            return None
        return label

    def replacer(self, mapping: dict[str, str]) -> Callable[[str], str]:
        """A text rewriter that fills `mapping` (placeholder -> value), or redacts when not masking."""
        by_value: dict[str, str] = {}
        counts: dict[str, int] = {}
        masking = self.restores

        def replace(match: re.Match[str]) -> str:
            label = self._label(match)
            if label is None:
                return match.group(0)
            if not masking:
                return f"[REDACTED_{label}]"
            value = match.group(0)
            placeholder = by_value.get(value)
            if placeholder is None:
                counts[label] = counts.get(label, 0) + 1
                placeholder = f"[PII_{label}_{counts[label]}]"
                by_value[value] = placeholder
                mapping[placeholder] = value
            return placeholder

        return lambda text: self._regex.sub(replace, text)

    def mask_request(self, api: str | None, body: JSONValue) -> dict[str, str] | None:
        """Rewrite the request's text in place; the placeholder map (empty when redacting), or None if
        nothing was found."""
        if not self.redacts_request:
            return None
        mapping: dict[str, str] = {}
        change = self.replacer(mapping)
        paths = (self._path,) if self._path is not None else text_paths(api).request
        changed = False
        for path in paths:
            changed = path.rewrite(body, change) or changed
        return mapping if changed else None

    def redact_text(self, text: str) -> str:
        return self.replacer({})(text)

    async def on_request_body(self, ex: Exchange) -> GatewayError | None:
        if ex.body_obj is None or not self.applies(ex):
            return None
        mapping = self.mask_request(client_api_name(ex), ex.body_obj)
        if mapping is not None:
            ex.body = orjson.dumps(ex.body_obj)
            if mapping:
                ex.set(self._mapping, mapping)
        return None

    def on_response_complete(self, ex: Exchange, body: bytes) -> bytes | GatewayError:
        mapping = ex.get(self._mapping)
        if mapping is not None:
            return restore_body(body, mapping)
        if self.redacts_response and 200 <= ex.status < 300 and self.applies(ex):
            return self._redact_body(client_api_name(ex), body)
        return body

    def stream_filter(self, ex: Exchange) -> StreamRestorer | StreamRedactor | None:
        mapping = ex.get(self._mapping)
        if mapping is not None:
            return StreamRestorer(mapping, text_paths(client_api_name(ex)).stream)
        if self.redacts_response and self.applies(ex):
            return StreamRedactor(self.redact_text, text_paths(client_api_name(ex)).stream)
        return None

    def _redact_body(self, api: str | None, body: bytes) -> bytes:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        changed = False
        for path in text_paths(api).response:
            changed = path.rewrite(document, self.redact_text) or changed
        return orjson.dumps(document) if changed else body


class StreamRedactor:
    """Redacts each text event of a stream (a value cut across two events is not recognised)."""

    __slots__ = ("_paths", "_redact", "_splitter")

    def __init__(self, redact: Callable[[str], str], paths: tuple[JSONPath, ...]) -> None:
        self._redact = redact
        self._paths = paths
        self._splitter = SSEFrameSplitter()

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._frame(f) for f in self._splitter.feed(chunk))

    def close(self) -> bytes:
        tail = self._splitter.close()
        return self._frame(tail) if tail else b""

    def _frame(self, frame: bytes) -> bytes:
        document = frame_json(frame)
        if document is None:
            return frame
        changed = False
        for path in self._paths:
            changed = path.rewrite(document, self._redact) or changed
        return _with_data(frame, document) if changed else frame


def restore_body(body: bytes, mapping: dict[str, str]) -> bytes:
    """Put the values back into a whole JSON body: JSON-escaped, wherever the placeholders are."""
    if b"[PII_" not in body:
        return body
    escaped = {k.encode(): orjson.dumps(v)[1:-1] for k, v in mapping.items()}
    return re.sub(rb"\[PII_[A-Z0-9_]+?_\d+\]", lambda m: escaped.get(m.group(0), m.group(0)), body)


class StreamRestorer:
    """Restores placeholders in one streamed answer; one per response, not thread-safe.

    Events without a `[` (or while nothing is held back) pass through as they are; an event whose text
    ends in what may be the start of a placeholder sends the text before it and holds that start back
    (at most 48 characters) until the next text event completes it. At a non-text event or the end of
    the stream, held text is sent in a copy of the last text event.
    """

    __slots__ = ("_last", "_mapping", "_paths", "_pending", "_splitter")

    def __init__(self, mapping: dict[str, str], paths: tuple[JSONPath, ...]) -> None:
        self._mapping = mapping
        self._paths = paths
        self._splitter = SSEFrameSplitter()
        self._pending = ""
        self._last: tuple[bytes, JSONValue] | None = None  # the last text event: raw frame, decoded data

    def feed(self, chunk: bytes) -> bytes:
        frames = self._splitter.feed(chunk)
        if not frames:
            return b""
        return b"".join(self._frame(f) for f in frames)

    def close(self) -> bytes:
        tail = self._splitter.close()
        out = self._frame(tail) if tail else b""
        return out + self._flush()

    def _restore(self, text: str) -> str:
        text = self._pending + text
        self._pending = ""
        text = _PLACEHOLDER.sub(lambda m: self._mapping.get(m.group(0), m.group(0)), text)
        cut = text.rfind("[")
        if cut >= 0 and len(text) - cut <= _MAX_PLACEHOLDER and _PARTIAL.fullmatch(text, cut):
            self._pending = text[cut:]
            text = text[:cut]
        return text

    def _frame(self, frame: bytes) -> bytes:
        if b"[" not in frame and not self._pending:
            return frame
        document = frame_json(frame)
        if document is None:
            return self._flush() + frame
        parents = [slot for path in self._paths for slot in path.select_parents(document)]
        if not any(isinstance(c[k], str) for c, k in parents):  # type: ignore[index]
            return self._flush() + frame
        for path in self._paths:
            path.rewrite(document, self._restore)
        self._last = (frame, document)
        return _with_data(frame, document)

    def _flush(self) -> bytes:
        if not self._pending or self._last is None:
            return b""
        frame, document = self._last
        held = self._pending
        self._pending = ""
        copy = orjson.loads(orjson.dumps(document))
        first = [True]

        def only_held(_: str) -> str:
            if first[0]:
                first[0] = False
                return held
            return ""

        for path in self._paths:
            path.rewrite(copy, only_held)
        return _with_data(frame, copy)


def _with_data(frame: bytes, document: JSONValue) -> bytes:
    """`frame` with its data line(s) replaced by `document`, other lines and line endings kept."""
    out: list[bytes] = []
    wrote = False
    for line in frame.splitlines(keepends=True):
        if line.startswith(b"data:"):
            if not wrote:
                ending = line[len(line.rstrip(b"\r\n")) :]
                out.append(b"data: " + orjson.dumps(document) + ending)
                wrote = True
            continue
        out.append(line)
    return b"".join(out)


def build(params: PIIMaskParams, env: BuildEnv) -> PIIMasker:
    return PIIMasker(params, env.owner)
