"""`Store`: the control plane's one handle on the database (SQLite file or PostgreSQL), sync API.

Async callers run its methods in worker threads (`asyncio.to_thread`); the engine's pool makes that
safe. Each method is one transaction. The data plane never calls it on the request path: it is handed
the `ResourceSet` that `load_resource_set` builds and follows `current_revision()` to know when to reload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine

from tollgate.errors import (
    ResourceConflictError,
    ResourceNotFoundError,
    ResourceValidationError,
    ResourceValidationGroupError,
    raise_validation_errors,
)
from tollgate.resources.buildable import build_errors
from tollgate.resources.keys import KeyRecord
from tollgate.resources.loader import parse_document
from tollgate.resources.models import API_VERSION, LLMProvider, LLMProxy, ProviderTemplate, Resource
from tollgate.resources.resource_set import ResourceSet
from tollgate.resources.selectors import Selector
from tollgate.store import apply as applying
from tollgate.store import (
    deployment_rows,
    key_rows,
    migrations,
    problem_rows,
    resource_rows,
    usage_rollups,
    usage_rows,
    usage_summary,
)
from tollgate.store.access import AccessStore
from tollgate.store.audit_log import AuditLog
from tollgate.store.chunking import ChunkSizer, StatisticsRefresher
from tollgate.store.crypto import SecretCipher, append_key, retire_keys
from tollgate.store.engine import build_engine
from tollgate.store.plan import plan_documents
from tollgate.store.problem_rows import DeploymentProblem
from tollgate.store.records import (
    DEPLOYABLE_KINDS,
    STORED_KINDS,
    ApplyReport,
    ApplyResult,
    DeploymentRecord,
    GatewayRecord,
    Outcome,
)
from tollgate.store.tx import FairLock, WriteTx, current_revision, read_tx, to_utc, write_tx
from tollgate.store.urls import engine_url, sqlite_path
from tollgate.store.usage_query import StoredUsage, SummaryQuery, UsageAggregate, UsageFilter
from tollgate.usage.pricing import PriceTable, default_table
from tollgate.usage.record import UsageRecord

DEFAULT_SECRET_KEY_FILE = Path("~/.tollgate/secret.key")
#: Up to this many documents are applied in one transaction; a larger batch is written in chunks
#: sized by time (see `chunking`), so other writers wait for one chunk at most.
APPLY_CHUNK = 200

__all__ = ["ApplyReport", "ApplyResult", "DeploymentProblem", "DeploymentRecord", "GatewayRecord", "Store"]


def builtin_template_urls() -> dict[str, str | None]:
    """Built-in template name -> default base URL, from the providers registry (imported on demand)."""
    from tollgate.providers.registry import BUILTIN_TEMPLATES

    return {name: spec.base_url for name, spec in BUILTIN_TEMPLATES.items()}


class Store:
    """Resources, secrets, API keys, deployments, gateways and usage in one database.

    Open with `Store.open(url)`; close with `close()` (or use it as a context manager). Methods raise
    `ResourceValidationError` (bad or inconsistent documents), `ResourceNotFoundError`,
    `ResourceConflictError` (a change that would break another resource) and `SecretKeyError`.
    """

    def __init__(
        self,
        engine: Engine,
        cipher: SecretCipher,
        known_templates: Mapping[str, str | None],
        prices: PriceTable | None = None,
    ) -> None:
        self._engine = engine
        self._gate = FairLock()
        self._cipher = cipher
        #: Users, their tokens and password logins of the management API.
        self.access = AccessStore(engine, self._gate)
        #: The record of every change made through the management API.
        self.audit = AuditLog(engine, self._gate)
        self.known_templates: dict[str, str | None] = dict(known_templates)
        #: Prices usage records are costed with when written (the shipped table + TOLLGATE_PRICES).
        self.prices = prices or default_table()

    @classmethod
    def open(
        cls,
        url: str,
        *,
        secret_key_file: Path | None = None,
        known_templates: Mapping[str, str | None] | None = None,
    ) -> Store:
        """Connect, run pending migrations, and load the secret key ring.

        `url` is `sqlite:///path/to/file.db` (parent directories are created; WAL mode) or
        `postgresql://...` (psycopg 3). The key ring is env TOLLGATE_SECRET_KEY, else the key file:
        `secret_key_file`, else TOLLGATE_SECRET_KEY_FILE, else `secret.key` beside the SQLite file or
        ~/.tollgate/secret.key. `known_templates` maps built-in template names to their default base
        URL (None when they have none) for integrity checks; by default, the providers registry's.
        """
        sa_url = engine_url(url)
        db_file = sqlite_path(sa_url)
        key_file = secret_key_file or (db_file.parent / "secret.key" if db_file else DEFAULT_SECRET_KEY_FILE)
        engine = build_engine(sa_url)
        try:
            migrations.migrate(engine)
            cipher = SecretCipher.load(key_file)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, cipher, builtin_template_urls() if known_templates is None else known_templates)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    def schema_version(self) -> int:
        with read_tx(self._engine) as conn:
            return migrations.current_version(conn)

    def current_revision(self) -> int:
        """The counter every configuration change bumps; gateways poll it to know when to reload."""
        with read_tx(self._engine) as conn:
            return current_revision(conn)

    # --- resources -------------------------------------------------------------------------------

    def apply_documents(
        self,
        docs: Sequence[Resource],
        *,
        gateway: str = "default",
        deploy: bool = True,
        known_templates: Mapping[str, str | None] | None = None,
        redeploy: bool = False,
        create_gateway: bool = False,
        prune: Selector | None = None,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ApplyReport:
        """Apply documents, dependency order first, deploying providers/proxies to `gateway` if asked.

        Integrity is checked against the store's contents plus `docs`. APIKey documents keep their
        key when re-applied; a generated key's value is in the report's `new_keys`, once. With
        `redeploy`, each provider or proxy is also redeployed on every gateway where it is live.
        Deploying to a gateway that does not exist is refused (except `default`) unless
        `create_gateway`. With `prune`, stored resources that selector matches and `docs` do not name
        are deleted afterwards. With `dry_run`, nothing is written: the report says what would happen.

        Up to `APPLY_CHUNK` documents are one transaction. A larger batch is validated as a whole
        first, then written in dependency order in transactions sized to hold the write lock about
        `chunking.TARGET_HOLD` seconds each, so other writers wait for one chunk at most, not for the
        batch; `progress(done, total)` is called after each. If a chunk then fails (a concurrent
        change), the earlier chunks stay.
        """
        templates = self.known_templates if known_templates is None else known_templates
        if dry_run:
            with read_tx(self._engine) as conn:
                return plan_documents(conn, self._cipher, docs, known_templates=templates, prune=prune)

        def write(tx: WriteTx, batch: Sequence[Resource]) -> ApplyReport:
            return applying.apply_documents(
                tx,
                self._cipher,
                batch,
                known_templates=templates,
                gateway=gateway,
                deploy=deploy,
                redeploy=redeploy,
                create_gateway=create_gateway,
            )

        if len(docs) <= APPLY_CHUNK:
            with write_tx(self._engine, self._gate) as tx:
                report = write(tx, docs)
                pruned = applying.prune(tx, prune, docs) if prune is not None else []
            if progress is not None:
                progress(len(docs), len(docs))
            return ApplyReport(report.results + pruned)
        with read_tx(self._engine) as conn:
            applying.check_against_store(conn, docs, templates)
        raise_validation_errors(build_errors(docs))
        applying.resolve_env(docs)
        ordered = sorted(docs, key=lambda d: applying.APPLY_ORDER[d.kind])
        results: list[ApplyResult] = []
        sizer, statistics = ChunkSizer(), StatisticsRefresher(self._engine)
        done = 0
        while done < len(ordered):
            chunk = ordered[done : done + sizer.size]
            with write_tx(self._engine, self._gate) as tx:
                began = time.perf_counter()
                results += write(tx, chunk).results
            sizer.record(len(chunk), time.perf_counter() - began)
            done += len(chunk)
            statistics.written(done)
            if progress is not None:
                progress(done, len(ordered))
        if prune is not None:
            with write_tx(self._engine, self._gate) as tx:
                results += applying.prune(tx, prune, docs)
        return ApplyReport(results)

    def apply_resource(self, resource: Resource) -> Outcome:
        """Apply one document (no deployment): "created", "changed" or "unchanged" (idempotent)."""
        return self.apply_documents([resource], deploy=False).results[0].outcome

    def get_resource(self, kind: str, name: str) -> Resource:
        """A template, provider or proxy by name, with its resourceVersion (ResourceNotFoundError if absent)."""
        with read_tx(self._engine) as conn:
            return resource_rows.fetch_required(conn, kind, name)

    def list_resources(self, kind: str | None = None) -> list[Resource]:
        """Templates, providers and proxies (of one kind if given), sorted by kind and name."""
        with read_tx(self._engine) as conn:
            return resource_rows.fetch_all(conn, kind)

    def page_resources(
        self, kind: str, *, after: str | None = None, limit: int = 500, selector: Selector | None = None
    ) -> tuple[list[Resource], str | None]:
        """One page of a kind, by name after `after`, filtered by label selector; and the next cursor."""
        matches = None if selector is None or selector.is_empty else selector.matches_metadata
        with read_tx(self._engine) as conn:
            return resource_rows.fetch_page(conn, kind, after=after, limit=limit, matches=matches)

    def delete_resource(self, kind: str, name: str, *, expected_version: int | None = None) -> None:
        """Delete a template, provider or proxy; it is undeployed everywhere and its keys are revoked.

        Refuses (ResourceConflictError) a provider some proxy uses, a template some provider uses, or
        a stale `expected_version`.
        """
        if kind not in STORED_KINDS:
            raise ResourceNotFoundError(f"{kind} resources are not deleted this way")
        with write_tx(self._engine, self._gate) as tx:
            applying.delete_stored(tx, kind, name, expected=expected_version)

    # --- secrets ---------------------------------------------------------------------------------

    def put_secret(self, name: str, value: str) -> Outcome:
        """Store a secret value, encrypted; the value is never returned by any listing."""
        parse_document(
            {"apiVersion": API_VERSION, "kind": "Secret", "metadata": {"name": name}, "spec": {"value": value}},
            "Secret",
        )
        with write_tx(self._engine, self._gate) as tx:
            return resource_rows.put_secret(tx, self._cipher, name, value)

    def list_secrets(self) -> list[str]:
        """Secret names only."""
        with read_tx(self._engine) as conn:
            return resource_rows.secret_names(conn)

    def delete_secret(self, name: str) -> None:
        """Delete a secret; refused while a provider's credential names it."""
        with write_tx(self._engine, self._gate) as tx:
            providers = resource_rows.fetch_all(tx.conn, "LLMProvider")
            users = [
                p.metadata.name
                for p in providers
                if isinstance(p, LLMProvider) and name in p.spec.secret_refs().values()
            ]
            if users:
                raise ResourceConflictError(f"cannot delete Secret {name!r}: used by LLMProvider {', '.join(users)}")
            if name not in resource_rows.secret_names(tx.conn):
                raise ResourceNotFoundError(f"no Secret named {name!r}")
            resource_rows.delete_secret(tx, name)

    def rotate_secrets(self, *, new_key: bool = False, retire_old_keys: bool = False) -> int:
        """Re-encrypt every secret with the newest key; returns how many were rewritten.

        With `new_key`, a fresh key is first appended to the key file (env-provided rings are rotated
        by adding a key to TOLLGATE_SECRET_KEY and reopening). With `retire_old_keys`, the key file
        keeps only the newest key afterwards.
        """
        key_file = self._cipher.key_file
        if (new_key or retire_old_keys) and key_file is None:
            raise ResourceConflictError("the secret keys come from TOLLGATE_SECRET_KEY: rotate them there")
        if new_key and key_file is not None:
            append_key(key_file)
            self._cipher = SecretCipher.load(key_file)
        with write_tx(self._engine, self._gate) as tx:
            count = resource_rows.reencrypt_secrets(tx, self._cipher)
        if retire_old_keys and key_file is not None:
            retire_keys(key_file)
            self._cipher = SecretCipher.load(key_file)
        return count

    # --- API keys --------------------------------------------------------------------------------

    def create_key(
        self,
        target_kind: str,
        target_name: str,
        name: str,
        expires_at: datetime | None = None,
        value: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limits: Mapping[str, object] | None = None,
    ) -> tuple[KeyRecord, str]:
        """Issue a key for an existing provider or proxy; returns the record and the value, shown once.

        `value` (e.g. from an env var) must have the key format, else ValueError; otherwise one is generated.
        `limits` are the key's own limits as validated JSON (`KeyLimits`, camelCase).
        """
        if target_kind not in DEPLOYABLE_KINDS:
            raise ResourceNotFoundError(f"API keys are for {' or '.join(DEPLOYABLE_KINDS)}, not {target_kind}")
        with write_tx(self._engine, self._gate) as tx:
            resource_rows.fetch_required(tx.conn, target_kind, target_name)
            return key_rows.create(
                tx,
                target_kind=target_kind,
                target_name=target_name,
                name=name,
                expires_at=to_utc(expires_at),
                value=value,
                metadata=metadata,
                limits=limits,
            )

    def get_key(self, key_id: str) -> KeyRecord:
        with read_tx(self._engine) as conn:
            return key_rows.fetch(conn, key_id)

    def list_keys(self, target_kind: str | None = None, target_name: str | None = None) -> list[KeyRecord]:
        """Every key (revoked and expired included), oldest first; hashes only, never values."""
        with read_tx(self._engine) as conn:
            return key_rows.fetch_all(conn, target_kind=target_kind, target_name=target_name)

    def update_key(
        self,
        key_id: str,
        *,
        name: str | None = None,
        expires_at: datetime | object | None = key_rows.UNCHANGED,
        metadata: Mapping[str, str] | None = None,
        limits: Mapping[str, object] | object | None = key_rows.UNCHANGED,
    ) -> KeyRecord:
        """Change a key's display name, expiry (None clears it), metadata or limits (None clears them);
        the value stays valid."""
        if isinstance(expires_at, datetime):
            expires_at = to_utc(expires_at)
        with write_tx(self._engine, self._gate) as tx:
            return key_rows.update_key(tx, key_id, name=name, expires_at=expires_at, metadata=metadata, limits=limits)

    def regenerate_key(self, key_id: str) -> tuple[KeyRecord, str]:
        """A new value for the same key id; the old value is refused from the next gateway reload."""
        with write_tx(self._engine, self._gate) as tx:
            return key_rows.regenerate(tx, key_id)

    def delete_key(self, key_id: str) -> None:
        """Remove a key record for good (gateways drop it at their next reload, as a revoked one)."""
        with write_tx(self._engine, self._gate) as tx:
            key_rows.remove(tx, key_id)

    def revoke_key(self, key_id: str) -> KeyRecord:
        """Revoke a key; gateways drop it at their next reload (the revision is bumped)."""
        with write_tx(self._engine, self._gate) as tx:
            return key_rows.revoke(tx, key_id)

    def record_key_use(self, last_used: Mapping[str, datetime]) -> None:
        """Store last-use times of many keys at once (key id -> time); not a configuration change."""
        stamps = {key_id: to_utc(at) or at for key_id, at in last_used.items()}
        with self._gate.held(), self._engine.begin() as conn:
            key_rows.record_use(conn, stamps)

    # --- deployments and gateways ----------------------------------------------------------------

    def deploy(self, gateway: str, kind: str, name: str, *, create_gateway: bool = False) -> Outcome:
        """Deploy the stored document of a provider or proxy to a gateway (a new revision if it changed).

        The gateway must exist (or be `default`) unless `create_gateway`.
        """
        with write_tx(self._engine, self._gate) as tx:
            applying.ensure_deployable_gateway(tx, gateway, create=create_gateway)
            return applying.deploy_current(tx, gateway, kind, name)

    def undeploy(self, gateway: str, kind: str, name: str) -> DeploymentRecord:
        """Stop serving a provider or proxy on a gateway (refused for a provider a live proxy uses there)."""
        with write_tx(self._engine, self._gate) as tx:
            return deployment_rows.undeploy(tx, gateway, kind, name)

    def list_deployments(self, gateway: str | None = None) -> list[DeploymentRecord]:
        """Live deployments, of one gateway if given."""
        with read_tx(self._engine) as conn:
            return deployment_rows.live(conn, gateway)

    def deployment_history(self, gateway: str, kind: str, name: str) -> list[DeploymentRecord]:
        """Every revision of a resource on a gateway, oldest first."""
        with read_tx(self._engine) as conn:
            return deployment_rows.history(conn, gateway, kind, name)

    def restore_deployment(self, gateway: str, kind: str, name: str, revision: int) -> DeploymentRecord:
        """Make an earlier revision current again: the resource takes its document and it is redeployed."""
        with write_tx(self._engine, self._gate) as tx:
            document = resource_rows.from_document(
                deployment_rows.revision_spec(tx.conn, gateway, kind, name, revision)
            )
            applying.check_against_store(tx.conn, [document], self.known_templates)
            raise_validation_errors(build_errors([document]))
            resource_rows.upsert(tx, document)
            applying.deploy_current(tx, gateway, kind, name)
            return deployment_rows.history(tx.conn, gateway, kind, name)[-1]

    def register_gateway(self, name: str, base_url: str) -> Outcome:
        """Register a running gateway (or refresh it: also a heartbeat); a new base URL bumps the revision."""
        with write_tx(self._engine, self._gate) as tx:
            return deployment_rows.register(tx, name, base_url, seen=True)

    def delete_gateway(self, name: str, *, force: bool = False) -> list[DeploymentRecord]:
        """Remove a gateway; refused while it serves anything unless `force` (then all is undeployed)."""
        with write_tx(self._engine, self._gate) as tx:
            return deployment_rows.delete_gateway(tx, name, force=force)

    def heartbeat(self, name: str, status: str = "ready") -> None:
        """Record that a gateway is alive (not a configuration change: no revision bump)."""
        with self._gate.held(), self._engine.begin() as conn:
            deployment_rows.heartbeat(conn, name, status, datetime.now(UTC))

    def list_gateways(self) -> list[GatewayRecord]:
        with read_tx(self._engine) as conn:
            return deployment_rows.all_gateways(conn)

    def report_problems(self, gateway: str, problems: Mapping[tuple[str, str], str]) -> None:
        """Replace what `gateway` reports it cannot serve: (kind, name) -> reason (not a configuration change)."""
        with self._engine.begin() as conn:
            problem_rows.replace(conn, gateway, problems, datetime.now(UTC))

    def list_problems(self, gateway: str | None = None) -> list[DeploymentProblem]:
        """Deployments the gateways (or one) last reported they cannot serve, with the reason."""
        with read_tx(self._engine) as conn:
            return problem_rows.fetch(conn, gateway)

    # --- management API tokens (users, tokens and logins: `self.access`) ------------------------

    def ensure_admin_token(self) -> str | None:
        """Create the first admin token (of the admin user "admin") if no token exists; its value, once."""
        return self.access.ensure_initial_token()

    def verify_admin_token(self, value: str) -> bool:
        """Whether `value` is a live token of an enabled user (constant-time hash comparison)."""
        return self.access.authenticate(value) is not None

    # --- the data plane's view -------------------------------------------------------------------

    def load_resource_set(self, gateway: str) -> ResourceSet:
        """Everything `gateway` serves, read in one snapshot: all templates, its deployed providers and
        proxies (as deployed), their live keys, the decrypted secrets its providers name, and the revision.

        This is the one method that returns secret values; the result belongs in data-plane memory only.
        """
        with read_tx(self._engine) as conn:
            revision = current_revision(conn)
            templates = {r.metadata.name: r for r in resource_rows.fetch_all(conn, "ProviderTemplate")}
            providers: dict[str, LLMProvider] = {}
            proxies: dict[str, LLMProxy] = {}
            unloadable: dict[tuple[str, str], str] = {}
            for deployment in deployment_rows.live(conn, gateway):
                try:  # one document stored under older rules must not stop the others
                    resource = parse_document(deployment.spec, f"{deployment.kind} {deployment.name!r}")
                except ResourceValidationError as exc:
                    errors = exc.errors if isinstance(exc, ResourceValidationGroupError) else [exc]
                    reasons = "; ".join(f"{e.field}: {e.reason}" for e in errors)
                    unloadable[(deployment.kind, deployment.name)] = f"the deployed document is not valid: {reasons}"
                    continue
                if isinstance(resource, LLMProvider):
                    providers[resource.metadata.name] = resource
                elif isinstance(resource, LLMProxy):
                    proxies[resource.metadata.name] = resource
            targets = {("LLMProvider", n) for n in providers} | {("LLMProxy", n) for n in proxies}
            keys = [
                k
                for k in key_rows.fetch_all(conn, live_at=datetime.now(UTC))
                if (k.target_kind, k.target_name) in targets
            ]
            names = {name for p in providers.values() for name in p.spec.secret_refs().values()}
            values = resource_rows.decrypt_secrets(conn, self._cipher, names)
        return ResourceSet(
            templates={n: t for n, t in templates.items() if isinstance(t, ProviderTemplate)},
            providers=providers,
            proxies=proxies,
            keys=keys,
            secrets=values,
            revision=revision,
            unloadable=unloadable,
        )

    # --- usage -----------------------------------------------------------------------------------

    def insert_usage(self, records: Sequence[UsageRecord]) -> None:
        """Write a batch of usage records, priced, and add them to the roll-ups, in one transaction.

        Called by the usage writer, off the request path.
        """
        with self._engine.begin() as conn:
            usage_rows.insert_records(conn, records, self.prices)

    def usage_records(
        self, flt: UsageFilter | None = None, *, limit: int = 100, before: tuple[float, int] | None = None
    ) -> list[StoredUsage]:
        """Up to `limit` raw records matching `flt`, newest first, older than the (ts, id) cursor `before`."""
        with read_tx(self._engine) as conn:
            return usage_rows.fetch_page(conn, flt or UsageFilter(), limit, before, self.prices)

    def usage_summary(self, query: SummaryQuery | None = None) -> list[UsageAggregate]:
        """Sums per group of dimensions and time bucket (roll-ups where the range allows, raw rows at the edges)."""
        with read_tx(self._engine) as conn:
            return usage_summary.summarize(conn, query or SummaryQuery())

    def prune_usage(self, before: float, *, batch: int = 10_000, max_rows: int | None = None) -> int:
        """Delete raw usage records older than `before` (unix seconds), `batch` rows per transaction.

        Stops after `max_rows` (None: when none is left). The roll-ups keep their sums, so summaries
        of the pruned period stay whole (at hour resolution). Returns how many records were deleted.
        """
        deleted = 0
        while max_rows is None or deleted < max_rows:
            limit = batch if max_rows is None else min(batch, max_rows - deleted)
            with self._engine.begin() as conn:
                count = usage_rows.prune(conn, before, limit)
            deleted += count
            if count < limit:
                break
        return deleted

    def rebuild_usage_rollups(self, start: float | None = None, end: float | None = None) -> int:
        """Recompute the roll-ups of the whole weeks covering [start, end) from raw rows (a repair).

        Never earlier than the week after the oldest raw row's week: retention may have pruned part
        of that week, and the roll-ups are then all that is left of it. Returns hourly rows written.
        """
        with self._engine.begin() as conn:
            oldest = usage_rows.oldest_ts(conn)
            if oldest is None:
                return 0
            first_whole_week = (int(oldest) // usage_rollups.WEEK + 1) * usage_rollups.WEEK
            if end is not None and end <= first_whole_week:
                return 0
            return usage_rollups.rebuild(conn, max(start or 0, first_whole_week), end, self.prices)
