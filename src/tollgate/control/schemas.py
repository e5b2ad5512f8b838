"""Request and response bodies of the management API (camelCase on the wire, like the resource documents).

Resource documents themselves are `resources.models`; these are the API's own envelopes. No model here
has a field for a secret value or key value except the write-only inputs and `KeyCreated.value`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from tollgate.policies.windows import KeyLimits
from tollgate.resources.models import NAME_PATTERN, check_base_url

DeployableKind = Literal["LLMProvider", "LLMProxy"]
Outcome = Literal["created", "changed", "unchanged", "deleted"]
#: At most this many documents per bulk apply (about 10 MB of typical documents).
MAX_APPLY_DOCUMENTS = 20_000


class APIModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ErrorDetail(APIModel):
    resource: str = Field(description="The document or resource the error is about.")
    field: str = Field(description="Dotted field path inside it; empty when the whole resource is meant.")
    reason: str


class ErrorBody(APIModel):
    status: int
    type: str = Field(description="validation_error, not_found, conflict, unauthorized, bad_request, internal")
    message: str
    errors: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(APIModel):
    error: ErrorBody


class ApplyRequest(APIModel):
    documents: list[dict[str, Any]] = Field(
        description="Resource documents, as in the YAML files. Each must be valid (422 names document, field and "
        "reason); references must resolve against the store plus this batch; a document with "
        "`metadata.resourceVersion` is applied only over that version (409 otherwise).",
        max_length=MAX_APPLY_DOCUMENTS,
    )
    gateway: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="Deploy the providers and proxies to this gateway. It must exist (or be `default`) unless "
        "`createGateway` (404 otherwise).",
    )
    create_gateway: bool = Field(default=False, description="Create `gateway` if it does not exist yet.")
    redeploy: bool = Field(default=True, description="Redeploy changed providers/proxies where they are live.")
    dry_run: bool = Field(
        default=False,
        description="Validate and report what would happen, with `before`/`after` documents, writing nothing.",
    )
    prune: bool = Field(
        default=False,
        description="Afterwards delete stored templates, providers and proxies that `selector` matches and "
        "`documents` do not name (outcome `deleted`).",
    )
    selector: str | None = Field(
        default=None,
        max_length=1024,
        description="Label selector of the set to prune, e.g. `team=a` (required with prune, never empty).",
    )


class ApplyItem(APIModel):
    kind: str
    name: str
    outcome: Outcome
    target: str = ""
    key: str | None = Field(default=None, description="A newly generated API key value: shown this once.")
    resource_version: str | None = Field(default=None, description="Templates, providers, proxies: after the apply.")
    before: dict[str, Any] | None = Field(default=None, description="Dry run: the stored document (secrets hidden).")
    after: dict[str, Any] | None = Field(default=None, description="Dry run: the document applying would store.")


class ApplyResponse(APIModel):
    results: list[ApplyItem]


JobState = Literal["queued", "running", "succeeded", "failed"]


class JobInfo(APIModel):
    """An apply job (`POST /apply?async=true`): where it is, then its result or its error."""

    id: str = Field(description="Read it at /api/v1/jobs/{id} (on the node that accepted it).")
    kind: Literal["apply"] = "apply"
    state: JobState = Field(description="queued, running, then succeeded (see `result`) or failed (see `error`).")
    done: int = Field(description="Documents committed so far (a failed job's earlier chunks stay applied).")
    total: int = Field(description="Documents in the batch.")
    user: str = Field(description="Who submitted it.")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: ApplyResponse | None = Field(
        default=None, description="When succeeded: what POST /apply would have answered (not in listings)."
    )
    error: ErrorBody | None = Field(
        default=None,
        description="When failed: the error POST /apply would have answered (422: one entry per bad "
        "document, field and reason).",
    )


class OutcomeResponse(APIModel):
    kind: str
    name: str
    outcome: Outcome
    resource_version: str | None = Field(default=None, description="Templates, providers, proxies: the new version.")


class TemplateInfo(APIModel):
    name: str
    builtin: bool
    base_url: str | None


class SecretWrite(APIModel):
    value: str = Field(min_length=1, max_length=65536, description="Write-only: never returned.")


class SecretRotation(APIModel):
    new_key: bool = Field(
        False, description="First add a fresh key to the key file (not for TOLLGATE_SECRET_KEY rings)."
    )
    retire_old_keys: bool = Field(False, description="Afterwards keep only the newest key in the key file.")


class SecretRotationResult(APIModel):
    reencrypted: int = Field(description="How many secrets were re-encrypted with the newest key.")


class SecretInfo(APIModel):
    name: str
    used_by: list[str] = Field(default_factory=list)


class KeyTargetRef(APIModel):
    kind: DeployableKind
    name: str = Field(pattern=NAME_PATTERN)


#: Owner-supplied string pairs on a key: at most 64, keys 1-63 characters, values up to 256 (no NUL).
KeyMetadata = Annotated[
    dict[
        Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[^\x00]+$")],
        Annotated[str, Field(max_length=256, pattern=r"^[^\x00]*$")],
    ],
    Field(max_length=64, json_schema_extra={"additionalProperties": False}),
]


class KeyCreate(APIModel):
    name: str = Field(pattern=NAME_PATTERN)
    target: KeyTargetRef
    expires_at: datetime | None = None
    metadata: KeyMetadata | None = Field(default=None, description="Free-form string pairs (team, ticket, ...).")
    limits: KeyLimits | None = Field(
        default=None, description="The key's own limits: requests, tokens and cost per window, and a model list."
    )


class KeyUpdate(APIModel):
    """Fields to change; absent ones stay as they are (`expiresAt: null` removes the expiry)."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN, description="The display name.")
    expires_at: datetime | None = Field(default=None, description="New expiry; null for none.")
    metadata: KeyMetadata | None = Field(default=None, description="Replaces the whole metadata map.")
    limits: KeyLimits | None = Field(default=None, description="Replaces the key's own limits; null removes them.")


