"""A form per built-in policy, drawn from the JSON Schema of its params (GET /api/v1/policies), and back.

Simple fields get their own input (enum: a select, boolean: a checkbox, number, text, a list of
strings: one per line); a field whose shape a form cannot hold (a list of objects, such as
rate-limit windows) is a small YAML box for that field alone. The values are only converted here:
the API validates them, and its message names the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from starlette.datastructures import FormData

PARAM_PREFIX = "p."
#: Console tab -> the policy categories it shows.
TAB_CATEGORIES = {"access": ("access",), "limits": ("limits",), "guardrails": ("guardrails", "prompts")}


@dataclass(frozen=True, slots=True)
class ParamField:
    """One input of a policy's form."""

    name: str
    widget: str  # select, checkbox, number, text, lines, yaml
    required: bool
    description: str
    default: Any
    choices: tuple[str, ...] = ()

    @property
    def input_name(self) -> str:
        return PARAM_PREFIX + self.name

    def shown(self, params: dict[str, Any]) -> str:
        """The field's current value as the input shows it."""
        value = params.get(self.name, self.default)
        if value is None:
            return ""
        if self.widget == "lines":
            return "\n".join(str(v) for v in value)
        if self.widget == "yaml":
            return yaml.safe_dump(value, sort_keys=False, default_flow_style=False).strip() if value != [] else ""
        if self.widget == "checkbox":
            return "on" if value else ""
        return str(value)


def _simple(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, null]` -> X (an optional field is just an empty input)."""
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    return options[0] if len(options) == 1 else schema


def param_fields(schema: dict[str, Any]) -> list[ParamField]:
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        shape = _simple(prop)
        kind = shape.get("type")
        if "enum" in shape:
            widget = "select"
        elif kind == "boolean":
            widget = "checkbox"
        elif kind in ("integer", "number"):
            widget = "number"
        elif kind == "string" or (
            "anyOf" in shape and all(o.get("type") in ("integer", "string") for o in shape["anyOf"])
        ):
            widget = "text"
        elif (
            kind == "array" and shape.get("items", {}).get("type") == "string" and "enum" not in shape.get("items", {})
        ):
            widget = "lines"
        else:
            widget = "yaml"
        choices = tuple(str(c) for c in shape.get("enum", ()))
        description = str(prop.get("description", ""))
        fields.append(ParamField(name, widget, name in required, description, prop.get("default"), choices))
    return fields


class ParamError(ValueError):
    """A value the form could not even convert (YAML that does not parse): names the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def params_from_form(fields: list[ParamField], form: FormData) -> dict[str, Any]:
    """The params object: only fields given a value (or a checkbox that differs from its default)."""
    params: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.input_name, "")
        text = raw.strip() if isinstance(raw, str) else ""
        if field.widget == "checkbox":
            value = field.input_name in form
            if value != bool(field.default):
                params[field.name] = value
            continue
        if not text:
            continue
        if field.widget == "number":
            params[field.name] = _number(text)
        elif field.widget == "lines":
            params[field.name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif field.widget == "yaml":
            try:
                params[field.name] = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ParamError(field.input_name, f"not valid YAML: {str(exc).splitlines()[0]}") from None
        elif field.widget == "text" and text.isdigit() and field.name in ("per",):
            params[field.name] = int(text)
        else:
            params[field.name] = text
    return params


def _number(text: str) -> int | float | str:
    """An int or float; anything else goes as typed (the API's error then names the field)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
