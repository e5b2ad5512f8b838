"""Times on the command line: durations (`30m`, `12h`, `90d`, `2w`) and instants (ISO 8601 or a duration ago)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, option: str) -> timedelta:
    """'30m', '12h', '90d', '2w' -> timedelta; click.BadParameter (naming `option`) otherwise."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise click.BadParameter("use a number and a unit: 30m, 12h, 90d, 2w", param_hint=option)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_instant(text: str, option: str) -> str:
    """An ISO 8601 time (UTC if no offset) or a duration ago ('24h' = a day ago), as ISO text for the API."""
    if _DURATION.match(text.strip()):
        return (datetime.now(UTC) - parse_duration(text, option)).isoformat()
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "use ISO 8601 (2026-12-01T09:00:00) or a duration ago (24h)", param_hint=option
        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def expiry(expires_in: str | None, expires_at: str | None) -> str | None:
    """The expiry to send for --expires-in / --expires-at (at most one), or None."""
    if expires_in and expires_at:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    if expires_in:
        return (datetime.now(UTC) + parse_duration(expires_in, "--expires-in")).isoformat()
    return parse_instant(expires_at, "--expires-at") if expires_at else None
