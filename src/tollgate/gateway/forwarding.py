"""The client's address behind trusted reverse proxies, from `X-Forwarded-For` / `Forwarded`.

Only the last `trusted_hops` entries were written by proxies the operator runs; anything to their
left came from the client and can be forged, so it is never believed. With no trusted hop the peer
address of the connection is the client. These headers are never forwarded to a vendor (the
snapshot strips them): client addresses are not the vendor's business.
"""

from __future__ import annotations

from tollgate.types import HeaderList

__all__ = ["client_address"]


def _forwarded_for(value: bytes) -> list[str]:
    """The `for=` addresses of one RFC 7239 `Forwarded` header value, in order."""
    found: list[str] = []
    for element in value.decode("latin-1").split(","):
        for pair in element.split(";"):
            name, _, param = pair.strip().partition("=")
            if name.lower() == "for" and param:
                param = param.strip().strip('"')
                if param.startswith("["):  # [v6]:port
                    param = param[1 : param.find("]")] if "]" in param else param[1:]
                elif param.count(":") == 1:  # v4:port
                    param = param.split(":", 1)[0]
                found.append(param)
    return found


def client_address(peer: str, headers: HeaderList, trusted_hops: int) -> str:
    """The client's address: the connection's peer, or, when `trusted_hops` proxies stand in front
    of the gateway, the address the outermost trusted proxy saw (`Forwarded` preferred over
    `X-Forwarded-For`). Falls back to the peer when the headers hold fewer entries than hops."""
    if trusted_hops <= 0:
        return peer
    chain: list[str] = []
    xff: list[str] = []
    for name, value in headers:
        if name == b"forwarded":
            chain.extend(_forwarded_for(value))
        elif name == b"x-forwarded-for":
            xff.extend(part.strip() for part in value.decode("latin-1").split(",") if part.strip())
    entries = chain or xff
    # The peer is the innermost proxy; it appended the address it saw last. With N trusted hops the
    # client is the N-th entry from the right.
    if len(entries) < trusted_hops:
        return peer
    return entries[-trusted_hops]
