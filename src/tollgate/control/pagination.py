"""Cursor pagination of every list: `?limit=N&after=CURSOR`, the next cursor in response headers.

List bodies stay JSON arrays (older clients keep working); a page that is not the last carries
`X-Next-Cursor: <cursor>` and `Link: <...?after=<cursor>&limit=N>; rel="next"`. A cursor encodes the
sort key of the last item returned (URL-safe base64): opaque to clients, stable under concurrent
inserts and deletes (nothing is skipped or repeated that existed throughout), unlike an offset.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request, Response

T = TypeVar("T")

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
NEXT_CURSOR_HEADER = "X-Next-Cursor"

LimitParam = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).")
]
AfterParam = Annotated[
    str | None,
    Query(
        max_length=512,
        description=f"Cursor: the {NEXT_CURSOR_HEADER} header of the previous page. Omit for the first page.",
    ),
]

#: What list operations document for their next-page headers in the OpenAPI document.
PAGE_HEADERS: dict[str, dict[str, object]] = {
    NEXT_CURSOR_HEADER: {
        "description": "Present when there is a next page: pass it as `after` to get it.",
        "schema": {"type": "string"},
    },
    "Link": {"description": 'The next page\'s URL, rel="next", when there is one.', "schema": {"type": "string"}},
}


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The sort key inside a cursor (None for none). Text this API did not encode is taken as a sort key
    itself ("after this name"), so any string is a valid `after`: the page simply starts there."""
    if cursor is None:
        return None
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return cursor
    return key if key.isprintable() and encode_cursor(key) == cursor else cursor


def page_of(items: Sequence[T], key: Callable[[T], str], after: str | None, limit: int) -> tuple[list[T], str | None]:
    """The page of `items` (sorted by `key`) after cursor `after`, and the next page's sort key (None at the end)."""
    start = decode_cursor(after)
    ordered = sorted(items, key=key)
    rest = [item for item in ordered if start is None or key(item) > start]
    page = rest[:limit]
    return page, (key(page[-1]) if len(rest) > limit else None)


def set_next(request: Request, response: Response, next_key: str | None, limit: int) -> None:
    """Announce the next page (if any), after the item whose sort key is `next_key`, in the headers."""
    if next_key is None:
        return
    cursor = encode_cursor(next_key)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("after", "limit")]
    query = urlencode([*params, ("limit", str(limit)), ("after", cursor)])
    response.headers[NEXT_CURSOR_HEADER] = cursor
    response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
