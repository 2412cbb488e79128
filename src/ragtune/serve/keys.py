"""API keys: who may call the server, with which role, on which collections, as which groups.

A key reads ``rtk_<id>_<secret>``: the public ``id`` (12 hex digits) finds the key's record in one lookup;
the ``secret`` is what proves it. The key file (``--keys`` / ``[serve] keys`` / ``$RAGTUNE_HOME/keys.json``)
holds, per key, its id, name, role, collections, groups and an **argon2id** hash of the whole key; never the
key itself, which is printed once when created. The file is written atomically with mode 0600.

Verifying a key is an argon2 computation (about 0.1 s, on purpose). A server verifies each presented key
once, then remembers a SHA-256 digest of it for the process's lifetime and compares later presentations
with :func:`hmac.compare_digest`. The file is re-read whenever its size, mtime or inode changes, so a key
revoked with ``ragtune keys revoke`` (another process) stops working on the next request.

Roles are ordered: ``reader`` (search, ask, chat, read documents, versions and diffs) < ``editor`` (also
upload and remove documents) < ``admin`` (also roll back, manage keys, read training runs and comparisons).
A key's ``groups`` are the groups its requests read as (per-document access control); an admin key also
holds ``*`` and reads every document.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError, NotFoundError
from ragtune.kb.acl import EVERYONE, normalize_acl

ROLES = ("reader", "editor", "admin")
PREFIX = "rtk"
KEYS_FILENAME = "keys.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,128}})$")


def default_keys_path() -> Path:
    """``$RAGTUNE_HOME/keys.json`` (``RAGTUNE_HOME`` as the bundled models resolve it)."""
    from ragtune.llm.bundled import ragtune_home

    return ragtune_home() / KEYS_FILENAME


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def check_role(role: str, *, where: str = "role") -> str:
    if role not in ROLES:
        raise ConfigError(f"{where}: unknown role {role!r}; one of {', '.join(ROLES)}")
    return role


def check_groups(groups: Sequence[str] | str | None, *, where: str = "groups") -> tuple[str, ...]:
    """``"g1,g2"`` or a list → sorted unique group names."""
    if groups is None:
        return ()
    items = groups.split(",") if isinstance(groups, str) else list(groups)
    out = set()
    for g in items:
        if not isinstance(g, str):
            raise ConfigError(f"{where}: group names are strings, got {g!r}")
        g = g.strip()
        if not g:
            continue
        if g != EVERYONE:
            try:
                normalize_acl(g, where=where)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        out.add(g)
    return tuple(sorted(out))


@dataclass(frozen=True)
class Principal:
    """Who a request comes from. ``name`` None: no keys are configured (everything is open to the caller).
    ``collections`` None: every collection."""

    name: str | None
    role: str = "admin"
    collections: tuple[str, ...] | None = None
    groups: tuple[str, ...] = ()
    key_id: str | None = None

    @property
    def read_groups(self) -> tuple[str, ...]:
        """The groups documents are filtered by: the key's, plus ``*`` (everything) for an admin."""
        if self.role == "admin" and EVERYONE not in self.groups:
            return (*self.groups, EVERYONE)
        return self.groups

    def may(self, role: str) -> bool:
        return role_at_least(self.role, role)

    def may_use(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def as_dict(self, all_collections: Sequence[str]) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "collections": [c for c in all_collections if self.may_use(c)],
            "groups": list(self.groups),
        }


OPEN = Principal(name=None)  # no keys configured: a trusted local caller


