"""Usage readers: where tokens and the response model sit in one decoded JSON object, and the SSE tap.

`UsageReader` is built once per template from its dotted JSON paths; vendor quirks (Anthropic cache
tokens, Gemini thinking tokens) override one method. `SSEUsageTap` reads a stream on the side with
the one SSE splitter (`tollgate.sse`), parsing only frames that can hold usage, the model or an
in-band error. It never changes the stream: rewriting is a translator's job. Neither does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

import orjson

from tollgate.sse import SSEFrameSplitter, event_spans, first_event_span, parse_frame, split_frames
from tollgate.types import JSONObject, JSONValue
from tollgate.usage.record import TokenUsage, UsageResult

if TYPE_CHECKING:
    from tollgate.resources.models import TemplateSpec

__all__ = [
    "BODY_EDGE",
    "JSONBodyTap",
    "JSONPath",
    "SSEUsageTap",
    "UsageReader",
    "as_count",
    "event_error",
    "json_value_at",
    "lookup",
    "parse_object",
]

#: a compiled dotted path: "usage.prompt_tokens" → ("usage", "prompt_tokens")
JSONPath = tuple[str, ...]
#: Finish reasons kept per response (one per choice; a client may ask for many choices).
MAX_FINISH_REASONS = 16


def lookup(obj: JSONObject, path: JSONPath) -> JSONValue:
    """The value at `path` in `obj`, or None when any step is missing or not an object."""
    value: JSONValue = obj
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def parse_object(data: bytes) -> JSONObject | None:
    """Decode a JSON object; None for invalid JSON or any other JSON type (never raises)."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def strings_at(obj: JSONValue, path: JSONPath, out: list[str]) -> None:
    """Append the non-empty strings at `path` in `obj` to `out`; a `*` step walks every array element."""
    value = obj
    for i, key in enumerate(path):
        if key == "*":
            if isinstance(value, list):
                for item in value:
                    strings_at(item, path[i + 1 :], out)
            return
        if not isinstance(value, dict):
            return
        value = value.get(key)
    if isinstance(value, str) and value and len(out) < MAX_FINISH_REASONS:
        out.append(value)


def as_count(value: JSONValue) -> int | None:
    """A token count, or None for anything that is not a non-negative integer (bools excluded)."""
    if type(value) is int:  # the usual case, one check
        return value if value >= 0 else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _compile(paths: Sequence[str]) -> tuple[JSONPath, ...]:
    return tuple(tuple(p.split(".")) for p in paths if p)


def _needles(paths: tuple[JSONPath, ...]) -> tuple[bytes, ...]:
    """Byte strings one of which must occur in any JSON text holding a value at one of `paths`.

    The last key of a path appears quoted. When all keys share a long suffix (`"prompt_tokens"`,
    `"total_tokens"` → `_tokens"`), that suffix alone is the needle: one `in` test per event
    instead of one per key. A needle may over-match (the event is parsed for nothing), never miss.
    """
    keys = list(dict.fromkeys(b'"' + p[-1].encode() + b'"' for p in paths))
    if len(keys) < 2:
        return tuple(keys)
    suffix = keys[0]
    for key in keys[1:]:
        while not key.endswith(suffix):
            suffix = suffix[1:]
    return (suffix,) if len(suffix) >= 6 else tuple(keys)