class KeyInfo(APIModel):
    id: str
    name: str
    target: KeyTargetRef
    masked: str
    status: Literal["active", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    metadata: KeyMetadata = Field(default_factory=dict)
    limits: KeyLimits | None = Field(default=None, description="The key's own limits, if any.")


class KeyCreated(KeyInfo):
    value: str = Field(description="The key itself: shown this once, stored only as a hash.")


#: `GatewayWrite.base_url`'s rules as one ECMA-262 pattern, for the OpenAPI document (so generated
#: clients send only URLs the server takes): a host that is not 0, 0.0.0.0 or [::], a port from 1 to
#: 65535, no credentials, query or fragment, no control or space characters (`\s` alone misses some
#: that the server refuses, e.g. \x1c). `(?![\s\S])` ends it instead of `$`, which in Python's
#: regex (and so in test generators) also matches before a final newline. The server checks the same
#: with `check_base_url` (the engine of pydantic's `pattern` has no lookahead).
BASE_URL_PATTERN = (
    r"^https?://(?!(?:0|0\.0\.0\.0|\[::\]|\[0:0:0:0:0:0:0:0\])(?:[:/]|(?![\s\S])))"
    r"[^/\s\x00-\x20\x7f-\xa0?#@:\[\]]+"
    r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:/[^\s\x00-\x20\x7f-\xa0?#]*)?(?![\s\S])"
)


class GatewayWrite(APIModel):
    base_url: str = Field(
        pattern=r"^https?://[^/\s\x00]+[^\s\x00]*$",
        max_length=2048,
        description="Public URL of the gateway's nodes: http(s), a real host (not 0, 0.0.0.0 or ::), a port "
        "from 1 to 65535, no query or fragment.",
        json_schema_extra={"pattern": BASE_URL_PATTERN},
    )

    _url = field_validator("base_url")(check_base_url)


class DeploymentProblemInfo(APIModel):
    """A deployed provider or proxy the gateway's nodes report they cannot serve (it answers 503 or 404)."""

    kind: str
    name: str
    reason: str
    reported_at: datetime


class GatewayInfo(APIModel):
    name: str
    base_url: str
    status: str = Field(description="ready, degraded (some deployments not served: see problems) or offline.")
    last_seen: datetime | None
    created_at: datetime
    problems: list[DeploymentProblemInfo] = Field(default_factory=list)


class DeployRequest(APIModel):
    gateway: str = Field(
        default="default", pattern=NAME_PATTERN, description="Must exist (or be `default`) unless createGateway."
    )
    create_gateway: bool = Field(default=False, description="Create the gateway if it does not exist yet.")
    kind: DeployableKind
    name: str = Field(pattern=NAME_PATTERN)


class DeploymentInfo(APIModel):
    gateway: str
    kind: str
    name: str
    revision: int
    context: str | None
    invoke_url: str | None = Field(description="Gateway base URL + context, while live.")
    live: bool
    deployed_at: datetime
    undeployed_at: datetime | None
    problem: str | None = Field(default=None, description="Why the gateway does not serve it, as its nodes report.")


class DeployResponse(APIModel):
    outcome: Outcome
    deployment: DeploymentInfo


class RestoreRequest(APIModel):
    revision: int = Field(ge=1, le=2**31 - 1)
