"""Value objects the store returns (besides the resource models, `KeyRecord` and `ResourceSet`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tollgate.types import JSONObject

#: What applying a resource did: it was new, it differed from the stored one, it was identical, or a
#: prune removed it (a dry run says what would happen, with the same words).
Outcome = Literal["created", "changed", "unchanged", "deleted"]

#: Kinds kept in the generic `resources` table (secrets, keys and gateways have tables of their own).
STORED_KINDS = ("ProviderTemplate", "LLMProvider", "LLMProxy")
#: Kinds that can be deployed to a gateway.
DEPLOYABLE_KINDS = ("LLMProvider", "LLMProxy")


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The outcome of one applied document. `key_value` is set once, for a newly generated API key."""

    kind: str
    name: str
    outcome: Outcome
    key_value: str | None = field(default=None, repr=False)
    #: For APIKey documents, the key's target as "Kind/name"; empty otherwise.
    target: str = ""
    #: Templates, providers and proxies: the resourceVersion they have after the apply.
    resource_version: str | None = None
    #: Dry runs only: the stored document and the one applying would store (secret values masked).
    before: JSONObject | None = field(default=None, repr=False)
    after: JSONObject | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """What `Store.apply_documents` did: one result per document, in the order they were applied."""

    results: list[ApplyResult]

    @property
    def new_keys(self) -> list[tuple[str, str, str]]:
        """(key name, "Kind/target", value) of each generated key: print once, never store or log."""
        return [(r.name, r.target, r.key_value) for r in self.results if r.key_value is not None]

    def outcome(self, kind: str, name: str) -> Outcome | None:
        return next((r.outcome for r in self.results if (r.kind, r.name) == (kind, name)), None)

    def summary_lines(self) -> list[str]:
        """One line per document, e.g. "LLMProvider openai: created" (never a secret or key value)."""
        return [f"{r.kind} {r.name}: {r.outcome}" for r in self.results]


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """One deployed revision of a provider or proxy on a gateway; live while `undeployed_at` is None."""

    gateway: str
    kind: str
    name: str
    revision: int
    spec: JSONObject
    deployed_at: datetime
    undeployed_at: datetime | None = None

    @property
    def is_live(self) -> bool:
        return self.undeployed_at is None


@dataclass(frozen=True, slots=True)
class GatewayRecord:
    """A registered data-plane node (or group); `last_seen` is its latest heartbeat."""

    name: str
    base_url: str
    status: str
    last_seen: datetime | None
    created_at: datetime
