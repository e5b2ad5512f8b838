"""`AccessStore`: users, their tokens and password logins: who may call the management API.

What each role may do is the control plane's business (`control.permissions`); this class keeps the
accounts and enforces only the invariants of the data: names are unique, at least one enabled admin
user remains, service accounts have no password, a verified token is live and its user enabled.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from tollgate.errors import ResourceConflictError, ResourceValidationError
from tollgate.store import passwords, token_rows, user_rows
from tollgate.store.token_rows import TokenRecord
from tollgate.store.tx import FairLock, read_tx, to_utc, write_tx
from tollgate.store.user_rows import UserRecord

#: How long a login's session token lives unless a shorter time is asked for.
DEFAULT_SESSION_TTL = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token speaks for: the token's record and its user's (role included)."""

    token: TokenRecord
    user: UserRecord


class AccessStore:
    """Accounts and tokens over the store's engine; each method is one transaction. Shared, thread-safe."""

    def __init__(self, engine: Engine, gate: FairLock | None = None) -> None:
        self._engine = engine
        #: The store's write gate: writers of one process take turns in arrival order (see `tx.FairLock`).
        self._gate = gate

    # --- users -----------------------------------------------------------------------------------

    def create_user(self, name: str, kind: str, role: str, password: str | None = None) -> UserRecord:
        """A person ("user", optionally with a password) or a service account ("service", tokens only)."""
        if password is not None and kind != "user":
            raise ResourceValidationError(f"user {name!r}", "password", "service accounts log in with tokens only")
        digest = passwords.hash_password(password) if password is not None else None
        with write_tx(self._engine, self._gate) as tx:
            return user_rows.insert_user(tx.conn, tx.now, name, kind, role, digest)

    def get_user(self, name: str) -> UserRecord:
        with read_tx(self._engine) as conn:
            return user_rows.fetch(conn, name)

    def list_users(self) -> list[UserRecord]:
        with read_tx(self._engine) as conn:
            return user_rows.fetch_all(conn)

    def update_user(self, name: str, *, role: str | None = None, disabled: bool | None = None) -> UserRecord:
        """Change a role or enable/disable a user (a disabled user's tokens are refused at once)."""
        with write_tx(self._engine, self._gate) as tx:
            user = user_rows.fetch(tx.conn, name)
            changes: dict[str, object] = {}
            if role is not None and role != user.role:
                changes["role"] = role
            if disabled is not None and disabled != (not user.is_active):
                changes["disabled_at"] = tx.now if disabled else None
            if not changes:
                return user
            updated = user_rows.change(tx.conn, tx.now, name, **changes)
            self._keep_an_admin(tx.conn, user)
            return updated

    def set_password(self, name: str, password: str) -> UserRecord:
        with write_tx(self._engine, self._gate) as tx:
            if user_rows.fetch(tx.conn, name).kind != "user":
                raise ResourceValidationError(f"user {name!r}", "password", "service accounts log in with tokens only")
            return user_rows.change(tx.conn, tx.now, name, password_hash=passwords.hash_password(password))

    def delete_user(self, name: str) -> None:
        """Delete a user and its tokens (the audit log keeps its name)."""
        with write_tx(self._engine, self._gate) as tx:
            user = user_rows.fetch(tx.conn, name)
            token_rows.delete_all_of(tx.conn, user.id)
            user_rows.remove(tx.conn, name)
            self._keep_an_admin(tx.conn, user)

    @staticmethod
    def _keep_an_admin(conn: Connection, before: UserRecord) -> None:
        """Roll back (409) a change that took away the last enabled admin user."""
        was_admin = before.role == "admin" and before.is_active
        if was_admin and user_rows.active_admins(conn) == 0:
            raise ResourceConflictError(f"refused: user {before.name!r} is the last enabled admin")

    # --- tokens ----------------------------------------------------------------------------------

    def ensure_initial_token(self) -> str | None:
        """On first start (no token at all): a token "initial" for the admin user "admin"; its value, once."""
        with write_tx(self._engine, self._gate) as tx:
            if token_rows.count(tx.conn) > 0:
                return None
            owner = user_rows.find_or_create_admin(tx.conn, tx.now)
            return token_rows.create(tx.conn, tx.now, owner, "initial")[1]

    def create_token(
        self, user: str, name: str, *, expires_at: datetime | None = None, kind: str = "api"
    ) -> tuple[TokenRecord, str]:
        """Issue a token for `user`; the value is returned once and stored only hashed."""
        with write_tx(self._engine, self._gate) as tx:
            owner = user_rows.fetch(tx.conn, user)
            if not owner.is_active:
                raise ResourceConflictError(f"user {user!r} is disabled")
            return token_rows.create(tx.conn, tx.now, owner.id, name, kind=kind, expires_at=to_utc(expires_at))

    def get_token(self, token_id: str) -> TokenRecord:
        with read_tx(self._engine) as conn:
            return token_rows.fetch(conn, token_id)

    def list_tokens(self, user: str | None = None) -> list[TokenRecord]:
        with read_tx(self._engine) as conn:
            user_id = user_rows.fetch(conn, user).id if user is not None else None
            return token_rows.fetch_all(conn, user_id)

    def revoke_token(self, token_id: str) -> TokenRecord:
        with write_tx(self._engine, self._gate) as tx:
            return token_rows.revoke(tx.conn, tx.now, token_id)

    def rotate_token(self, token_id: str, expires_at: datetime | None = None) -> tuple[TokenRecord, str]:
        """A new value for the same token id; the old value is refused from now on."""
        with write_tx(self._engine, self._gate) as tx:
            return token_rows.rotate(tx.conn, tx.now, token_id, to_utc(expires_at))

    def authenticate(self, value: str) -> Identity | None:
        """The identity behind a presented token, or None (malformed, unknown, revoked, expired, disabled)."""
        now = datetime.now(UTC)
        with read_tx(self._engine) as conn:
            found = token_rows.verify(conn, value, now)
        if found is None:
            return None
        token, user = found
        if token.last_used_at is None or now - token.last_used_at >= token_rows.LAST_USED_RESOLUTION:
            with self._gate.held() if self._gate is not None else nullcontext(), self._engine.begin() as conn:
                token_rows.touch(conn, token, now)
        return Identity(token=token, user=user)

    def check_password(self, name: str, password: str) -> bool:
        """Whether `password` is the person's current one (False for no such user or no password)."""
        with read_tx(self._engine) as conn:
            found = user_rows.password_hash(conn, name)
        return passwords.verify_password(found[1] if found is not None else None, password)

    def login(self, name: str, password: str, ttl: timedelta = DEFAULT_SESSION_TTL) -> tuple[TokenRecord, str] | None:
        """A session token for a person's name and password, or None (wrong name, password, or disabled)."""
        with read_tx(self._engine) as conn:
            found = user_rows.password_hash(conn, name)
        user, digest = found if found is not None else (None, None)
        if not passwords.verify_password(digest, password) or user is None or digest is None:
            return None
        if not user.is_active or user.kind != "user":
            return None
        with write_tx(self._engine, self._gate) as tx:
            if passwords.needs_rehash(digest):
                user_rows.change(tx.conn, tx.now, name, password_hash=passwords.hash_password(password))
            expires = tx.now + min(ttl, DEFAULT_SESSION_TTL)
            return token_rows.create(tx.conn, tx.now, user.id, "login", kind="session", expires_at=expires)
