"""Optimistic concurrency on the wire: `ETag: "<resourceVersion>"` out, `If-Match` (or the body's
`metadata.resourceVersion`) in. A stale version is a 409 raised by the store, never a silent overwrite;
so are two versions that disagree.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header, Response

from tollgate.errors import ResourceConflictError, ResourceValidationError

_ETAG = re.compile(r'^\s*(?:W/)?"?([0-9]{1,18})"?\s*$')

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=64,
        pattern=r'^ *(\*|(W/)?"?[0-9]{1,18}"?) *$',
        description='Only act if the resource is at this version: its ETag (`"42"`) or resourceVersion. '
        "A stale one is refused with 409.",
    ),
]


def etag(version: str | int | None) -> str | None:
    return None if version is None else f'"{version}"'


def set_etag(response: Response, version: str | int | None) -> None:
    tag = etag(version)
    if tag is not None:
        response.headers["ETag"] = tag


def parse_if_match(value: str | None, document: str) -> int | None:
    """The version an If-Match header asks for; None when absent or `*` (any existing version)."""
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if match is None:
        raise ResourceValidationError(document, "If-Match", 'must be an ETag of this API, e.g. "42", or *')
    return int(match.group(1))


def merged_version(header: int | None, body: str | None, document: str) -> str | None:
    """One precondition from the If-Match header and the resourceVersion of the body (or query).

    Two different versions are two preconditions of which at most one holds: like any failed
    precondition that is a 409 (as HTTP evaluates each If-Match), not a malformed request.
    """
    if header is None:
        return body
    if body is not None and int(body) != header:
        raise ResourceConflictError(
            f"{document}: If-Match asks for version {header} and resourceVersion for {body}: at most one of them "
            "is current; read the resource again"
        )
    return str(header)
