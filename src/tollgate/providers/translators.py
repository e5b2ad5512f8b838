"""Which translator sits between a client API and a backend: the registry of (client, backend) pairs.

A backend spoken to in its own API uses its pass-through translator. Cross-vendor pairs are looked up
here; a pair with no translator cannot be routed (the snapshot refuses such a target for the route).
Built at import, read at snapshot compile, never per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tollgate.providers.base import Backend, ClientAPI, Translator
from tollgate.providers.pairs import PAIR_TRANSLATORS

__all__ = ["TRANSLATORS", "translator_for"]

#: (client API name, backend name) -> translator, for pairs of different vendors (one module per pair,
#: `providers/<client>_<backend>.py`, registered in `providers/pairs.py`).
TRANSLATORS: Mapping[tuple[str, str], Translator] = MappingProxyType(dict(PAIR_TRANSLATORS))


def translator_for(client: ClientAPI, backend: Backend) -> Translator | None:
    """The translator for `client` requests sent to `backend`, or None when the pair is not supported."""
    if client.name == backend.name:
        return backend.pass_through
    return TRANSLATORS.get((client.name, backend.name))
