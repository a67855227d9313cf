"""Idempotency-Key: a retried command returns the first answer and records nothing new.

A request with a key first claims it (a row in `idempotency_keys`, scoped to the caller's `sub`,
with a random token). The command's events and the row's completion are written in the same
transaction (the recorder calls `Completion.write`), and the completion only succeeds while the
claim is still ours, so a crash between "events saved" and "key saved" cannot happen, and a
stale attempt that wakes up late cannot record twice. A successful answer is replayed from the
event store (the complaint at the version it reached, and the position), so it is the same
bytes; a refusal is stored as it was sent. A claim still running is answered 409 with
Retry-After; one abandoned for longer than `STALE_AFTER` may be taken over.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import StoredEvent

from api.eventstore.clear_out import PeriodicClearOut
from projections.store import ReadStore

# Only for telling retries "still running": a claim taken over cannot record twice (the
# completion checks the token in the events' transaction), so this can be short.
STALE_AFTER = timedelta(seconds=5)
log = logging.getLogger("complaints.api")
REMEMBER_FOR = timedelta(hours=48)
FORGET_EVERY = 3600.0  # seconds between clear-outs of keys older than REMEMBER_FOR

DDL = (
    "CREATE TABLE IF NOT EXISTS idempotency_keys ("
    " caller TEXT NOT NULL, idempotency_key TEXT NOT NULL, request_hash TEXT NOT NULL,"
    " token TEXT NOT NULL, claimed_at TEXT NOT NULL, state TEXT NOT NULL,"
    " status INTEGER, complaint_id TEXT, version INTEGER, position BIGINT, body TEXT,"
    " PRIMARY KEY (caller, idempotency_key))",
    # Forgetting deletes by age: without this, each clear-out scans every key ever kept.
    "CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (claimed_at)",
)


class ClaimLostError(Exception):
    """Our claim on a key was taken over while the command ran; nothing was recorded."""


class KeyInUseError(Exception):
    """Another request with this key is still running: the caller retries shortly."""


class KeyReusedError(Exception):
    """The key was first used with another request."""


@dataclass(frozen=True)
class Claim:
    caller: str
    key: str
    request_hash: str
    token: str


@dataclass(frozen=True)
class Remembered:
    """What an earlier request with this key was answered."""

    status: int
    complaint_id: str | None
    version: int | None
    position: int | None
    body: str | None


def request_hash(key: bytes, method: str, path: str, body: Any) -> str:
    """A keyed fingerprint of the request: a plain hash of a body holding personal data could
    be confirmed by guessing it (docs/DOMAIN.md part C)."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class IdempotencyKeys:
    def __init__(self, store: ReadStore) -> None:
        self.store = store
        with store.schema_transaction() as cursor:
            for statement in DDL:
                cursor.execute(statement)
        self._clear_out = PeriodicClearOut(
            self.forget_old, name="forget-idempotency-keys", what="old idempotency keys"
        )

    def start_forgetting(self, every: float = FORGET_EVERY) -> threading.Thread:
        """Clears out old keys now and then every `every` seconds, on a thread of its own, so
        that no request waits on the clear-out (each API process runs one; DELETE is safe twice)."""
        return self._clear_out.start(every)

    def close(self) -> None:
        """Stops the clear-outs, waiting for one under way, before the store's pool closes."""
        self._clear_out.close()

    def claim(self, caller: str, key: str, fingerprint: str) -> Claim | Remembered:
        """Our claim on the key, or what the first request with it was answered."""
        token = secrets.token_hex(16)
        with self.store.transaction() as cursor:
            cursor.execute(
                "INSERT INTO idempotency_keys (caller, idempotency_key, request_hash, token, "
                "claimed_at, state) VALUES (?, ?, ?, ?, ?, 'running') "
                "ON CONFLICT (caller, idempotency_key) DO NOTHING",
                (caller, key, fingerprint, token, _now()),
            )
            if cursor.rowcount == 1:
                return Claim(caller, key, fingerprint, token)
            cursor.execute(
                "SELECT request_hash, token, claimed_at, state, status, complaint_id, version, "
                "position, body FROM idempotency_keys WHERE caller = ? AND idempotency_key = ?",
                (caller, key),
            )
            row = cursor.fetchone()
            return self._existing(cursor, Claim(caller, key, fingerprint, token), row)

    def _existing(self, cursor: Any, claim: Claim, row: Any) -> Claim | Remembered:
        first_hash, old_token, claimed_at, state = row[0], row[1], row[2], row[3]
        if first_hash != claim.request_hash:
            raise KeyReusedError(
                "This Idempotency-Key was first used with a different request body or path."
            )
        if state == "done":
            return Remembered(int(row[4]), row[5], row[6], row[7], row[8])
        if datetime.fromisoformat(claimed_at) > datetime.now(UTC) - STALE_AFTER:
            raise KeyInUseError("The first request with this key has not finished; retry shortly.")
        cursor.execute(  # abandoned: take it over, unless another retry just did
            "UPDATE idempotency_keys SET token = ?, claimed_at = ? "
            "WHERE caller = ? AND idempotency_key = ? AND token = ? AND state = 'running'",
            (claim.token, _now(), claim.caller, claim.key, old_token),
        )
        if cursor.rowcount != 1:
            raise KeyInUseError("Another retry with this key has just started; retry shortly.")
        return claim

    def remember_refusal(self, claim: Claim, status: int, body: str) -> None:
        """A refused command recorded nothing; its answer is kept for retries all the same."""
        with self.store.transaction() as cursor:
            cursor.execute(
                "UPDATE idempotency_keys SET state = 'done', status = ?, body = ? "
                "WHERE caller = ? AND idempotency_key = ? AND token = ?",
                (status, body, claim.caller, claim.key, claim.token),
            )

    def release(self, claim: Claim) -> None:
        """Lets a retry run at once after a failure that recorded nothing (store down)."""
        with self.store.transaction() as cursor:
            cursor.execute(
                "DELETE FROM idempotency_keys WHERE caller = ? AND idempotency_key = ? "
                "AND token = ? AND state = 'running'",
                (claim.caller, claim.key, claim.token),
            )

    def release_soon(self, claim: Claim) -> None:
        """`release`, on a thread of its own: for failures where the store itself may be down."""

        def attempt() -> None:
            try:
                self.release(claim)
            except Exception as error:  # the claim goes stale instead (STALE_AFTER)
                log.info("could not release idempotency key yet: %s", type(error).__name__)

        threading.Thread(target=attempt, name="release-key", daemon=True).start()

    def forget_old(self) -> int:
        cutoff = (datetime.now(UTC) - REMEMBER_FOR).isoformat(timespec="microseconds")
        with self.store.transaction() as cursor:
            cursor.execute("DELETE FROM idempotency_keys WHERE claimed_at < ?", (cutoff,))
            return int(cursor.rowcount)


@dataclass(frozen=True)
class Completion:
    """Completes a claim inside the events' transaction (an `api.eventstore.recorders`
    Companion)."""

    claim: Claim
    status: int

    def write(
        self, cursor: Any, dialect: str, events: Sequence[StoredEvent], positions: list[int]
    ) -> None:
        mark = "%s" if dialect == "postgres" else "?"
        last = events[-1]
        cursor.execute(
            f"UPDATE idempotency_keys SET state = 'done', status = {mark}, "
            f"complaint_id = {mark}, version = {mark}, position = {mark} "
            f"WHERE caller = {mark} AND idempotency_key = {mark} AND token = {mark} "
            "RETURNING caller",
            (
                self.status,
                str(last.originator_id),
                last.originator_version,
                positions[-1],
                self.claim.caller,
                self.claim.key,
                self.claim.token,
            ),
        )
        # RETURNING rather than rowcount: in a pipeline, rows are what arrive for certain.
        if cursor.fetchone() is None:
            raise ClaimLostError(self.claim.key)
