"""Rendering of usage summaries for people (an aligned table) and programs (JSON); no store access."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from tollgate.store.records import UsageSummaryRow

_HEADERS = ("requests", "errors", "prompt", "completion", "total", "p50 ms")
#: Shown for records without the grouped field (e.g. requests to a provider directly, grouped by proxy).
NONE_LABEL = "(none)"


def format_table(rows: Sequence[UsageSummaryRow], group_by: str) -> str:
    """A plain-text table: one line per group, numbers right-aligned, a total line when several groups."""
    lines: list[list[str]] = [[group_by, *_HEADERS]]
    for row in rows:
        lines.append([row.group if row.group is not None else NONE_LABEL, *_numbers(row)])
    if len(rows) > 1:
        lines.append(["total", *_numbers(_total(rows))])
    if not rows:
        return "no usage recorded in this period"
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def format_json(rows: Sequence[UsageSummaryRow], group_by: str) -> str:
    """JSON: {"group_by": ..., "rows": [{group, requests, errors, prompt_tokens, ...}, ...]}."""
    return json.dumps({"group_by": group_by, "rows": [asdict(row) for row in rows]}, indent=2)


def _numbers(row: UsageSummaryRow) -> list[str]:
    p50 = "-" if row.p50_latency_ms is None else f"{row.p50_latency_ms:.1f}"
    counts = (row.requests, row.errors, row.prompt_tokens, row.completion_tokens, row.total_tokens)
    return [f"{n:,}" for n in counts] + [p50]


def _total(rows: Sequence[UsageSummaryRow]) -> UsageSummaryRow:
    return UsageSummaryRow(
        group="total",
        requests=sum(r.requests for r in rows),
        errors=sum(r.errors for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        total_tokens=sum(r.total_tokens for r in rows),
        p50_latency_ms=None,
    )
