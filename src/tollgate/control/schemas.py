"""Request and response bodies of the management API (camelCase on the wire, like the resource documents).

Resource documents themselves are `resources.models`; these are the API's own envelopes. No model here
has a field for a secret value or key value except the write-only inputs and `KeyCreated.value`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tollgate.resources.models import NAME_PATTERN

DeployableKind = Literal["LLMProvider", "LLMProxy"]
Outcome = Literal["created", "changed", "unchanged"]


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
    documents: list[dict[str, Any]] = Field(description="Resource documents, as in the YAML files.", max_length=1000)
    gateway: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Deploy the providers and proxies to this gateway."
    )
    redeploy: bool = Field(default=True, description="Redeploy changed providers/proxies where they are live.")


class ApplyItem(APIModel):
    kind: str
    name: str
    outcome: Outcome
    target: str = ""
    key: str | None = Field(default=None, description="A newly generated API key value: shown this once.")


class ApplyResponse(APIModel):
    results: list[ApplyItem]


class OutcomeResponse(APIModel):
    kind: str
    name: str
    outcome: Outcome


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


class KeyCreate(APIModel):
    name: str = Field(pattern=NAME_PATTERN)
    target: KeyTargetRef
    expires_at: datetime | None = None


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


class KeyCreated(KeyInfo):
    value: str = Field(description="The key itself: shown this once, stored only as a hash.")


class GatewayWrite(APIModel):
    base_url: str = Field(pattern=r"^https?://[^/\s\x00]+[^\s\x00]*$", max_length=2048)


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
    gateway: str = Field(default="default", pattern=NAME_PATTERN)
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
