"""The one exception hierarchy of Tollgate.

    TollgateError
    ├── GatewayError                 a response the gateway makes itself (status, code, message)
    │   ├── AuthenticationError      401: missing, wrong, expired or revoked API key
    │   ├── PermissionDeniedError    403: key valid but not for this resource / path
    │   │   └── KeyModelDeniedError  403: request model outside the API key's own model list
    │   ├── RouteNotFoundError       404: no deployment owns this context
    │   ├── ModelNotAllowedError     400: request model outside the provider's allow-list
    │   ├── BadRequestError          400: malformed JSON where the gateway must read the body
    │   ├── PayloadTooLargeError     413: request body over the configured limit
    │   ├── RateLimitedError         429: a limit was hit (carries retry_after)
    │   ├── GuardrailError           400/422: a guardrail refused the content
    │   └── UpstreamError            502/504: the vendor could not be reached or misbehaved
    │       ├── UpstreamConnectError     502: connect refused / DNS / TLS failure
    │       ├── UpstreamTimeoutError     504: connect, first-byte or idle timeout
    │       ├── UpstreamProtocolError    502: the upstream broke HTTP framing
    │       └── UpstreamUnavailableError 503: every target of the route is suspended (circuit breaker)
    ├── ResourceValidationError      a resource document is invalid (carries document and field path)
    │   └── ResourceValidationGroupError  several such errors at once (`errors` lists each)
    ├── ResourceNotFoundError        the store has no resource / key / deployment of that name
    ├── ResourceConflictError        a change the store refuses (delete a provider a proxy still uses)
    ├── AccessDeniedError            403 of the management API: the caller's role lacks a permission
    ├── SecretKeyError               the secret encryption key is missing, malformed or does not match
    └── ListenError                  a port cannot be bound (in use, no permission): names the port

Messages never contain secrets, keys or bodies: they are shown to clients and written to logs.
"""

from __future__ import annotations


class TollgateError(Exception):
    """Base of every error Tollgate raises on purpose."""


class GatewayError(TollgateError):
    """A response the gateway produces itself; rendered in the route's vendor error shape."""

    status: int = 500
    code: str = "gateway_error"
    #: The vendor-neutral error category; providers map it to their own `type` strings.
    kind: str = "api_error"
    #: Extra response headers of this error (a limit's `x-ratelimit-*`), added by every error shaper.
    headers: list[tuple[bytes, bytes]] | tuple[()] = ()

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        if status is not None:
            self.status = status


class AuthenticationError(GatewayError):
    status = 401
    code = "invalid_api_key"
    kind = "authentication_error"


class PermissionDeniedError(GatewayError):
    status = 403
    code = "permission_denied"
    kind = "permission_error"


class KeyModelDeniedError(PermissionDeniedError):
    code = "model_not_allowed"


class RouteNotFoundError(GatewayError):
    status = 404
    code = "not_found"
    kind = "not_found_error"


class BadRequestError(GatewayError):
    status = 400
    code = "invalid_request"
    kind = "invalid_request_error"


class ModelNotAllowedError(BadRequestError):
    code = "model_not_allowed"


class PayloadTooLargeError(GatewayError):
    status = 413
    code = "request_too_large"
    kind = "request_too_large"


class RateLimitedError(GatewayError):
    status = 429
    code = "rate_limit_exceeded"
    kind = "rate_limit_error"


class GuardrailError(GatewayError):
    status = 400
    code = "guardrail_violation"
    kind = "invalid_request_error"


class UpstreamError(GatewayError):
    status = 502
    code = "upstream_error"
    kind = "api_error"


class UpstreamConnectError(UpstreamError):
    code = "upstream_unreachable"


class UpstreamTimeoutError(UpstreamError):
    status = 504
    code = "upstream_timeout"
    kind = "timeout_error"


class UpstreamProtocolError(UpstreamError):
    code = "upstream_protocol_error"


class UpstreamUnavailableError(UpstreamError):
    status = 503
    code = "upstream_unavailable"


class ResourceValidationError(TollgateError):
    """A resource document failed validation: names the document, the field path and the reason."""

    def __init__(self, document: str, field: str, reason: str) -> None:
        self.document = document
        self.field = field
        self.reason = reason
        where = f"{document}: {field}" if field else document
        super().__init__(f"{where}: {reason}")


class ResourceValidationGroupError(ResourceValidationError):
    """Several validation errors found in one pass (a file, a set of documents): `errors` lists each.

    Its own `document`, `field` and `reason` are the first error's, so a caller that only handles
    `ResourceValidationError` still gets a precise message; `str()` lists every error, one per line.
    """

    def __init__(self, errors: list[ResourceValidationError]) -> None:
        if not errors:
            raise ValueError("ResourceValidationGroupError needs at least one error")
        first = errors[0]
        super().__init__(first.document, first.field, first.reason)
        self.errors = list(errors)
        self.args = (f"{len(errors)} validation errors:\n" + "\n".join(f"  {e}" for e in errors),)


def raise_validation_errors(errors: list[ResourceValidationError]) -> None:
    """Raise nothing for no errors, the error itself for one, a group for several."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ResourceValidationGroupError(errors)


class ResourceNotFoundError(TollgateError):
    """The store has no resource, secret, key or deployment by that kind and name (HTTP 404)."""


class ResourceConflictError(TollgateError):
    """The store refuses a change that would break another resource, e.g. deleting a used provider (HTTP 409)."""


class AccessDeniedError(TollgateError):
    """The management API caller is authenticated, but its role does not grant `permission` (HTTP 403)."""

    def __init__(self, permission: str, role: str) -> None:
        super().__init__(f"permission denied: {permission} is not granted to role {role!r}")
        self.permission = permission
        self.role = role


class SecretKeyError(TollgateError):
    """The key that encrypts secrets at rest is malformed, unreadable, or not the one a secret was written with."""


class ListenError(TollgateError):
    """`serve` cannot bind one of its ports; the message names the address, the port and the reason."""
