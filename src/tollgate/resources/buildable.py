"""What keeps a valid document from being built into a route, checked when it is applied.

Field validation (`resources.models`) sees values only; a provider also names things outside the
document, today its `caBundle` file. Checking them when the resource is applied (API, `tollgate
apply`, `serve --config`) turns a route that would fail on every gateway into a 422 naming the
resource and field. The file is checked where the control plane runs: gateways must see the same
path (one image, or the same mount), which is what the docs ask for.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path

from tollgate.errors import ResourceValidationError
from tollgate.resources.models import LLMProvider, Resource


def ca_bundle_problem(path: str) -> str | None:
    """Why `path` cannot verify upstream TLS (missing, not a file, unreadable, no PEM certificate), or None."""
    file = Path(path)
    if not file.is_absolute():
        return f"must be an absolute path (got {path!r}): a relative one depends on where each node runs"
    if not file.exists():
        return f"file {path!r} does not exist"
    if not file.is_file():
        return f"{path!r} is not a file"
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError:
        return f"file {path!r} holds no PEM certificate"
    except OSError as exc:
        return f"file {path!r} cannot be read ({exc.strerror or type(exc).__name__})"
    return None


def build_errors(resources: Iterable[Resource]) -> list[ResourceValidationError]:
    """Every reason one of `resources` could not be built into a route, as validation errors (empty if none)."""
    errors: list[ResourceValidationError] = []
    for resource in resources:
        if isinstance(resource, LLMProvider) and resource.spec.ca_bundle is not None:
            problem = ca_bundle_problem(resource.spec.ca_bundle)
            if problem is not None:
                errors.append(
                    ResourceValidationError(f"LLMProvider {resource.metadata.name!r}", "spec.caBundle", problem)
                )
    return errors
