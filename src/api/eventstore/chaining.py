"""Each stored event's two hashes (`domain.integrity`): from its complaint's chain and the log's.

A complaint's head is its last stored version and that event's hash. An event must follow its
complaint's head (version 1 when there is none): any other version is taken already (another
change was recorded first) or leaves a gap, and is refused with the library's IntegrityError
before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.integrity import event_hash, genesis, log_hash

Head = tuple[int, bytes]  # (version, event_hash) of a complaint's last stored event


def complaint_ids(stored_events: Sequence[StoredEvent]) -> list[UUID]:
    """The complaints the events belong to, each once, in order."""
    return list(dict.fromkeys(UUID(str(stored.originator_id)) for stored in stored_events))


def chain(
    stored_events: Sequence[StoredEvent], heads: dict[UUID, Head], last_log: bytes
) -> tuple[list[tuple[bytes, bytes]], dict[UUID, Head], bytes]:
    """(event_hash, log_hash) of each event in order, the heads they leave, and the log's last
    hash after them; `heads` itself is left as it was, so that a refusal changes nothing."""
    moved: dict[UUID, Head] = {}
    hashes = []
    for stored in stored_events:
        complaint_id = UUID(str(stored.originator_id))
        version = stored.originator_version
        head = moved.get(complaint_id) or heads.get(complaint_id)
        if head is None and version != 1:
            raise IntegrityError(f"event {version - 1} of {complaint_id} is missing")
        if head is not None and head[0] != version - 1:
            raise IntegrityError(
                f"event {version} of {complaint_id} does not follow its last, {head[0]}"
            )
        before = genesis(complaint_id) if head is None else head[1]
        this = event_hash(before, complaint_id, version, stored.topic, stored.state)
        last_log = log_hash(last_log, this)
        moved[complaint_id] = (version, this)
        hashes.append((this, last_log))
    return hashes, moved, last_log
