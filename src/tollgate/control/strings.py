"""Input hygiene the models cannot express: NUL characters, which PostgreSQL cannot store in text or JSONB."""

from __future__ import annotations

from tollgate.errors import ResourceValidationError


def reject_nul(value: object, document: str, path: str = "") -> None:
    """Raise ResourceValidationError naming the field of the first string holding a NUL character."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ResourceValidationError(document, path, "must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key, document, path)
            reject_nul(item, document, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            reject_nul(item, document, f"{path}[{index}]")
