"""Dependencies shared by the route modules: the store, taken from the app's state (no module globals)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from tollgate.resources.models import NAME_PATTERN
from tollgate.store import Store


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(_store)]
#: A resource, gateway or key name in a path: DNS-label style, as in the documents.
NameParam = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]