class UsageReader:
    """Finds token counts and the response model in one JSON object (a body or one stream event).

    Immutable, shared by every request of a template. Paths are tried in order, first present
    wins. `usage_needles`/`model_needles` are byte strings at least one of which must occur in an
    event's text for it to be worth parsing.
    """

    __slots__ = (
        "_cached",
        "_completion",
        "_finish",
        "_model",
        "_prompt",
        "_roots",
        "_total",
        "finish_keys",
        "finish_needles",
        "model_needles",
        "root_keys",
        "usage_needles",
    )

    def __init__(
        self,
        prompt_tokens: Sequence[str],
        completion_tokens: Sequence[str],
        total_tokens: Sequence[str],
        response_model: Sequence[str],
        cached_tokens: Sequence[str] = (),
        finish_reasons: Sequence[str] = (),
    ) -> None:
        self._prompt = _compile(prompt_tokens)
        self._completion = _compile(completion_tokens)
        self._total = _compile(total_tokens)
        self._cached = _compile(cached_tokens)
        self._model = _compile(response_model)
        self._finish = _compile(finish_reasons)
        self.usage_needles = _needles(self._prompt + self._completion + self._total + self._cached)
        self.model_needles = _needles(self._model)
        #: a finish reason as compact JSON writes it when set (`"finish_reason":"stop"`), never when null
        self.finish_needles = tuple(dict.fromkeys(b'"' + p[-1].encode() + b'":"' for p in self._finish))
        #: the member names finish reasons sit under (`finish_reason`, `finishReason`, `stop_reason`)
        self.finish_keys = tuple(dict.fromkeys(p[-1] for p in self._finish))
        #: top-level keys under which any count lives: an object with none of them reports no usage
        self._roots = frozenset(path[0] for path in self._prompt + self._completion + self._total)
        #: every top-level key a count or the model may sit under, in a stable order
        self.root_keys: tuple[str, ...] = tuple(
            dict.fromkeys(path[0] for path in self._prompt + self._completion + self._total + self._model)
        )

    @classmethod
    def from_spec(cls, spec: TemplateSpec) -> Self:
        """The reader a template spec's dotted paths describe."""
        usage = spec.usage
        return cls(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens,
            spec.response_model,
            usage.cached_tokens,
            spec.finish_reasons,
        )

    @staticmethod
    def _first_count(obj: JSONObject, paths: tuple[JSONPath, ...]) -> int | None:
        for path in paths:
            count = as_count(lookup(obj, path))
            if count is not None:
                return count
        return None

    def usage(self, obj: JSONObject) -> TokenUsage | None:
        """The counts `obj` reports, with unset fields None; None when it reports none."""
        if self._roots.isdisjoint(obj):  # most stream events: no path can match, skip every lookup
            return None
        usage = TokenUsage(
            self._first_count(obj, self._prompt),
            self._first_count(obj, self._completion),
            self._first_count(obj, self._total),
            self._first_count(obj, self._cached) if self._cached else None,
        )
        if usage.prompt_tokens is None and usage.completion_tokens is None and usage.total_tokens is None:
            return None
        return usage

    def model(self, obj: JSONObject) -> str | None:
        """The response model `obj` names; empty strings (Azure's filter chunk) count as absent."""
        for path in self._model:
            value = lookup(obj, path)
            if isinstance(value, str) and value:
                return value
        return None

    def finish_reasons(self, obj: JSONObject, out: list[str]) -> None:
        """Append the finish reasons `obj` reports (one per choice or candidate) to `out`."""
        for path in self._finish:
            strings_at(obj, path, out)

    def result(self, body: bytes, fallback_model: str | None) -> UsageResult:
        """Usage, model and finish reasons of a whole JSON response body; the request model when it names none."""
        obj = parse_object(body)
        if obj is None:
            return UsageResult(TokenUsage(), fallback_model)
        usage = self.usage(obj)
        finish: list[str] = []
        if self._finish:
            self.finish_reasons(obj, finish)
        return UsageResult(
            usage.finalized() if usage else TokenUsage(), self.model(obj) or fallback_model, tuple(finish)
        )


#: Bytes of the held-back tail searched with a new chunk, so a needle split across two chunks is found.
_NEEDLE_WINDOW = 32
#: Every vendor's in-band error event holds this word (OpenAI/Gemini `{"error": ...}`, Anthropic
#: `event: error`, the Responses API's `"type":"error"` and `response.failed`, whose response
#: carries its `"error"` object); text that merely mentions it costs one parse of that event.
_ERROR_NEEDLE = b"error"
_ERROR_TYPES = frozenset({"error", "response.failed"})


