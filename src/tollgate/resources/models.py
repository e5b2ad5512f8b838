"""Pydantic models of the resource documents (Kubernetes style: apiVersion, kind, metadata, spec).

These models are the single schema of Tollgate's resources: YAML files, the management API and the
store all speak them. They validate shape and field values only; cross-resource integrity (a proxy
naming a missing provider, two contexts colliding) is checked by `resources.integrity`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from tollgate.policies.windows import KeyLimits
from tollgate.resources.routing import CircuitBreakerSpec, FailoverSpec, RoutingSpec

API_VERSION: Final = "tollgate.dev/v1"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_CONTEXT_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
#: Contexts under this prefix are refused: the data port keeps them for its own endpoints (health,
#: readiness, metrics), so no deployment can ever take them over.
RESERVED_CONTEXT_PREFIX: Final = "/_tollgate"

DEFAULT_KEY_HEADER = "X-API-Key"


class Model(BaseModel):
    """Base: unknown fields are errors (a typo must not silently do nothing)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


#: A label key: an optional DNS-style prefix and '/', then a name (Kubernetes' rule).
LABEL_KEY_PATTERN = r"^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
#: A label value: empty, or up to 63 letters, digits, '-', '_', '.' starting and ending alphanumeric.
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$"
#: Typed so the JSON schema carries the rules (propertyNames / additionalProperties patterns).
LabelKey = Annotated[str, Field(pattern=LABEL_KEY_PATTERN, max_length=317)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE_PATTERN, max_length=63)]


class Metadata(Model):
    name: Annotated[str, Field(pattern=NAME_PATTERN, description="DNS-label style name, unique per kind.")]
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="Identifying pairs that selectors match (`tollgate get providers -l team=a`, `apply --prune`). "
        "Keys: [prefix/]name (name up to 63 letters, digits, '-', '_', '.'); values: up to 63 of the same or empty.",
        json_schema_extra={"additionalProperties": False},
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Free-form notes for people and tools (not matched by selectors)."
    )
    description: str = ""
    resource_version: str | None = Field(
        default=None,
        alias="resourceVersion",
        pattern=r"^[0-9]{1,18}$",
        description="Set by the server on every change. Send it back (or If-Match) to update only that version: "
        "a stale one is refused with 409.",
    )


# --- provider templates ------------------------------------------------------------------------


class CredentialPlacement(Model):
    """How the upstream credential is sent to the vendor."""

    location: Literal["header", "query"] = "header"
    name: str = Field(default="Authorization", description="Header or query parameter name.")
    prefix: str = Field(default="", description="Prepended to the secret value, e.g. 'Bearer '.")


