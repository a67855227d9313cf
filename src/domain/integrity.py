"""Tamper evidence: two hash chains over the events exactly as they are stored.

Each event carries
- `event_hash`, chaining the events of one complaint: SHA-256 over its complaint id, version,
  topic, stored payload bytes and the previous event's `event_hash` (the first links to a
  genesis value derived from the complaint id). The stored payload holds the event's type
  version, actor, `occurred_at` and recorded time, so all of those are covered.
- `log_hash`, chaining the whole log in position order: SHA-256 over the previous event's
  `log_hash` and this event's `event_hash`. Removing the last event of a complaint leaves its
  own chain intact; this chain still breaks at the next event recorded after it.

Both hash the payload as stored, so they still verify when personal fields are later encrypted
and their keys destroyed; verifying never decrypts. The exact byte layout is in README.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

_EVENT_TAG = b"complaints/event-hash/v1\n"
_GENESIS_TAG = b"complaints/genesis/v1\n"
_LOG_TAG = b"complaints/log-hash/v1\n"
LOG_GENESIS = hashlib.sha256(b"complaints/log-genesis/v1\n").digest()


def genesis(complaint_id: UUID) -> bytes:
    return hashlib.sha256(_GENESIS_TAG + complaint_id.bytes).digest()


def event_hash(
    previous: bytes, complaint_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    encoded_topic = topic.encode("utf-8")
    return hashlib.sha256(
        b"".join(
            (
                _EVENT_TAG,
                previous,
                complaint_id.bytes,
                version.to_bytes(8, "big"),
                len(encoded_topic).to_bytes(4, "big"),
                encoded_topic,
                len(state).to_bytes(8, "big"),
                state,
            )
        )
    ).digest()


def log_hash(previous_log_hash: bytes, this_event_hash: bytes) -> bytes:
    return hashlib.sha256(_LOG_TAG + previous_log_hash + this_event_hash).digest()


@dataclass(frozen=True)
class StoredLink:
    """One stored event as the chains see it."""

    position: int
    complaint_id: UUID
    version: int
    topic: str
    state: bytes
    event_hash: bytes | None
    log_hash: bytes | None
    # The stored `event_hash` of the same complaint's previous version (None if there is none).
    previous_event_hash: bytes | None = None


@dataclass(frozen=True)
class ComplaintVerdict:
    complaint_id: UUID
    events: int
    valid: bool
    head_hash: str | None
    first_invalid_version: int | None


def expected_event_hash(link: StoredLink, previous: bytes | None) -> bytes | None:
    """What `event_hash` must be, or None when the previous event is missing."""
    if link.version == 1:
        previous = genesis(link.complaint_id)
    if previous is None:
        return None
    return event_hash(previous, link.complaint_id, link.version, link.topic, link.state)


def verify_complaint(complaint_id: UUID, links: Iterable[StoredLink]) -> ComplaintVerdict:
    """Checks one complaint's events, in version order."""
    previous: bytes | None = None
    expected_version = 1
    count = 0
    first_invalid: int | None = None
    for link in links:
        count += 1
        ok = link.version == expected_version and link.event_hash == expected_event_hash(
            link, previous
        )
        if not ok and first_invalid is None:
            first_invalid = link.version
        previous = link.event_hash
        expected_version = link.version + 1
    return ComplaintVerdict(
        complaint_id=complaint_id,
        events=count,
        valid=first_invalid is None and count > 0,
        head_hash=previous.hex() if previous else None,
        first_invalid_version=first_invalid,
    )


class LogVerifier:
    """Checks the whole log, fed in position order, in constant memory."""

    def __init__(self) -> None:
        self.events_checked = 0
        self.head_position = 0
        self.head_hash: bytes | None = None
        self.first_invalid_position: int | None = None
        self._previous_log_hash = LOG_GENESIS

    def feed(self, link: StoredLink) -> None:
        self.events_checked += 1
        expected = expected_event_hash(link, link.previous_event_hash)
        ok = (
            expected is not None
            and link.event_hash == expected
            and link.log_hash == log_hash(self._previous_log_hash, expected)
        )
        if not ok and self.first_invalid_position is None:
            self.first_invalid_position = link.position
        self._previous_log_hash = link.log_hash or b""
        self.head_position = link.position
        self.head_hash = link.log_hash

    @property
    def valid(self) -> bool:
        return self.first_invalid_position is None