def event_error(event: bytes | None, obj: JSONObject | None) -> str | None:
    """The error a decoded stream event reports, or None: its code or type, else "stream_error".

    Recognises `event: error` (Anthropic), a top-level `error` object (OpenAI, Mistral, Gemini) and
    the Responses API's `{"type": "error"}` / `response.failed` events.
    """
    if obj is not None:
        error = obj.get("error")
        kind = obj.get("type")
        if isinstance(error, dict) and (kind is None or kind in _ERROR_TYPES):
            for key in ("code", "type", "status"):
                value = error.get(key)
                if isinstance(value, str) and value:
                    return value
            return "stream_error"
        if isinstance(kind, str) and kind in _ERROR_TYPES:
            code = obj.get("code")
            return code if isinstance(code, str) and code else "stream_error"
    if event == b"error":
        return "stream_error"
    return None


class SSEUsageTap:
    """Reads usage, model and in-band errors from an SSE stream on the side; one per response.

    `feed` never copies, changes or holds back what the client gets: it keeps only the incomplete
    trailing frame, to read it once it completes. Malformed events are skipped. Usage merges across
    events (set fields win, the last report of a field wins); the model is the latest reported,
    else the request model.

    `cumulative=True` is for vendors whose every event repeats the running totals (Gemini): only
    the latest usage-bearing event is kept, as bytes, and parsed once in `result()` (with the one
    before it as a spare, should the last be cut off).
    """

    __slots__ = (
        "_cumulative",
        "_error",
        "_fallback_model",
        "_finish",
        "_held",
        "_hot",
        "_last",
        "_model",
        "_prev",
        "_reader",
        "_splitter",
        "_tail_hot",
        "_usage",
    )

    def __init__(self, reader: UsageReader, fallback_model: str | None, *, cumulative: bool = False) -> None:
        self._reader = reader
        self._fallback_model = fallback_model
        self._cumulative = cumulative
        self._last: bytes | None = None
        self._prev: bytes | None = None
        self._splitter = SSEFrameSplitter()
        self._tail_hot = False
        self._usage = TokenUsage()
        self._model: str | None = None
        self._error: str | None = None
        self._finish: list[str] = []
        self._held = False  # whether the splitter holds an incomplete frame (then `_tail_hot` may apply)
        #: the needles a chunk of whole frames is checked for: usage, errors, finish reasons, and the
        #: model until known
        self._hot: tuple[bytes, ...] = (
            *reader.usage_needles,
            _ERROR_NEEDLE,
            *reader.finish_needles,
            *reader.model_needles,
        )

    @property
    def error(self) -> str | None:
        return self._error

    def feed(self, chunk: bytes) -> None:
        if not self._held and chunk.endswith(b"\n\n"):
            for needle in self._hot:
                if needle in chunk:
                    break
            else:
                return  # whole frames with nothing to read: the usual chunk, no framing work at all
        splitter = self._splitter
        if not self._worth_reading(chunk):
            # No usage, model still to learn or error in this chunk: only keep the frame boundary.
            splitter.feed_through(chunk)
            self._held = splitter.pending > 0
            return
        complete = splitter.feed_through(chunk)
        self._held = splitter.pending > 0
        # An unfinished frame that already shows a needle must be read when it completes.
        self._tail_hot = splitter.pending > 0 and self._has_needle(splitter.tail_end(splitter.pending))
        if b"\r" not in complete:
            # LF framing (OpenAI, Anthropic, Mistral, Azure): open only the frames around a needle.
            for start, end in self._needle_spans(complete):
                self._read(complete[start:end])
            return
        frames = split_frames(complete)
        if self._cumulative and self._model is not None:
            self._keep_last_usage(frames)
        else:
            for frame in frames:
                self._read(frame)

    def _needle_spans(self, buf: bytes) -> list[tuple[int, int]]:
        """(start, end) of the events in `buf` worth decoding, in order: every one holding a usage,
        error or finish-reason needle, and the first naming a model while none is known."""
        reader = self._reader
        spans: set[tuple[int, int]] = set()
        for needle in reader.usage_needles:
            spans.update(event_spans(buf, needle))
        for needle in reader.finish_needles:
            if needle in buf:
                spans.update(event_spans(buf, needle))
        if _ERROR_NEEDLE in buf:
            spans.update(event_spans(buf, _ERROR_NEEDLE))
        if self._model is None:
            for needle in reader.model_needles:
                found = first_event_span(buf, needle)
                if found is not None:
                    spans.add(found)
                    break
        return sorted(spans)

    def _worth_reading(self, chunk: bytes) -> bool:
        """Whether `chunk` (with the held-back bytes before it) may hold usage, an error or a needed model.

        Invariant: while `_tail_hot` is false the held-back tail holds no needle, so looking at its
        last bytes (a needle split across chunks) plus the new chunk is enough.
        """
        if self._tail_hot:
            return True
        pending = self._splitter.tail_end(_NEEDLE_WINDOW)
        return self._has_needle(pending + chunk if pending else chunk)

    def _has_needle(self, window: bytes) -> bool:
        reader = self._reader
        for needle in reader.usage_needles:
            if needle in window:
                return True
        if _ERROR_NEEDLE in window:
            return True
        for needle in reader.finish_needles:
            if needle in window:
                return True
        if self._model is None:
            for needle in reader.model_needles:
                if needle in window:
                    return True
        return False

    def _keep_last_usage(self, frames: list[bytes]) -> None:
        """Cumulative streams: only the newest usage-bearing frame matters; look at no other but errors."""
        needles = self._reader.usage_needles
        kept = False
        for frame in reversed(frames):
            if _ERROR_NEEDLE in frame:
                self._read_error(frame)
            if not kept and any(needle in frame for needle in needles):
                data = parse_frame(frame)[1]
                if data:
                    self._prev, self._last = self._last, data
                    kept = True

    def close(self) -> None:
        self._held = False
        tail = self._splitter.close()
        if tail:
            self._read(tail)  # a last event without its blank line still counts

    def result(self) -> UsageResult:
        for data in (self._last, self._prev):
            obj = parse_object(data) if data is not None else None
            if obj is not None:
                self.read_event(obj)
                break
        self._last = self._prev = None
        return UsageResult(self._usage.finalized(), self._model or self._fallback_model, tuple(self._finish))

    def read_event(self, obj: JSONObject, event: bytes | None = None) -> None:
        """Meter one decoded event (also used by taps that frame the stream themselves)."""
        reader = self._reader
        usage = reader.usage(obj)
        if usage is not None:
            self._usage.merge(usage)
        model = reader.model(obj)
        if model is not None:
            if self._model is None:  # known now: chunks need no longer be searched for it
                self._hot = (*reader.usage_needles, _ERROR_NEEDLE, *reader.finish_needles)
            self._model = model
        reader.finish_reasons(obj, self._finish)
        if self._error is None:
            self._error = event_error(event, obj)

    def _read_error(self, frame: bytes) -> None:
        if self._error is None:
            event, data = parse_frame(frame)
            self._error = event_error(event, parse_object(data) if data else None)

    def _read(self, frame: bytes) -> None:
        # Needles are looked for in the raw frame: most frames hold none and are never decoded.
        reader = self._reader
        has_usage = False
        for needle in reader.usage_needles:
            if needle in frame:
                has_usage = True
                break
        has_error = _ERROR_NEEDLE in frame
        has_finish = False
        if not has_usage and not has_error:
            for needle in reader.finish_needles:
                if needle in frame:
                    has_finish = True
                    break
        if not has_usage and not has_error and not has_finish:
            if self._model is not None:
                return
            for needle in reader.model_needles:
                if needle in frame:
                    break
            else:
                return
        event, data = parse_frame(frame)
        if not data:
            if has_error and self._error is None:
                self._error = event_error(event, None)
            return
        if has_usage and self._cumulative and not has_error:
            self._prev, self._last = self._last, data  # parsed once, in result()
            return
        obj = parse_object(data)
        if obj is not None:
            self.read_event(obj, event)
        elif has_error and self._error is None:
            self._error = event_error(event, None)


