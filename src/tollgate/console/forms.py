"""Form bodies to resource fields and back: what a console form posts becomes the API's JSON, unchanged.

No validation happens here beyond reading the form: the API decides, and its errors come back by
field path (`spec.context`) to be shown beside the input that posted it.
"""

from __future__ import annotations

from starlette.datastructures import FormData

from tollgate.console.api import ApiError


def text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def checked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def lines(form: FormData, name: str) -> list[str]:
    """A textarea of one item per line (or comma-separated), empty lines dropped."""
    raw = text(form, name).replace(",", "\n")
    return [line.strip() for line in raw.splitlines() if line.strip()]


def field_errors(
    exc: ApiError, known: set[str], kind_prefixes: dict[str, str] | None = None
) -> tuple[dict[str, str], str | None]:
    """Errors by form field, and a message for the rest (None when every error has its field).

    An API field path may be deeper than the form's field (`spec.security.name` -> `spec.security.name`,
    `spec.policies.0.params.x` -> `spec.policies`): the longest known prefix takes it.
    """
    by_field: dict[str, str] = {}
    rest: list[str] = []
    for detail in exc.details:
        path = detail.get("field", "")
        resource = detail.get("resource", "")
        for kind, prefix in (kind_prefixes or {}).items():
            if resource.startswith(kind + " ") and path:
                path = prefix + path
        target = _known_prefix(path, known)
        if target is None:
            rest.append(f"{path}: {detail.get('reason', '')}" if path else detail.get("reason", ""))
        else:
            by_field.setdefault(target, detail.get("reason", ""))
    if not exc.details:
        rest.append(exc.message)
    return by_field, ("; ".join(r for r in rest if r) or None) if rest else None


def _known_prefix(path: str, known: set[str]) -> str | None:
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None