@dataclass(frozen=True)
class ApiKey:
    """A key's record in the key file (no secret)."""

    id: str
    name: str
    role: str
    collections: tuple[str, ...] = ()  # () = all
    groups: tuple[str, ...] = ()
    created_at: float = 0.0
    hash: str = field(default="", repr=False)

    def principal(self) -> Principal:
        return Principal(self.name, self.role, self.collections or None, self.groups, self.id)

    def public(self) -> dict[str, Any]:
        """What ``keys list`` shows: everything but the hash."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "collections": list(self.collections) or None,
            "groups": list(self.groups),
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created_at)),
        }

    def record(self) -> dict[str, Any]:
        data = asdict(self)
        data["collections"], data["groups"] = list(self.collections), list(self.groups)
        return data

    @classmethod
    def from_record(cls, data: Any, where: str) -> ApiKey:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
        try:
            return cls(
                id=str(data["id"]),
                name=str(data["name"]),
                role=check_role(str(data["role"]), where=f"{where}.role"),
                collections=tuple(str(c) for c in data.get("collections") or ()),
                groups=check_groups(data.get("groups") or (), where=f"{where}.groups"),
                created_at=float(data.get("created_at") or 0.0),
                hash=str(data["hash"]),
            )
        except KeyError as exc:
            raise ConfigError(f"{where}: missing field {exc.args[0]!r}") from None


def _hasher() -> Any:
    from argon2 import PasswordHasher  # argon2id with the library's (RFC 9106 low-memory) parameters

    return PasswordHasher()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class KeyStore:
    """The key file: create, list, revoke (any process), and verify presented keys (the server)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: dict[str, ApiKey] = {}
        self._verified: dict[str, tuple[str, bytes]] = {}  # id → (hash it was verified against, sha256 of key)
        # argon2 takes ~0.1 s and 64 MiB per verification: at most two at once, so a flood of wrong secrets
        # for a known id queues up instead of exhausting memory.
        self._slow = threading.BoundedSemaphore(2)

    # -- the file -----------------------------------------------------------------------------

    def _read(self) -> dict[str, ApiKey]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read the key file ({exc.strerror or exc})") from None
        try:
            data = json.loads(raw) if raw.strip() else {"keys": []}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{self.path}: not valid JSON ({exc})") from None
        items = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ConfigError(f'{self.path}: expected {{"keys": [...]}}')
        keys = [ApiKey.from_record(item, f"{self.path}: keys[{i}]") for i, item in enumerate(items)]
        return {k.id: k for k in keys}

    def _write(self, keys: dict[str, ApiKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"keys": [k.record() for k in keys.values()]}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, ApiKey]]:
        """Read-modify-write under an exclusive lock (a CLI and a server may edit at once)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            keys = self._read()
            yield keys
            self._write(keys)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if not force and stamp == self._stamp and (stamp is not None or not self._keys):
                return
            keys = self._read()
            self._keys, self._stamp = keys, stamp
            self._verified = {i: v for i, v in self._verified.items() if i in keys and keys[i].hash == v[0]}

    # -- managing -------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        role: str,
        *,
        collections: Sequence[str] = (),
        groups: Sequence[str] | str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key: its record and the key itself (shown once; only its hash is stored)."""
        if not _NAME.match(name):
            raise ConfigError(f"--name: {name!r} is not a key name (letters, digits, . _ @ -; at most 64)")
        check_role(role, where="--role")
        cols = tuple(sorted({c.strip() for c in collections if c.strip()}))
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        token = f"{PREFIX}_{key_id}_{secret}"
        record = ApiKey(
            key_id, name, role, cols, check_groups(groups, where="--groups"), time.time(), _hasher().hash(token)
        )
        with self._editing() as keys:
            if any(k.name == name for k in keys.values()):
                raise ConfigError(f"a key named {name!r} already exists in {self.path} (revoke it first)")
            keys[key_id] = record
        return record, token

    def list(self) -> list[ApiKey]:
        self._refresh()
        return sorted(self._keys.values(), key=lambda k: (k.created_at, k.name))

    def revoke(self, id_or_name: str) -> ApiKey:
        with self._editing() as keys:
            found = keys.get(id_or_name) or next((k for k in keys.values() if k.name == id_or_name), None)
            if found is None:
                raise NotFoundError(f"no key with id or name {id_or_name!r} in {self.path}")
            del keys[found.id]
        return found

    def __len__(self) -> int:
        self._refresh()
        return len(self._keys)

    # -- verifying ------------------------------------------------------------------------------

    def lookup(self, token: str) -> tuple[ApiKey | None, bool]:
        """``(key, settled)``: the key a presented token belongs to when it was verified before (fast), or
        ``(None, True)`` when it cannot be valid; ``(record, False)`` when :meth:`verify` must run argon2."""
        m = _KEY.match(token)
        if m is None:
            return None, True
        self._refresh()
        record = self._keys.get(m.group(1))
        if record is None:
            return None, True
        seen = self._verified.get(record.id)
        if seen is not None and seen[0] == record.hash:
            return (record if hmac.compare_digest(seen[1], _digest(token)) else None), True
        return record, False

    def verify(self, token: str) -> ApiKey | None:
        """The key ``token`` is, or None. Slow (argon2) the first time a key is seen, fast after."""
        record, settled = self.lookup(token)
        if settled or record is None:
            return record
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            with self._slow:
                _hasher().verify(record.hash, token)
        except (VerificationError, InvalidHashError):
            return None
        with self._lock:
            current = self._keys.get(record.id)
            if current is None or current.hash != record.hash:
                return None  # revoked meanwhile
            self._verified[record.id] = (record.hash, _digest(token))
        return record


class Authenticator:
    """Presented bearer token → :class:`Principal`: the key file's keys, and/or one static ``--api-key``
    (an admin key named ``api-key``). With neither, every caller is :data:`OPEN`."""

    STATIC_NAME = "api-key"

    def __init__(self, store: KeyStore | None = None, api_key: str | None = None) -> None:
        self.store = store
        self._static = _digest(api_key) if api_key else None
        self._required = False

    @property
    def configured(self) -> bool:
        """Whether keys are required. Once true it stays true: revoking the last key closes the server, it
        does not open it."""
        if not self._required:
            self._required = self._static is not None or (self.store is not None and len(self.store) > 0)
        return self._required

    def _static_match(self, token: str) -> Principal | None:
        if self._static is not None and hmac.compare_digest(_digest(token), self._static):
            return Principal(self.STATIC_NAME, "admin")
        return None

    def fast(self, token: str) -> tuple[Principal | None, bool]:
        """``(principal, settled)`` without argon2; ``settled`` False: call :meth:`slow` (in a thread)."""
        found = self._static_match(token)
        if found is not None or self.store is None:
            return found, True
        record, settled = self.store.lookup(token)
        if not settled:
            return None, False
        return (record.principal() if record is not None else None), True

    def slow(self, token: str) -> Principal | None:
        assert self.store is not None
        record = self.store.verify(token)
        return record.principal() if record is not None else None
