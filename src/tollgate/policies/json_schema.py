"""`json-schema-guardrail`: accept text that is JSON valid against a JSON Schema (structured answers).

Needs the whole text: on streams it decides at the end (a prefix of JSON is not JSON), so a stream
is relayed as it comes and an invalid one ends with an in-band error event instead of its normal end.
Markdown code fences around the JSON (```json ... ```) are tolerated. The schema is compiled once.
"""

from __future__ import annotations

import re

import jsonschema_rs
import orjson
from pydantic import Field, field_validator

from tollgate.policies.env import BuildEnv
from tollgate.policies.guardrail import GuardParams, Guardrail

__all__ = ["NAME", "JSONSchemaParams", "build"]

NAME = "json-schema-guardrail"
DESCRIPTION = "Accept text that parses as JSON valid against the schema (decided on the whole text)."

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


class JSONSchemaParams(GuardParams):
    json_schema: dict[str, object] = Field(
        alias="schema", description="The JSON Schema (draft 2020-12 unless $schema says)."
    )

    @field_validator("json_schema")
    @classmethod
    def _schema_compiles(cls, value: dict[str, object]) -> dict[str, object]:
        try:
            jsonschema_rs.validator_for(value)
        except (jsonschema_rs.ValidationError, ValueError) as exc:
            raise ValueError(f"not a valid JSON Schema: {exc}") from None
        return value


class JSONSchemaRule:
    def __init__(self, params: JSONSchemaParams) -> None:
        self._validator = jsonschema_rs.validator_for(params.json_schema)

    def evaluate(self, text: str) -> tuple[bool, str]:
        fenced = _FENCE.match(text)
        try:
            document = orjson.loads(fenced.group(1) if fenced else text)
        except orjson.JSONDecodeError:
            return False, "the text is not JSON"
        for error in self._validator.iter_errors(document):
            where = "/".join(str(p) for p in error.instance_path) or "(root)"
            return False, f"the JSON does not match the schema at {where}: {error.message}"
        return True, "the JSON matches the schema"

    def early(self, text: str, new_from: int) -> str | None:
        return None


def build(params: JSONSchemaParams, env: BuildEnv) -> Guardrail:
    return Guardrail(NAME, params, JSONSchemaRule(params))
