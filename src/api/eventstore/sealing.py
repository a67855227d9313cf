"""The key ring: seals and opens personal values, and keeps the key table in step with the log.

It is the mapper's `FieldSealer` (`domain.personal_data`) and a recorder `Companion`:
- sealing a new complaint's lodging makes its three data keys and its blind-index entries,
  held as pending until the recorder writes them in the events' transaction (`write`);
- sealing a later event uses the complaint's keys; a destroyed key is never made again, so an
  event that would need one is refused (`KeyDestroyedError`);
- `write` also destroys the erased parts' keys when it records a `PersonalDataErased`;
- each value is AES-GCM with a fresh nonce, and the complaint, version and field as associated
  data, so a ciphertext moved to another place does not open.
Unwrapped keys are cached, bounded, per process; an erasure evicts them here at once and in
every other process within `FOLLOW_EVERY` seconds (`follow_erasures`). Reads never depend on
that: the aggregate forgets erased values by itself (`domain.records`).
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import StoredEvent

from api.eventstore import blind_index
from api.eventstore.keys import (
    INDEX_OWNER,
    INDEX_PART,
    NONCE_BYTES,
    MasterKey,
    MasterKeyError,
    new_data_key,
)
from domain.personal_data import PARTS, SEALED, Part, is_sealed, transform_event
from domain.records import ERASURE_TOPIC

log = logging.getLogger("complaints.keys")
LODGING_TOPIC = "complaints:ComplaintLodged"
CACHE_SIZE = 10_000  # complaints whose keys stay unwrapped in memory
FOLLOW_EVERY = 1.0  # seconds between looks for erasures recorded by other processes
_DESTROYED = b""  # a key row that erasure set to NULL


class KeyDestroyedError(Exception):
    """An event would need a key that erasure destroyed: it is not recorded."""


def _param(sql: str, dialect: str) -> str:
    return sql.replace("?", "%s") if dialect == "postgres" else sql


class KeyRing:
    def __init__(self, master: MasterKey, *, cache_size: int = CACHE_SIZE) -> None:
        self.master = master
        self._cache: OrderedDict[str, dict[str, bytes]] = OrderedDict()
        self._cache_size = cache_size
        self._pending_keys: dict[str, dict[str, bytes]] = {}
        self._pending_index: dict[str, list[tuple[str, str]]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._also_forgotten: list[Callable[[UUID], None]] = []
        self._datastore: Any = None
        self.dialect = "sqlite"
        self._events_table = ""
        self._position_column = "rowid"
        self.index_key = b""

    # ---- wiring ----------------------------------------------------------------------------

    def attach(self, recorder: Any) -> None:
        """Reads and writes keys through the event store's own connections and transactions."""
        self._datastore = recorder.datastore
        self.dialect = "postgres" if "Postgres" in type(recorder).__name__ else "sqlite"
        self._events_table = recorder.events_table_name
        self._position_column = "notification_id" if self.dialect == "postgres" else "rowid"
        recorder.companions = [*getattr(recorder, "companions", []), self]
        self.index_key = self._open_index_key()

    def _open_index_key(self) -> bytes:
        """The blind index's key, made once per database; also proves the master key right."""
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                _param(
                    "INSERT INTO complaint_keys (complaint_id, part, wrapped, master_key_id) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    self.dialect,
                ),
                (
                    INDEX_OWNER,
                    INDEX_PART,
                    self.master.wrap(INDEX_OWNER, INDEX_PART, new_data_key()),
                    self.master.id,
                ),
            )
            cursor.execute(
                _param(
                    "SELECT wrapped, master_key_id FROM complaint_keys "
                    "WHERE complaint_id = ? AND part = ?",
                    self.dialect,
                ),
                (INDEX_OWNER, INDEX_PART),
            )
            row = cursor.fetchone()
            cursor.execute(
                _param(
                    "SELECT master_key_id FROM complaint_keys "
                    "WHERE master_key_id IS NOT NULL AND master_key_id <> ? LIMIT 1",
                    self.dialect,
                ),
                (self.master.id,),
            )
            other = cursor.fetchone()
        if row["master_key_id"] != self.master.id or other is not None:
            stored = other["master_key_id"] if other is not None else row["master_key_id"]
            raise MasterKeyError(
                "COMPLAINTS_MASTER_KEY is not the key this database's data keys are wrapped "
                f"under (given key id {self.master.id}, stored key id {stored}): start with "
                "the current master key, or finish `complaints keys rotate-master`"
            )
        return self.master.unwrap(INDEX_OWNER, INDEX_PART, bytes(row["wrapped"]))

    def keyed_hash(self, purpose: str, value: str) -> str:
        return blind_index.digest(self.index_key, purpose, value)

    def derived_key(self, purpose: str) -> bytes:
        """A key for one purpose (e.g. request fingerprints), derived from the index key."""
        return hmac.new(self.index_key, f"complaints/{purpose}/v1".encode(), "sha256").digest()

    # ---- FieldSealer -----------------------------------------------------------------------

    def seal_event(
        self, complaint_id: UUID, version: int, topic: str, state: dict[str, Any]
    ) -> dict[str, Any]:
        owner = str(complaint_id)
        if topic == LODGING_TOPIC and version == 1 and state.get("sealed_parts"):
            keys = self._new_keys(owner, state["sealed_parts"])
            entries = blind_index.entries(self.index_key, state)
            with self._lock:
                self._pending_index[owner] = entries
        else:
            keys = self._keys(owner)

        def seal(field: str, part: Part, value: Any) -> Any:
            key = keys.get(part.value)
            if key is None:  # stored in clear before sealing existed: it stays so
                return value
            if key == _DESTROYED:
                raise KeyDestroyedError(f"the {part.value} key of {owner} is destroyed")
            nonce = secrets.token_bytes(NONCE_BYTES)
            sealed = AESGCM(key).encrypt(
                nonce, orjson.dumps(value), _field_context(owner, version, field)
            )
            return {SEALED: base64.b64encode(nonce + sealed).decode()}

        return transform_event(topic, state, seal)

    def open_event(
        self, complaint_id: UUID, version: int, topic: str, state: dict[str, Any]
    ) -> dict[str, Any]:
        owner = str(complaint_id)
        keys: dict[str, bytes] | None = None

        def open_(field: str, part: Part, value: Any) -> Any:
            nonlocal keys
            if not is_sealed(value):
                return value
            if keys is None:
                keys = self._keys(owner)
            key = keys.get(part.value)
            if not key:  # destroyed: the value reads as erased
                return None
            raw = base64.b64decode(value[SEALED])
            try:
                plain = AESGCM(key).decrypt(
                    raw[:NONCE_BYTES], raw[NONCE_BYTES:], _field_context(owner, version, field)
                )
            except InvalidTag:  # altered in the store: /verify says so; reads do not crash
                log.warning("a sealed field of %s v%s does not open", owner, version)
                return None
            return orjson.loads(plain)

        return transform_event(topic, state, open_)

    # ---- Companion: written in the events' transaction -------------------------------------

    def write(
        self, cursor: Any, dialect: str, events: Sequence[StoredEvent], positions: list[int]
    ) -> None:
        owners = list(dict.fromkeys(str(e.originator_id) for e in events))
        # Read, not taken: should this transaction fail, the recorder may write them again
        # in another; `settle` lets them go once the events are written or refused for good.
        with self._lock:
            keys = {o: self._pending_keys[o] for o in owners if o in self._pending_keys}
            index = {o: self._pending_index[o] for o in owners if o in self._pending_index}
        rows = [
            (owner, part, self.master.wrap(owner, part, key), self.master.id)
            for owner, parts in keys.items()
            for part, key in parts.items()
        ]
        if rows:
            # A plain INSERT: a row already there (a destroyed key) fails the whole transaction.
            cursor.executemany(
                _param(
                    "INSERT INTO complaint_keys (complaint_id, part, wrapped, master_key_id) "
                    "VALUES (?, ?, ?, ?)",
                    dialect,
                ),
                rows,
            )
        entries = [(d, owner, appears) for owner, found in index.items() for d, appears in found]
        if entries:
            cursor.executemany(
                _param(
                    "INSERT INTO subject_index (digest, complaint_id, appears_as) "
                    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    dialect,
                ),
                entries,
            )
        for event in events:
            if event.topic == ERASURE_TOPIC:
                parts = orjson.loads(event.state)["parts"]
                self._destroy(cursor, dialect, str(event.originator_id), parts)

    def settle(self, events: Sequence[StoredEvent]) -> None:
        """Lets go of what was held for `events`, now written or refused for good."""
        owners = {str(e.originator_id) for e in events}
        with self._lock:
            for owner in owners:
                self._pending_keys.pop(owner, None)
                self._pending_index.pop(owner, None)

    def _destroy(self, cursor: Any, dialect: str, owner: str, parts: list[str]) -> None:
        if dialect == "sqlite":
            cursor.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed, not kept
        now = datetime.now(UTC).isoformat()
        cursor.executemany(
            _param(
                "UPDATE complaint_keys SET wrapped = NULL, master_key_id = NULL, "
                "destroyed_at = ? WHERE complaint_id = ? AND part = ?",
                dialect,
            ),
            [(now, owner, part) for part in parts],
        )
        if Part.COMPLAINANT.value in parts:
            cursor.execute(
                _param("DELETE FROM subject_index WHERE complaint_id = ?", dialect), (owner,)
            )
        self.evict(owner)

    def subject_entries(self, digests: list[str]) -> list[tuple[str, str]]:
        """(complaint_id, appears_as) of the blind index's entries with one of `digests`."""
        return blind_index.find(self._datastore, self.dialect, digests)

    # ---- the cache -------------------------------------------------------------------------

    def evict(self, owner: str) -> None:
        with self._lock:
            self._cache.pop(owner, None)
        for forget in self._also_forgotten:
            forget(UUID(owner))

    def also_forget(self, forget: Callable[[UUID], None]) -> None:
        """Calls `forget` with each complaint whose keys are evicted, here or by a follower:
        what else the process keeps of an erased complaint goes with them."""
        self._also_forgotten.append(forget)

    def cached(self, owner: str) -> bool:
        with self._lock:
            return owner in self._cache

    def _new_keys(self, owner: str, parts: list[str]) -> dict[str, bytes]:
        keys = {part: new_data_key() for part in parts}
        with self._lock:
            self._pending_keys[owner] = keys
            self._remember(owner, keys)
        return keys

    def _keys(self, owner: str) -> dict[str, bytes]:
        with self._lock:
            keys = self._cache.get(owner)
            if keys is not None:
                self._cache.move_to_end(owner)
                return keys
        keys = self._load(owner)
        with self._lock:
            self._remember(owner, keys)
        return keys

    def _remember(self, owner: str, keys: dict[str, bytes]) -> None:
        self._cache[owner] = keys
        self._cache.move_to_end(owner)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _load(self, owner: str) -> dict[str, bytes]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                _param(
                    "SELECT part, wrapped FROM complaint_keys WHERE complaint_id = ?",
                    self.dialect,
                ),
                (owner,),
            )
            rows = cursor.fetchall()
        keys: dict[str, bytes] = {}
        for row in rows:
            wrapped = row["wrapped"]
            keys[row["part"]] = (
                _DESTROYED
                if wrapped is None
                else self.master.unwrap(owner, row["part"], bytes(wrapped))
            )
        return keys

    # ---- erasures recorded by other processes ----------------------------------------------

    def follow_erasures(self, every: float = FOLLOW_EVERY) -> threading.Thread:
        """Evicts the keys of complaints erased by any process, until `close`."""
        position = self._erasures_after(None)[0]

        def follow() -> None:
            nonlocal position
            while not self._stopped.wait(every):
                try:
                    position, owners = self._erasures_after(position)
                except Exception:  # an outage: the next look catches up
                    log.debug("cannot look for erasures now", exc_info=True)
                    continue
                for owner in owners:
                    self.evict(owner)

        thread = threading.Thread(target=follow, name="key-eviction", daemon=True)
        thread.start()
        return thread

    def _erasures_after(self, position: int | None) -> tuple[int, list[str]]:
        table, column = self._events_table, self._position_column
        with self._datastore.transaction(commit=False) as cursor:
            if position is None:
                cursor.execute(f"SELECT COALESCE(MAX({column}), 0) AS head FROM {table}")
                return int(cursor.fetchone()["head"]), []
            cursor.execute(
                _param(
                    f"SELECT {column} AS position, originator_id FROM {table} "
                    f"WHERE {column} > ? AND topic = ? ORDER BY {column}",
                    self.dialect,
                ),
                (position, ERASURE_TOPIC),
            )
            rows = cursor.fetchall()
        if not rows:
            return position, []
        return int(rows[-1]["position"]), [str(UUID(str(r["originator_id"]))) for r in rows]

    def close(self) -> None:
        self._stopped.set()


def _field_context(owner: str, version: int, field: str) -> bytes:
    return f"complaints/field/v1|{owner}|{version}|{field}".encode()


__all__ = ["PARTS", "KeyDestroyedError", "KeyRing", "MasterKeyError"]