class ModelLocation(Model):
    """Where the request model is: a top-level body field, or a path regex with one group."""

    body_field: str | None = Field(default="model", alias="bodyField")
    path_pattern: str | None = Field(default=None, alias="pathPattern")

    @field_validator("path_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                if re.compile(value).groups < 1:
                    raise ValueError("needs one capturing group for the model")
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class StreamDetection(Model):
    """How a request asks for a stream: a boolean body field, or a path regex."""

    body_flag: str | None = Field(default="stream", alias="bodyFlag")
    path_pattern: str | None = Field(default=None, alias="pathPattern")


class UsagePaths(Model):
    """Dotted JSON paths (first present wins) to the token counts, in JSON bodies and SSE event data."""

    prompt_tokens: list[str] = Field(default_factory=list, alias="promptTokens")
    completion_tokens: list[str] = Field(default_factory=list, alias="completionTokens")
    total_tokens: list[str] = Field(default_factory=list, alias="totalTokens")
    cached_tokens: list[str] = Field(
        default_factory=list, alias="cachedTokens", description="Prompt tokens read from the vendor's prompt cache."
    )


ErrorFormat = Literal["openai", "anthropic", "gemini", "mistral"]


class TemplateSpec(Model):
    """How to talk to one vendor API."""

    base_url: str | None = Field(default=None, alias="baseUrl", description="Default upstream URL.")
    credential: CredentialPlacement = Field(default_factory=CredentialPlacement)
    client_key_headers: list[str] = Field(
        default_factory=lambda: ["authorization"],
        alias="clientKeyHeaders",
        description="Vendor credential headers a client may send the gateway key in.",
    )
    default_headers: dict[str, str] = Field(
        default_factory=dict, alias="defaultHeaders", description="Sent upstream when the client sent none."
    )
    request_model: ModelLocation = Field(default_factory=ModelLocation, alias="requestModel")
    streaming: StreamDetection = Field(default_factory=StreamDetection)
    response_model: list[str] = Field(default_factory=lambda: ["model"], alias="responseModel")
    usage: UsagePaths = Field(default_factory=UsagePaths)
    finish_reasons: list[str] = Field(
        default_factory=list,
        alias="finishReasons",
        description="Dotted JSON paths to why the answer ended; `*` steps into every element of an array "
        "(`choices.*.finish_reason`). Reported in traces.",
    )
    error_format: ErrorFormat = Field(default="openai", alias="errorFormat")


class ProviderTemplate(Model):
    api_version: Literal["tollgate.dev/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["ProviderTemplate"] = "ProviderTemplate"
    metadata: Metadata
    spec: TemplateSpec


# --- providers and proxies ----------------------------------------------------------------------


class InboundSecurity(Model):
    """The Security tab: where the gateway looks for the API key."""

    enabled: bool = True
    location: Literal["header", "query"] = "header"
    name: str = Field(default=DEFAULT_KEY_HEADER, min_length=1, max_length=128)
    value_prefix: str = Field(default="", alias="valuePrefix", description="e.g. 'Bearer ' when the key is sent so.")
    accept_vendor_headers: bool = Field(
        default=True,
        alias="acceptVendorHeaders",
        description="Also accept the key from the vendor's own credential header (Authorization: Bearer, "
        "x-api-key, api-key, x-goog-api-key).",
    )

    @field_validator("name")
    @classmethod
    def _token(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value):
            raise ValueError("must be an HTTP token (letters, digits, '-', '_' ...)")
        return value


class SecretRef(Model):
    """A credential reference: a Secret resource by name, or an environment variable."""

    secret: str | None = Field(default=None, pattern=NAME_PATTERN)
    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.secret is None) == (self.env is None):
            raise ValueError("give exactly one of 'secret' or 'env'")
        return self


class Timeouts(Model):
    connect: float = Field(default=10.0, gt=0, le=600, description="Seconds to open the upstream connection.")
    first_byte: float = Field(
        default=300.0, gt=0, le=3600, alias="firstByte", description="Seconds until the upstream answers headers."
    )
    idle: float = Field(default=120.0, gt=0, le=3600, description="Seconds allowed between two body chunks.")
    pool: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Seconds a request waits for a free upstream connection when maxConnections are all busy (503).",
    )


def _check_origin(url: str) -> None:
    """What the gateway needs to connect: a host name it can encode and a port number in range."""
    parts = urlsplit(url)
    try:
        port = parts.port  # raises ValueError when the port is not a number in 0-65535
    except ValueError:
        raise ValueError("has an invalid port (a number from 1 to 65535)") from None
    if port == 0:
        raise ValueError("has an invalid port (a number from 1 to 65535)")
    host = parts.hostname or ""
    if not host:
        raise ValueError("must name a host")
    try:
        host.encode("idna")
    except UnicodeError:
        raise ValueError(f"has a host name that cannot be used: {host!r}") from None


#: In the JSON schema only, so generated clients know the shape; the validator words the error for people.
_CONTEXT_SCHEMA: dict[str, JsonValue] = {"pattern": r"^(/[A-Za-z0-9._~-]+)+/?$"}
_CONTEXT_DOC = (
    "Path prefix of the Invoke URL: '/name' or '/a/b' (letters, digits, '.', '_', '~', '-'); not '.' or '..' "
    "segments, not under /_tollgate; unique among providers and proxies."
)


