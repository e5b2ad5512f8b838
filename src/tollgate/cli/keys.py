"""`tollgate keys create|list|update|regenerate|revoke|delete`: gateway API keys through the management API."""

from __future__ import annotations

from datetime import datetime

import click

from tollgate.cli._app import Application, api_command
from tollgate.cli._columns import KEY_COLUMNS
from tollgate.cli._kinds import deployable_kind


@click.group()
def keys() -> None:
    """Create, list, update, regenerate, revoke and delete gateway API keys."""


def _key_id(key: str) -> str:
    """A key id from an id or a full tg_<id>_... value."""
    return key[3:15] if key.startswith("tg_") else key


def _metadata(pairs: tuple[str, ...]) -> dict[str, str] | None:
    if not pairs:
        return None
    items: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--meta")
        items[key] = value
    return items


_DATES = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])
#: `--limit WHAT=AMOUNT/PER` names -> (list in `limits`, amount field, tokens counted)
_LIMIT_KINDS: dict[str, tuple[str, str, str | None]] = {
    "requests": ("requests", "requests", None),
    "tokens": ("tokens", "tokens", "total"),
    "prompt-tokens": ("tokens", "tokens", "prompt"),
    "completion-tokens": ("tokens", "tokens", "completion"),
    "cost": ("cost", "usd", None),
}
_LIMIT_HELP = (
    "The key's own limit WHAT=AMOUNT/PER (repeatable): WHAT is requests, tokens, prompt-tokens, "
    "completion-tokens or cost (US dollars); PER is second, minute, hour, day, week, 90s, 5m, 1d. "
    "E.g. --limit requests=60/minute --limit cost=5/day."
)


def _limits(specs: tuple[str, ...], models: tuple[str, ...]) -> dict[str, object] | None:
    """The `limits` object of `--limit` and `--model` options (None when neither was given); the
    management API validates the values and names the field of a bad one."""
    if not specs and not models:
        return None
    out: dict[str, list[object]] = {}
    for spec in specs:
        what, sep, rest = spec.partition("=")
        amount, slash, per = rest.partition("/")
        kind = _LIMIT_KINDS.get(what.strip().lower())
        if not sep or not slash or kind is None or not amount.strip() or not per.strip():
            raise click.BadParameter(
                f"{spec!r} is not WHAT=AMOUNT/PER with WHAT one of {', '.join(_LIMIT_KINDS)}", param_hint="--limit"
            )
        field, amount_field, counted = kind
        try:
            value: float = float(amount) if field == "cost" else int(amount)
        except ValueError:
            raise click.BadParameter(f"{amount!r} in {spec!r} is not a number", param_hint="--limit") from None
        window: dict[str, object] = {amount_field: value, "per": per.strip()}
        if counted is not None:
            window["count"] = counted
        out.setdefault(field, []).append(window)
    if models:
        out["models"] = list(models)
    return dict(out)


@keys.command("create")
@click.argument("kind")
@click.argument("target")
@click.option("--name", "key_name", required=True, help="A name for the key (e.g. the team or app).")
@click.option("--expires-at", type=_DATES, help="UTC expiry.")
@click.option("--meta", "meta", multiple=True, help="KEY=VALUE metadata (repeatable), e.g. team=search.")
@click.option("--limit", "limit", multiple=True, help=_LIMIT_HELP)
@click.option("--model", "model", multiple=True, help="A model the key may use (repeatable; '*' patterns allowed).")
@api_command
def create(
    app: Application,
    kind: str,
    target: str,
    key_name: str,
    expires_at: datetime | None,
    meta: tuple[str, ...],
    limit: tuple[str, ...],
    model: tuple[str, ...],
) -> None:
    """Issue a key for provider or proxy TARGET; the value is printed this once."""
    body = {
        "name": key_name,
        "target": {"kind": deployable_kind(kind), "name": target},
        "expiresAt": expires_at.isoformat() + "Z" if expires_at else None,
        "metadata": _metadata(meta),
        "limits": _limits(limit, model),
    }
    created = app.call(lambda c: c.post("/keys", body))
    if app.output != "table":
        app.emit(created)
        return
    click.echo(f"API key {created['name']} ({created['id']}) for {created['target']['kind']}/{target}")
    click.echo(f"Value (shown once, store it now): {created['value']}")