#: Bytes kept from each end of a JSON body too large to hold: the usage and the model of every
#: vendor's answer sit near one end or the other (`model` first, `usage` last).
BODY_EDGE = 64 * 1024
_WS = b" \t\r\n"


def json_value_at(buf: bytes, pos: int) -> bytes | None:
    """The JSON value that starts at `buf[pos]` (after whitespace), as bytes; None when `buf` ends first.

    Tracks strings and escapes, so braces inside text do not count; does not validate the value.
    """
    size = len(buf)
    while pos < size and buf[pos] in _WS:
        pos += 1
    if pos >= size:
        return None
    first = buf[pos]
    if first == 0x22:  # a string
        end = pos + 1
        while end < size:
            byte = buf[end]
            if byte == 0x5C:
                end += 2
                continue
            if byte == 0x22:
                return buf[pos : end + 1]
            end += 1
        return None
    if first not in (0x7B, 0x5B):  # a number or a literal: up to the next delimiter
        end = pos
        while end < size and buf[end] not in b",}] \t\r\n":
            end += 1
        return buf[pos:end] if end < size else None
    depth = 0
    in_string = False
    end = pos
    while end < size:
        byte = buf[end]
        if in_string:
            if byte == 0x5C:
                end += 1
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
        elif byte in (0x7D, 0x5D):
            depth -= 1
            if depth == 0:
                return buf[pos : end + 1]
        end += 1
    return None