class PolicyPath(Model):
    """Limits a policy to some vendor paths (below the context) and methods."""

    path: str = Field(min_length=1, max_length=512, description="Path below the context; '*' one segment, '**' any.")
    methods: list[Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]] = Field(
        default_factory=list, description="Methods it applies to; empty = all."
    )

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


class PolicyRef(Model):
    """One policy attached to a provider or proxy: a built-in policy name, its params, an optional path scope.

    The params are validated against the policy's own model here, so `apply` names the document, the
    policy's place in the list and the field of a bad parameter.
    """

    name: str = Field(min_length=1, max_length=64, description="A built-in policy, see `tollgate policies`.")
    params: dict[str, object] = Field(default_factory=dict, description="The policy's parameters.")
    paths: list[PolicyPath] = Field(
        default_factory=list, description="Apply only to these paths (and methods); empty = every request."
    )

    @model_validator(mode="after")
    def _params_valid(self) -> PolicyRef:
        from tollgate.errors import ResourceValidationError
        from tollgate.policies.registry import validate_params

        try:
            validate_params("", "", self.name, self.params)  # type: ignore[arg-type]
        except ResourceValidationError as exc:
            field = exc.field.lstrip(".")
            raise ValueError(f"policy {self.name!r}: {field}: {exc.reason}") from None
        return self


def _check_context(value: str) -> str:
    value = value.rstrip("/") if len(value) > 1 else value
    if not _CONTEXT_RE.match(value):
        raise ValueError("must look like '/name' or '/a/b' (letters, digits, '.', '_', '~', '-')")
    if any(segment in (".", "..") for segment in value.split("/")):
        raise ValueError("must not contain '.' or '..' segments (clients and proxies resolve them away)")
    if value == RESERVED_CONTEXT_PREFIX or value.startswith(RESERVED_CONTEXT_PREFIX + "/"):
        raise ValueError(f"{RESERVED_CONTEXT_PREFIX!r} and the paths below it are reserved for the gateway itself")
    return value


_ALLOW_SHADOWING = (
    "Allow this context to be nested inside, or to contain, another context deployed on the same gateway "
    "(the longest prefix wins, so the inner one takes that part of the outer one's traffic). Refused otherwise."
)


#: client APIs a route can serve in front of another vendor's backend (docs/routing-and-translation.md)
ClientApiName = Literal["openai", "anthropic"]
_CLIENT_API = (
    "The API clients of this route speak when it is not the template's own: 'openai' (Chat Completions) or "
    "'anthropic' (Messages); the gateway translates to and from the backend."
)