@keys.command("list")
@click.option("--kind", "kind", default=None, help="Only keys of providers or proxies.")
@click.option("--target", default=None, help="Only keys of this provider or proxy name.")
@api_command
def list_keys(app: Application, kind: str | None, target: str | None) -> None:
    """Every key with its masked value, status, expiry and last use."""
    kind_name = deployable_kind(kind) if kind else None
    app.emit(app.call(lambda c: c.get_all("/keys", kind=kind_name, target=target)), KEY_COLUMNS)


@keys.command("revoke")
@click.argument("key")
@api_command
def revoke(app: Application, key: str) -> None:
    """Revoke KEY (its id, or the full tg_<id>_... value) at once on every gateway."""
    key_id = _key_id(key)
    record = app.call(lambda c: c.post(f"/keys/{key_id}/revoke", {}))
    if app.output != "table":
        app.emit(record)
        return
    click.echo(f"API key {record['name']} ({record['id']}): revoked")


@keys.command("update")
@click.argument("key")
@click.option("--name", "key_name", default=None, help="A new display name.")
@click.option("--expires-at", type=_DATES, default=None, help="A new UTC expiry.")
@click.option("--no-expiry", is_flag=True, help="Remove the expiry.")
@click.option("--meta", "meta", multiple=True, help="KEY=VALUE metadata, replacing all of it (repeatable).")
@click.option("--limit", "limit", multiple=True, help=_LIMIT_HELP + " Replaces all the key's limits.")
@click.option("--model", "model", multiple=True, help="A model the key may use (repeatable); with --limit, replaces.")
@click.option("--no-limits", is_flag=True, help="Remove the key's own limits and model list.")
@api_command
def update(
    app: Application,
    key: str,
    key_name: str | None,
    expires_at: datetime | None,
    no_expiry: bool,
    meta: tuple[str, ...],
    limit: tuple[str, ...],
    model: tuple[str, ...],
    no_limits: bool,
) -> None:
    """Change KEY's display name, expiry, metadata or limits; its value keeps working."""
    if no_expiry and expires_at is not None:
        raise click.UsageError("give --expires-at or --no-expiry, not both")
    if no_limits and (limit or model):
        raise click.UsageError("give --limit/--model or --no-limits, not both")
    body: dict[str, object] = {}
    if key_name is not None:
        body["name"] = key_name
    if expires_at is not None or no_expiry:
        body["expiresAt"] = expires_at.isoformat() + "Z" if expires_at else None
    metadata = _metadata(meta)
    if metadata is not None:
        body["metadata"] = metadata
    limits = _limits(limit, model)
    if limits is not None or no_limits:
        body["limits"] = limits
    if not body:
        raise click.UsageError(
            "nothing to change: give --name, --expires-at, --no-expiry, --meta, --limit, --model or --no-limits"
        )
    record = app.call(lambda c: c.patch(f"/keys/{_key_id(key)}", body))
    app.emit(record, KEY_COLUMNS)


@keys.command("regenerate")
@click.argument("key")
@api_command
def regenerate(app: Application, key: str) -> None:
    """A new value for KEY (same id, name and target); the old value stops working at once."""
    created = app.call(lambda c: c.post(f"/keys/{_key_id(key)}/regenerate", {}))
    if app.output != "table":
        app.emit(created)
        return
    click.echo(f"API key {created['name']} ({created['id']}): regenerated, the old value no longer works")
    click.echo(f"Value (shown once, store it now): {created['value']}")


@keys.command("delete")
@click.argument("key")
@api_command
def delete_key(app: Application, key: str) -> None:
    """Delete KEY for good (it stops working at once and leaves the lists)."""
    key_id = _key_id(key)
    app.call(lambda c: c.delete(f"/keys/{key_id}"))
    click.echo(f"API key {key_id}: deleted")
