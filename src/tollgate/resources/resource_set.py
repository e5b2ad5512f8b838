"""The full set of resources a gateway serves from: what the store hands to the snapshot compiler."""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate.resources.keys import KeyRecord
from tollgate.resources.models import LLMProvider, LLMProxy, ProviderTemplate


@dataclass(frozen=True, slots=True)
class ResourceSet:
    """Deployed providers and proxies of one gateway, with their templates, keys and secret values.

    `secrets` maps Secret names to decrypted values; it lives only in memory of the data plane.
    `revision` is the store revision this set was read at (a gateway follows changes by it).
    `unloadable` maps (kind, name) of deployed documents the store could not read back (stored under
    older rules, say) to the reason: they are left out, and the node reports them.
    """

    templates: dict[str, ProviderTemplate] = field(default_factory=dict)
    providers: dict[str, LLMProvider] = field(default_factory=dict)
    proxies: dict[str, LLMProxy] = field(default_factory=dict)
    keys: list[KeyRecord] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    revision: int = 0
    unloadable: dict[tuple[str, str], str] = field(default_factory=dict)
