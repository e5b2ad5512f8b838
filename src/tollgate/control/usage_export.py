"""Usage export encodings: CSV (a header, then a line per record) and a JSON array, produced page by page.

A generator of text chunks, so the export streams and holds one page in memory at a time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from tollgate.control.usage_schemas import UsageRecordInfo

EXPORT_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
#: CSV columns: the JSON field names, in the same order.
CSV_COLUMNS = tuple(field.alias or name for name, field in UsageRecordInfo.model_fields.items())


def export_lines(pages: Iterable[list[UsageRecordInfo]], fmt: str) -> Iterator[str]:
    """The export of every record in `pages`, in `fmt` ("csv" or "json"), one chunk per page."""
    if fmt == "csv":
        yield _csv_chunk([list(CSV_COLUMNS)])
        for page in pages:
            if page:
                yield _csv_chunk([_csv_row(record) for record in page])
        return
    yield "["
    first = True
    for page in pages:
        if not page:
            continue
        body = ",\n".join(record.model_dump_json(by_alias=True) for record in page)
        yield ("\n" if first else ",\n") + body
        first = False
    yield "\n]\n" if not first else "]\n"


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_row(record: UsageRecordInfo) -> list[object]:
    """One record's cells; client-supplied text that a spreadsheet would run as a formula gets a leading '."""
    data = record.model_dump(by_alias=True, mode="json")
    cells: list[object] = []
    for column in CSV_COLUMNS:
        value = data[column]
        if value is None:
            value = ""
        elif isinstance(value, str) and value.startswith(_FORMULA_START):
            value = "'" + value
        cells.append(value)
    return cells


def _csv_chunk(rows: list[list[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()