class ProviderSpec(Model):
    template: str = Field(pattern=NAME_PATTERN)
    context: str = Field(description=_CONTEXT_DOC, json_schema_extra=_CONTEXT_SCHEMA)
    upstream_url: str | None = Field(
        default=None, alias="upstreamUrl", description="Defaults to the template's baseUrl."
    )
    credential: SecretRef | None = None
    models: list[str] = Field(default_factory=list, description="Allow-list of request models; empty = any.")
    security: InboundSecurity = Field(default_factory=InboundSecurity)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    ca_bundle: str | None = Field(default=None, alias="caBundle", description="PEM file to verify the upstream with.")
    max_request_bytes: int = Field(
        default=10 * 1024 * 1024, alias="maxRequestBytes", gt=0, le=512 * 1024 * 1024, description="413 above this."
    )
    allow_shadowing: bool = Field(default=False, alias="allowShadowing", description=_ALLOW_SHADOWING)
    proxy: str | None = Field(
        default=None,
        description="Outbound HTTP proxy for this provider's upstream, http://host:port (CONNECT tunnel for https).",
    )
    proxy_credential: SecretRef | None = Field(
        default=None,
        alias="proxyCredential",
        description="user:password for the outbound proxy (Proxy-Authorization: Basic), from a Secret or env var.",
    )
    max_connections: int = Field(
        default=1000,
        alias="maxConnections",
        gt=0,
        le=100_000,
        description="Upstream connections at most (busy and idle); further requests wait up to timeouts.pool.",
    )
    client_api: ClientApiName | None = Field(default=None, alias="clientApi", description=_CLIENT_API)
    policies: list[PolicyRef] = Field(
        default_factory=list,
        max_length=64,
        description="Policies in request order; the baseline under every proxy on this provider.",
    )
    model_map: dict[str, str] = Field(
        default_factory=dict,
        alias="modelMap",
        description="Requested model -> model sent to the backend (e.g. a retired model name -> its successor).",
    )

    @field_validator("model_map")
    @classmethod
    def _model_map(cls, value: dict[str, str]) -> dict[str, str]:
        for source, target in value.items():
            if not source.strip() or not target.strip() or len(source) > 256 or len(target) > 256:
                raise ValueError(f"{source!r}: model names must be non-empty and at most 256 characters")
        return value

    @field_validator("context")
    @classmethod
    def _context(cls, value: str) -> str:
        return _check_context(value)

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
            raise ValueError("must look like http://host:port (no credentials)")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must not have a path or query")
        return value.rstrip("/")

    def secret_refs(self) -> dict[str, str]:
        """Field path -> name of each Secret this spec reads (its credential, its proxy's credential)."""
        refs = {"spec.credential.secret": self.credential, "spec.proxyCredential.secret": self.proxy_credential}
        return {path: ref.secret for path, ref in refs.items() if ref is not None and ref.secret is not None}

    @model_validator(mode="after")
    def _proxy_credential_needs_a_proxy(self) -> ProviderSpec:
        if self.proxy_credential is not None and self.proxy is None:
            raise ValueError("proxyCredential is set but proxy is not: name the proxy it is for")
        return self

    @field_validator("upstream_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an absolute http:// or https:// URL")
        if value is not None:
            _check_origin(value)
        return value.rstrip("/") if value else value


