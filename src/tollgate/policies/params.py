"""The base of every policy's `Params` model and the small parameter types several policies share.

Params are validated when a policy is applied (control plane) and compiled once at snapshot compile;
nothing here runs per request. Field names are camelCase in documents, snake_case in Python.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["Duration", "PolicyParams", "Side", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAMED = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_DURATION_RE = re.compile(r"^(\d+)\s*([smhd])$")
#: Longest window a limit may count over (31 days).
MAX_WINDOW_SECONDS = 31 * 86400


class PolicyParams(BaseModel):
    """Base of every `Params`: unknown fields are errors, documents use camelCase, instances are frozen."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


def parse_duration(value: object) -> object:
    """`minute`, `hour`, `day`, `week`, `second`, `90s`, `5m`, `2h`, `1d` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 'minute', '90s', '5m', '1d' or seconds")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in _NAMED:
            seconds = _NAMED[text]
        elif (match := _DURATION_RE.match(text)) is not None:
            seconds = int(match.group(1)) * _UNITS[match.group(2)]
        elif text.isdigit():
            seconds = int(text)
        else:
            raise ValueError(f"{value!r} is not a duration such as 'minute', '90s', '5m', '1d'")
    else:
        raise ValueError("must be a duration such as 'minute', '90s', '5m', '1d' or seconds")
    if not 1 <= seconds <= MAX_WINDOW_SECONDS:
        raise ValueError(f"must be between 1 second and {MAX_WINDOW_SECONDS // 86400} days")
    return seconds


#: A window length in seconds, written as `minute`, `5m`, `1d` or a number of seconds.
Duration = Annotated[int, BeforeValidator(parse_duration, json_schema_input_type=int | str)]

#: Which side of the exchange a guardrail checks.
Side = Literal["request", "response", "both"]
