"""Behaviours on demand: errors, delays, chunking, broken and hanging streams.

A behaviour is asked for by a `[mock:name=value]` directive in the last user message (so any SDK can
trigger it unchanged) or for every request through `POST /_mock/config`; directives win over config.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tollgate.mock.text import DIRECTIVE_RE
from tollgate.types import JSONValue

#: Settings a directive or the config may carry, with whether they take an integer value.
SETTINGS: dict[str, bool] = {
    "error": True,
    "delay": True,
    "chunk-delay": True,
    "chunks": True,
    "chunk-chars": True,
    "break": False,
    "hang": False,
    "stream-error": False,
    "echo": False,
    # a stream sent as one body with a Content-Length, as a buffering proxy in front of the vendor does
    "unchunked": False,
    # read by mock/tools.py: how many of the offered tools to call at once
    "tool-calls": True,
    # OpenAI chat: report this many of the prompt tokens as read from the prompt cache (at most all)
    "cached": True,
    # seconds in the `retry-after` header of a forced error (vendors send it on 429 and some 5xx)
    "retry-after": True,
    # config only: the config applies to the next N requests (of its vendors), then is dropped
    "times": True,
}
_DISCONNECT_POLL_S = 0.05

#: Builds a vendor's error response for a status code, with an optional message.
ErrorFactory = Callable[[int, str | None], Response]


class BehaviourError(ValueError):
    """A setting that is unknown or has a value of the wrong kind; the message names it."""


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What the mock does with one request besides answering normally."""

    error: int | None = None
    delay_ms: int = 0
    chunk_delay_ms: int = 0
    chunks: int | None = None
    #: stream the reply in pieces of this many characters (cutting inside words), instead of by words
    chunk_chars: int | None = None
    breaks: bool = False
    hangs: bool = False
    stream_error: bool = False
    echo: bool = False
    cached_tokens: int = 0
    #: send a stream's frames as one body with a Content-Length instead of chunk by chunk
    unchunked: bool = False
    #: `retry-after` of a forced error: replaces the vendor's default (1 s on 429), adds one on other statuses
    retry_after: int | None = None


def normalize_settings(settings: Mapping[str, JSONValue]) -> dict[str, int | bool]:
    """Validated settings: names with `-` (`chunk_delay` is accepted), ints for valued ones, bools else."""
    clean: dict[str, int | bool] = {}
    for raw_name, value in settings.items():
        name = raw_name.replace("_", "-")
        if name not in SETTINGS:
            raise BehaviourError(f"unknown mock setting {raw_name!r}; known: {', '.join(SETTINGS)}")
        if SETTINGS[name]:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise BehaviourError(f"mock setting {raw_name!r} takes an integer")
            try:
                number = int(value)
            except ValueError:
                raise BehaviourError(f"mock setting {raw_name!r} takes an integer, not {value!r}") from None
            if number < 0:
                raise BehaviourError(f"mock setting {raw_name!r} must not be negative")
            clean[name] = number
        else:
            clean[name] = value not in (False, None, "0", "false", "off")
    return clean


def directives(text: str) -> dict[str, JSONValue]:
    """The `[mock:...]` directives in `text`; a directive without `=value` means on."""
    found: dict[str, JSONValue] = {}
    for match in DIRECTIVE_RE.finditer(text):
        found[match.group(1)] = match.group(2) if match.group(2) is not None else True
    return found


def resolve(config: Mapping[str, int | bool], text: str) -> Behaviour:
    """The behaviour for one request: the config, overridden by the directives in `text`.

    Raises `BehaviourError` for a malformed directive, so a typo does not pass silently.
    """
    merged = {**config, **normalize_settings(directives(text))}
    error = merged.get("error")
    chunks = merged.get("chunks")
    chunk_chars = merged.get("chunk-chars")
    return Behaviour(
        error=int(error) if error else None,
        delay_ms=int(merged.get("delay", 0)),
        chunk_delay_ms=int(merged.get("chunk-delay", 0)),
        chunks=int(chunks) if chunks else None,
        chunk_chars=int(chunk_chars) if chunk_chars else None,
        breaks=bool(merged.get("break", False)),
        hangs=bool(merged.get("hang", False)),
        stream_error=bool(merged.get("stream-error", False)),
        echo=bool(merged.get("echo", False)),
        cached_tokens=int(merged.get("cached", 0)),
        unchunked=bool(merged.get("unchunked", False)),
        retry_after=int(merged["retry-after"]) if "retry-after" in merged else None,
    )


async def wait_for_disconnect(request: Request) -> None:
    """Return once the client has gone (a hung request must not outlive its connection)."""
    while not await request.is_disconnected():
        await asyncio.sleep(_DISCONNECT_POLL_S)


async def begin(request: Request, lookup: Callable[[], Behaviour], error: ErrorFactory) -> Behaviour | Response:
    """Resolve the behaviour and apply the pre-header part: hang, delay, then a forced error.

    Returns the behaviour to answer with, or the response that ends the request (a bad directive
    gives a 400 in the vendor's shape).
    """
    try:
        behaviour = lookup()
    except BehaviourError as exc:
        return error(400, str(exc))
    if behaviour.hangs:
        await wait_for_disconnect(request)
        return Response(status_code=499)
    if behaviour.delay_ms:
        await asyncio.sleep(behaviour.delay_ms / 1000)
    if behaviour.error:
        response = error(behaviour.error, None)
        if behaviour.retry_after is not None:
            response.headers["retry-after"] = str(behaviour.retry_after)
            if "retry-after-ms" in response.headers:  # Azure sends both: keep them in agreement
                response.headers["retry-after-ms"] = str(behaviour.retry_after * 1000)
        return response
    return behaviour
