"""Encryption of secret values at rest: AES-256-GCM under a ring of keys (encrypt newest, decrypt any).

Keys come from env TOLLGATE_SECRET_KEY (comma-separated url-safe base64 keys, newest last) or else
from a key file (one key per line, newest last) created with mode 0600 on first use. Several nodes
sharing a PostgreSQL store must share the key (set the env var). Nothing here logs a value or a key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tollgate.errors import SecretKeyError

SECRET_KEY_ENV = "TOLLGATE_SECRET_KEY"
SECRET_KEY_FILE_ENV = "TOLLGATE_SECRET_KEY_FILE"
_FORMAT = b"\x01"  # blob layout version: format(1) | key id(8) | nonce(12) | ciphertext+tag
_KID_LEN = 8
_NONCE_LEN = 12


def new_key_text() -> str:
    """A fresh 256-bit key, url-safe base64 (the format of the env var and the key file)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class SecretCipher:
    """Authenticated encryption of named values; the name is bound as associated data.

    Binding the name means a ciphertext copied onto another secret's row fails to decrypt instead of
    silently yielding the wrong credential. Immutable after construction; safe to share across threads.
    """

    def __init__(self, keys: list[bytes], *, key_file: Path | None = None) -> None:
        if not keys:
            raise SecretKeyError("no secret encryption key configured")
        for key in keys:
            if len(key) != 32:
                raise SecretKeyError("a secret encryption key must be 32 bytes (url-safe base64 encoded)")
        self._keys = {_kid(key): AESGCM(key) for key in keys}
        self._newest = _kid(keys[-1])
        #: The file the keys were read from; None when they came from the environment.
        self.key_file = key_file

    @classmethod
    def load(cls, default_key_file: Path) -> SecretCipher:
        """Keys from TOLLGATE_SECRET_KEY, else TOLLGATE_SECRET_KEY_FILE or `default_key_file` (created if absent)."""
        env = os.environ.get(SECRET_KEY_ENV)
        if env:
            return cls([_decode(part) for part in env.split(",") if part.strip()])
        path = Path(os.environ.get(SECRET_KEY_FILE_ENV) or default_key_file).expanduser()
        if not path.exists():
            _create_key_file(path)
        return cls(read_key_file(path), key_file=path)

    def encrypt(self, name: str, value: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_LEN)
        sealed = self._keys[self._newest].encrypt(nonce, value.encode(), name.encode())
        return _FORMAT + self._newest + nonce + sealed

    def decrypt(self, name: str, blob: bytes) -> str:
        """The value of secret `name`; SecretKeyError (naming the secret, never its value) if it cannot."""
        if blob[:1] != _FORMAT:
            raise SecretKeyError(f"secret {name!r}: unknown ciphertext format")
        kid, rest = blob[1 : 1 + _KID_LEN], blob[1 + _KID_LEN :]
        aead = self._keys.get(kid)
        if aead is None:
            raise SecretKeyError(
                f"secret {name!r} was encrypted with a key this node does not have "
                f"(set {SECRET_KEY_ENV} to the key ring every node shares)"
            )
        try:
            return aead.decrypt(rest[:_NONCE_LEN], rest[_NONCE_LEN:], name.encode()).decode()
        except InvalidTag as exc:
            raise SecretKeyError(f"secret {name!r} failed its integrity check (tampered or moved)") from exc

    def is_current(self, blob: bytes) -> bool:
        """Whether `blob` is already encrypted with the newest key (rotation can skip it)."""
        return blob[1 : 1 + _KID_LEN] == self._newest


def read_key_file(path: Path) -> list[bytes]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key file {path} ({exc.__class__.__name__})") from exc
    return [_decode(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def append_key(path: Path) -> None:
    """Add a fresh newest key to a key file (rotation); the older keys stay so old values still decrypt."""
    with path.open("a") as handle:
        handle.write(new_key_text() + "\n")


def retire_keys(path: Path) -> None:
    """Keep only the newest key of a key file (after every value was re-encrypted with it)."""
    newest = read_key_file(path)[-1]
    _write_private(path, base64.urlsafe_b64encode(newest).decode() + "\n", replace=True)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, new_key_text() + "\n", replace=False)


def _write_private(path: Path, content: str, *, replace: bool) -> None:
    """Write a 0600 file atomically; without `replace`, a concurrent creator wins and ours is dropped."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        if replace:
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileExistsError):  # a concurrent creator won: keep its key
                os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _decode(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except ValueError as exc:
        raise SecretKeyError("a secret encryption key is not valid url-safe base64") from exc
    if len(key) != 32:
        raise SecretKeyError("a secret encryption key must decode to 32 bytes")
    return key


def _kid(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:_KID_LEN]
