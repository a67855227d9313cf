"""Stores events as plain, canonical JSON that a person (or an outside tool) can read.

The library's default transcoder wraps dates and UUIDs in `{"_type_": …, "_data_": …}` objects.
Our events carry only JSON-native values plus dates and datetimes, so this mapper writes those as
ISO 8601 strings and restores them from the event class's type hints. Keys are sorted and the
separators fixed, so the same event always encodes to the same bytes.

Given a `FieldSealer`, it seals each personal value of an event before encoding it and opens
them after decoding (docs/DOMAIN.md part C): the stored bytes, and so the hash chains, hold
ciphertext only. Events stored in clear before sealing existed still read as they are.
"""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from domain.personal_data import FieldSealer


def encode_json(state: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON with sorted keys; dates and datetimes as ISO 8601 (as isoformat)."""
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS)


@cache
def _temporal_fields(event_class: type) -> dict[str, type[date]]:
    """The fields of an event class that hold a date or a datetime (optional or not)."""
    found: dict[str, type[date]] = {}
    for name, hint in typing.get_type_hints(event_class).items():
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        for option in options:
            if option in (datetime, date):
                found[name] = option
    return found


class JsonMapper(Mapper[UUID]):
    def __init__(self, *args: Any, sealer: FieldSealer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sealer = sealer

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        state["class_version"] = class_version
        topic = get_topic(type(domain_event))
        if self.sealer is not None:
            state = self.sealer.seal_event(originator_id, originator_version, topic, state)
        stored = encode_json(state)
        if self.compressor:
            stored = self.compressor.compress(stored)
        if self.cipher:
            stored = self.cipher.encrypt(stored)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=stored,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event_class = resolve_topic(stored_event.topic)
        try:
            stored = stored_event.state
            if self.cipher:
                stored = self.cipher.decrypt(stored)
            if self.compressor:
                stored = self.compressor.decompress(stored)
            state: dict[str, Any] = orjson.loads(stored)
        except Exception as error:
            msg = (
                f"Cannot read the event {stored_event.originator_id} "
                f"v{stored_event.originator_version} ({stored_event.topic}): {error}"
            )
            raise MapperDeserialisationError(msg) from error
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, UUID):
            originator_id = UUID(str(originator_id))
        if self.sealer is not None:
            # Before upcasting: a value is sealed under the field name it was written with.
            state = self.sealer.open_event(
                originator_id, stored_event.originator_version, stored_event.topic, state
            )
        from_version = state.pop("class_version", 1)
        while from_version < getattr(event_class, "class_version", 1):
            getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        for name, kind in _temporal_fields(event_class).items():
            value = state.get(name)
            if isinstance(value, str):
                state[name] = kind.fromisoformat(value)
        state["originator_id"] = originator_id
        state["originator_version"] = stored_event.originator_version
        # As the library does: events are rebuilt without re-running validation.
        domain_event = object.__new__(event_class)
        object.__setattr__(domain_event, "__dict__", state)
        return typing.cast(DomainEventProtocol[UUID], domain_event)