def _member(buf: bytes, key: str, *, last: bool) -> JSONValue:
    """The decoded value of member `key` found in `buf` (its last or first occurrence), or None."""
    needle = b'"' + key.encode() + b'"'
    pos = buf.rfind(needle) if last else buf.find(needle)
    while pos >= 0:
        colon = pos + len(needle)
        while colon < len(buf) and buf[colon] in _WS:
            colon += 1
        if colon < len(buf) and buf[colon] == 0x3A:
            raw = json_value_at(buf, colon + 1)
            if raw is not None:
                try:
                    value: JSONValue = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return None
                return value
        pos = buf.rfind(needle, 0, pos) if last else buf.find(needle, pos + 1)
    return None


class JSONBodyTap:
    """Meters a non-streamed JSON body that is relayed as it arrives instead of being held whole.

    Keeps the first and the last `BODY_EDGE` bytes only. A body that fits in the first is read as a
    whole; otherwise each top-level key the usage reader looks under (`usage`, `usageMetadata`,
    `model`, ...) is taken from the tail (last occurrence, where vendors put usage) or else the head
    (first occurrence, where they put the model), decoded alone and handed to the reader. One per
    response, not thread-safe.
    """

    __slots__ = ("_fallback_model", "_head", "_reader", "_size", "_tail")

    def __init__(self, reader: UsageReader, fallback_model: str | None) -> None:
        self._reader = reader
        self._fallback_model = fallback_model
        self._head = b""
        self._tail = b""
        self._size = 0

    @property
    def error(self) -> str | None:
        return None

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if len(self._head) < BODY_EDGE:
            self._head += chunk[: BODY_EDGE - len(self._head)]
        tail = self._tail + chunk if len(chunk) < BODY_EDGE else chunk
        self._tail = tail[-BODY_EDGE:] if len(tail) > BODY_EDGE else tail

    def close(self) -> None:
        return None

    def result(self) -> UsageResult:
        reader = self._reader
        if self._size <= BODY_EDGE:
            return reader.result(self._head, self._fallback_model)
        found: JSONObject = {}
        for key in reader.root_keys:
            value = _member(self._tail, key, last=True)
            if value is None:
                value = _member(self._head, key, last=False)
            if value is not None:
                found[key] = value
        usage = reader.usage(found) if found else None
        return UsageResult(
            usage.finalized() if usage else TokenUsage(),
            reader.model(found) or self._fallback_model,
            self._edge_finish_reason(),
        )

    def _edge_finish_reason(self) -> tuple[str, ...]:
        """The last finish reason in the tail (else the first in the head): its member decoded alone,
        since the object holding it (`choices`, `candidates`) may be larger than an edge."""
        for key in self._reader.finish_keys:
            value = _member(self._tail, key, last=True)
            if value is None:
                value = _member(self._head, key, last=False)
            if isinstance(value, str) and value:
                return (value,)
        return ()
