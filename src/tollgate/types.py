"""Leaf type aliases shared by every layer; imports nothing from tollgate."""

from __future__ import annotations

from typing import TypeAlias

#: Header list as it travels on the data plane: raw bytes, names lower-cased, order kept.
HeaderList: TypeAlias = list[tuple[bytes, bytes]]

#: A decoded JSON value (the only `Any`-like type allowed in public signatures).
JSONValue: TypeAlias = "dict[str, JSONValue] | list[JSONValue] | str | int | float | bool | None"
JSONObject: TypeAlias = "dict[str, JSONValue]"
