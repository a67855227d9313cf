"""A read model's key for a complaint (`projections.base.complaint_key`): the text of its id,
made once and kept by the id's integer, in a store that never grows past its bound."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from projections import base


def event_of(complaint_id: UUID) -> Any:
    return SimpleNamespace(originator_id=complaint_id)


def test_the_key_is_the_ids_text_whichever_uuid_object_carries_it() -> None:
    complaint_id = uuid4()
    first = base.complaint_key(event_of(complaint_id))
    again = base.complaint_key(event_of(UUID(int=complaint_id.int)))  # another decoded event's
    assert first == again == str(complaint_id)
    assert first is again  # made once, kept


def test_the_kept_texts_never_exceed_their_bound() -> None:
    for _ in range(base.TEXTS_KEPT + 10):
        complaint_id = uuid4()
        assert base.complaint_key(event_of(complaint_id)) == str(complaint_id)
        assert len(base._texts) <= base.TEXTS_KEPT
