"""Reading resource documents from YAML files into validated pydantic models.

Every error names the document (file, 1-based document index, kind/name when known), the field path
and the reason in plain words, and all errors of a load are collected before raising. Cross-resource
checks (missing providers, colliding contexts) are `resources.integrity`'s job, not this module's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from tollgate.errors import ResourceValidationError, ResourceValidationGroupError, raise_validation_errors
from tollgate.resources.models import API_VERSION, KINDS, NAME_PATTERN, Resource

YAML_SUFFIXES = (".yaml", ".yml")


def load_documents(path: Path) -> list[Resource]:
    """All resources of a YAML file, or of every *.yaml / *.yml file of a directory (sorted by name).

    Files may hold several documents (`---`); empty documents are skipped. Raises
    `ResourceValidationError` (a `ResourceValidationGroupError` when there are several) naming each
    bad document, field and reason; nothing is returned unless every document is valid.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)
    elif path.is_file():
        files = [path]
    else:
        raise ResourceValidationError(str(path), "", "no such file or directory")
    resources: list[Resource] = []
    errors: list[ResourceValidationError] = []
    for file in files:
        try:
            resources.extend(_load_file(file))
        except ResourceValidationError as exc:
            errors.extend(_flatten(exc))
    errors.extend(_duplicates(resources))
    raise_validation_errors(errors)
    return resources


def parse_document(obj: object, source: str) -> Resource:
    """Validate one decoded document into its model, chosen by `kind`.

    `source` names the document in messages (e.g. "providers.yaml document 2"). Raises
    `ResourceValidationError`, or a group of them when several fields are wrong.
    """
    if not isinstance(obj, Mapping):
        raise ResourceValidationError(source, "", f"a document must be a mapping, not {_type_name(obj)}")
    kind = obj.get("kind")
    name = _name_of(obj)
    label = _label(source, kind if isinstance(kind, str) else None, name)
    if kind is None:
        raise ResourceValidationError(label, "kind", f"is required (one of {', '.join(KINDS)})")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ResourceValidationError(label, "kind", f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    version = obj.get("apiVersion")
    if version is None:
        raise ResourceValidationError(label, "apiVersion", f"is required (use {API_VERSION!r})")
    if version != API_VERSION:
        raise ResourceValidationError(label, "apiVersion", f"unsupported version {version!r} (use {API_VERSION!r})")
    try:
        return KINDS[kind].model_validate(dict(obj))
    except ValidationError as exc:
        raise_validation_errors([_from_pydantic(label, err, kind) for err in exc.errors(include_url=False)])
        raise  # unreachable: pydantic never raises an empty ValidationError


def _load_file(file: Path) -> list[Resource]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResourceValidationError(str(file), "", f"cannot read the file ({exc.__class__.__name__})") from exc
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ResourceValidationError(str(file), "", f"not valid YAML: {_yaml_reason(exc)}") from exc
    resources: list[Resource] = []
    errors: list[ResourceValidationError] = []
    for index, obj in enumerate(documents, start=1):
        if obj is None:
            continue
        try:
            resources.append(parse_document(obj, f"{file} document {index}"))
        except ResourceValidationError as exc:
            errors.extend(_flatten(exc))
    raise_validation_errors(errors)
    return resources


def _duplicates(resources: Iterable[Resource]) -> list[ResourceValidationError]:
    seen: set[tuple[str, str]] = set()
    errors: list[ResourceValidationError] = []
    for resource in resources:
        key = (resource.kind, resource.metadata.name)
        if key in seen:
            errors.append(
                ResourceValidationError(f"{key[0]} {key[1]!r}", "metadata.name", "defined more than once in the input")
            )
        seen.add(key)
    return errors


def _flatten(exc: ResourceValidationError) -> list[ResourceValidationError]:
    return list(exc.errors) if isinstance(exc, ResourceValidationGroupError) else [exc]


def _from_pydantic(label: str, err: ErrorDetails, kind: str) -> ResourceValidationError:
    field = ".".join(str(part) for part in err["loc"])
    return ResourceValidationError(label, field, _reason(err, kind))


def _reason(err: ErrorDetails, kind: str) -> str:
    """Pydantic's message, reworded where it is cryptic (patterns, extras, missing fields)."""
    kind_of_error = err["type"]
    ctx = err.get("ctx") or {}
    if kind_of_error == "missing":
        return "is required"
    if kind_of_error == "extra_forbidden":
        return f"unknown field (not part of the {kind} schema; check the spelling)"
    if kind_of_error == "string_pattern_mismatch":
        if ctx.get("pattern") == NAME_PATTERN:
            return "must be a name of lower-case letters, digits and '-' (1-63 chars, not starting or ending in '-')"
        return f"must match the pattern {ctx.get('pattern')!r}"
    if kind_of_error in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    message = err["msg"]
    return message[0].lower() + message[1:] if message else kind_of_error


def _name_of(obj: Mapping[object, object]) -> str | None:
    metadata = obj.get("metadata")
    if isinstance(metadata, Mapping):
        name = metadata.get("name")
        if isinstance(name, str):
            return name
    return None


def _label(source: str, kind: str | None, name: str | None) -> str:
    if kind and name:
        return f"{source} ({kind} {name!r})"
    if kind:
        return f"{source} ({kind})"
    if name:
        return f"{source} ({name!r})"
    return source


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)


def _type_name(obj: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(obj), type(obj).__name__
    )