class LLMProvider(Model):
    api_version: Literal["tollgate.dev/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["LLMProvider"] = "LLMProvider"
    metadata: Metadata
    spec: ProviderSpec


class ProxySpec(Model):
    provider: str = Field(pattern=NAME_PATTERN)
    context: str = Field(description=_CONTEXT_DOC, json_schema_extra=_CONTEXT_SCHEMA)
    security: InboundSecurity = Field(default_factory=InboundSecurity)
    allow_shadowing: bool = Field(default=False, alias="allowShadowing", description=_ALLOW_SHADOWING)
    client_api: ClientApiName | None = Field(
        default=None, alias="clientApi", description=_CLIENT_API + " Overrides the provider's."
    )
    fallbacks: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(
        default_factory=list,
        description="Providers tried in order when the provider fails before the first byte (connect error, "
        "timeout, or an answer in retryStatuses); a target that fails to connect is passed over for a while.",
    )
    retry_statuses: list[Annotated[int, Field(ge=400, le=599)]] = Field(
        default_factory=lambda: [429, 500, 502, 503, 504, 529],
        alias="retryStatuses",
        description="Upstream statuses that send the request to the next attempt (with fallbacks, routing, "
        "failover or circuitBreaker set).",
    )
    routing: RoutingSpec | None = Field(
        default=None, description="How the first target is chosen among the provider and its fallbacks."
    )
    failover: FailoverSpec | None = Field(
        default=None, description="Attempts, retry budget and backoff when a target fails before the first byte."
    )
    circuit_breaker: CircuitBreakerSpec | None = Field(
        default=None, alias="circuitBreaker", description="When a failing target is suspended and how it comes back."
    )
    policies: list[PolicyRef] = Field(
        default_factory=list,
        max_length=64,
        description="Policies in request order, run after the provider's (responses: before them).",
    )

    @field_validator("context")
    @classmethod
    def _context(cls, value: str) -> str:
        return _check_context(value)

    @model_validator(mode="after")
    def _routing_names(self) -> ProxySpec:
        """Routing may name only this proxy's own providers (the provider and its fallbacks)."""
        names = [self.provider, *self.fallbacks]
        if len(set(names)) != len(names):
            raise ValueError("fallbacks: a provider appears twice (the provider or a fallback repeated)")
        routing = self.routing
        if routing is None:
            return self
        for alias, target in routing.aliases.items():
            if alias in names:
                raise ValueError(f"routing.aliases.{alias}: {alias!r} is already a provider's name")
            if target not in names:
                raise ValueError(
                    f"routing.aliases.{alias}: {target!r} is not one of this proxy's providers ({', '.join(names)})"
                )
        known = set(names) | set(routing.aliases)
        for field, name in routing.names_used().items():
            if name not in known:
                raise ValueError(f"{field}: {name!r} is not one of this proxy's providers ({', '.join(names)})")
        return self


class LLMProxy(Model):
    api_version: Literal["tollgate.dev/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["LLMProxy"] = "LLMProxy"
    metadata: Metadata
    spec: ProxySpec


# --- secrets and keys ---------------------------------------------------------------------------


class SecretSpec(Model):
    """A named credential. `value` is write-only: never returned, logged or echoed."""

    value: str | None = Field(default=None, min_length=1, repr=False)
    from_env: str | None = Field(default=None, alias="fromEnv", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretSpec:
        if (self.value is None) == (self.from_env is None):
            raise ValueError("give exactly one of 'value' or 'fromEnv'")
        return self


class Secret(Model):
    api_version: Literal["tollgate.dev/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Secret"] = "Secret"
    metadata: Metadata
    spec: SecretSpec


class KeyTarget(Model):
    kind: Literal["LLMProvider", "LLMProxy"]
    name: str = Field(pattern=NAME_PATTERN)


class APIKeySpec(Model):
    """A gateway API key for one provider or proxy. Without `valueFromEnv` the value is generated."""

    target: KeyTarget
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    value_from_env: str | None = Field(
        default=None,
        alias="valueFromEnv",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Take the key value from env.",
    )
    limits: KeyLimits | None = Field(
        default=None,
        description="The key's own limits, counted per key: requests, tokens and cost per window, and the "
        "models it may use (docs/policies.md, 'Limits on an API key').",
    )


class APIKey(Model):
    api_version: Literal["tollgate.dev/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["APIKey"] = "APIKey"
    metadata: Metadata
    spec: APIKeySpec


#: Hosts that mean "every interface" to a server but nothing a client can connect to.
_UNSPECIFIED_HOSTS = {"0", "0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"}


def check_base_url(value: str) -> str:
    """A gateway's public base URL: http(s), a connectable host, a valid port, no query or fragment."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL with a host")
    if parts.hostname in _UNSPECIFIED_HOSTS or parts.netloc.split("@")[-1].split(":")[0] in _UNSPECIFIED_HOSTS:
        raise ValueError(f"host {parts.hostname!r} is not an address clients can reach; give the public host name")
    if port == 0:
        raise ValueError("port 0 is not a port clients can reach")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must not have credentials, a query or a fragment")
    if any(c.isspace() or c == "\x00" for c in value):
        raise ValueError("must not contain spaces or NUL characters")
    return value.rstrip("/")


class GatewaySpec(Model):
    base_url: str = Field(
        default="http://127.0.0.1:8080", alias="baseUrl", max_length=2048, description="Public URL of the data plane."
    )

    _url = field_validator("base_url")(check_base_url)


class Gateway(Model):
    api_version: Literal["tollgate.dev/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Gateway"] = "Gateway"
    metadata: Metadata
    spec: GatewaySpec = Field(default_factory=GatewaySpec)


Resource = ProviderTemplate | LLMProvider | LLMProxy | Secret | APIKey | Gateway
KINDS: dict[str, type[Resource]] = {
    "ProviderTemplate": ProviderTemplate,
    "LLMProvider": LLMProvider,
    "LLMProxy": LLMProxy,
    "Secret": Secret,
    "APIKey": APIKey,
    "Gateway": Gateway,
}
