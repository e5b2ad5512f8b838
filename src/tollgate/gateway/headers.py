"""Serialising header lists for the wire, shared by the server and the upstream client."""

from __future__ import annotations

from tollgate.types import HeaderList


def header_lines(headers: HeaderList) -> bytes:
    """`name: value` lines, each ended by CRLF (one join: cheaper than formatting line by line)."""
    if not headers:
        return b""
    return b"\r\n".join([b": ".join(item) for item in headers]) + b"\r\n"
