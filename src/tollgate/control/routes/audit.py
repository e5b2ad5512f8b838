"""The audit log: list with filters and a cursor, newest first, or export it all as JSON lines or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from tollgate.control.access_schemas import AuditEntryInfo, AuditPage
from tollgate.control.deps import StoreDep
from tollgate.errors import ResourceValidationError
from tollgate.store.audit_log import MAX_PAGE, AuditEntry, AuditFilter

router = APIRouter(tags=["audit"])
CSV_COLUMNS = ("id", "time", "actor", "actorUserId", "actorTokenId", "action", "kind", "name", "method", "path")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def audit_filter(
    since: Annotated[datetime | None, Query(description="Entries at or after this time (UTC if no offset).")] = None,
    until: Annotated[datetime | None, Query(description="Entries before this time.")] = None,
    actor: Annotated[str | None, Query(max_length=63, description="Only this user's changes.")] = None,
    kind: Annotated[str | None, Query(max_length=32, description="LLMProvider, Secret, APIKey, User, ...")] = None,
    name: Annotated[str | None, Query(max_length=255)] = None,
    action: Annotated[str | None, Query(max_length=32, description="create, update, delete, deploy, ...")] = None,
) -> AuditFilter:
    return AuditFilter(since=_utc(since), until=_utc(until), actor=actor, kind=kind, name=name, action=action)


FilterDep = Annotated[AuditFilter, Depends(audit_filter)]


def entry_info(entry: AuditEntry) -> AuditEntryInfo:
    return AuditEntryInfo(
        id=entry.id,
        time=entry.ts,
        actor=entry.actor,
        actor_user_id=entry.actor_user_id,
        actor_token_id=entry.actor_token_id,
        action=entry.action,
        kind=entry.kind,
        name=entry.name,
        method=entry.method,
        path=entry.path,
        before=entry.before,
        after=entry.after,
    )


@router.get("/audit")
def list_audit(
    store: StoreDep,
    where: FilterDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=20,
            description="`nextCursor` of the previous page (an entry id).",
            json_schema_extra={"pattern": "^[0-9]+$"},
        ),
    ] = None,
) -> AuditPage:
    """Entries newest first, `limit` a page; follow `nextCursor` for older ones."""
    if cursor is not None and not cursor.isdigit():
        raise ResourceValidationError("request query", "cursor", "is not a cursor this API gave out")
    entries = store.audit.page(where, after_id=int(cursor) if cursor else None, limit=limit)
    next_cursor = str(entries[-1].id) if len(entries) == limit else None
    return AuditPage(items=[entry_info(e) for e in entries], next_cursor=next_cursor)


def _jsonl(entries: Iterator[AuditEntry]) -> Iterator[str]:
    for entry in entries:
        yield entry_info(entry).model_dump_json(by_alias=True) + "\n"


def _csv(entries: Iterator[AuditEntry]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "before", "after"])
    for entry in entries:
        row = entry_info(entry).model_dump(mode="json", by_alias=True)
        writer.writerow([*(row[c] for c in CSV_COLUMNS), json.dumps(entry.before), json.dumps(entry.after)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}, "description": "The entries."}},
)
def export_audit(
    store: StoreDep, where: FilterDep, format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl"
) -> StreamingResponse:
    """Every matching entry, newest first, streamed: JSON lines (one entry per line) or CSV
    (before and after as JSON text in the last two columns)."""
    entries = store.audit.iterate(where)
    if format == "csv":
        return StreamingResponse(_csv(entries), media_type="text/csv")
    return StreamingResponse(_jsonl(entries), media_type="application/x-ndjson")
