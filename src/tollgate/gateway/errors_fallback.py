"""Which vendor error shape to use when no route matched (404): guessed from the vendor path.

A client pointed at a wrong context still gets its own SDK's exception with a readable message.
"""

from __future__ import annotations

from functools import cache

from tollgate.providers.base import ProviderAdapter
from tollgate.providers.registry import BUILTIN_TEMPLATES, build_adapter


@cache
def _builtin(name: str) -> ProviderAdapter:
    return build_adapter(name, BUILTIN_TEMPLATES[name])


def adapter_for_path(path: str) -> ProviderAdapter:
    if path.endswith("/messages") or "/messages/" in path:
        return _builtin("anthropic")
    if "Content" in path or ("/models/" in path and ":" in path):
        return _builtin("gemini")
    return _builtin("openai")
