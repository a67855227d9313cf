"""Which fields of which events are personal data, and which part of a complaint each is.

docs/DOMAIN.md part C: a complaint's personal data is stored encrypted, under one data key per
part (the complainant and the person they act for; the subject; the narrative), so that erasing
a part destroys one key. Everything else (categories, dates, statuses, outcomes, themes, staff
actors) stays in clear, so that projections, statistics and the hash chains never need a key.

This module only says where personal data is. Sealing it is the event store's job (a
`FieldSealer` given to the mapper); forgetting it on erasure or hiding it under restriction
uses the same map, so the three can never disagree about what is personal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID


class Part(StrEnum):
    COMPLAINANT = "complainant"
    SUBJECT = "subject"
    NARRATIVE = "narrative"


PARTS: tuple[Part, ...] = tuple(Part)

# A path into an event's state; "*" stands for every item of a list.
Path = tuple[str, ...]

_LODGING: tuple[tuple[Path, Part], ...] = (
    (("complainant",), Part.COMPLAINANT),
    (("on_behalf_of", "name"), Part.COMPLAINANT),
    (("on_behalf_of", "date_of_birth"), Part.COMPLAINANT),
    (("on_behalf_of", "consent_reference"), Part.COMPLAINANT),
    (("channel_detail",), Part.COMPLAINANT),
    (("access_code",), Part.COMPLAINANT),
    (("subject", "name"), Part.SUBJECT),
    (("subject", "shoulder_number"), Part.SUBJECT),
    (("subject", "description"), Part.SUBJECT),
    (("description",), Part.NARRATIVE),
    (("location",), Part.NARRATIVE),
)

# By event topic. A new event with free text about a person adds its fields here.
PERSONAL_FIELDS: dict[str, tuple[tuple[Path, Part], ...]] = {
    "complaints:ComplaintLodged": _LODGING,
    "complaints:ComplainantContacted": (
        (("summary",), Part.NARRATIVE),
        (("desired_outcome",), Part.NARRATIVE),
    ),
    "complaints:ComplaintResolved": (
        (("summary",), Part.NARRATIVE),
        (("learning", "*", "note"), Part.NARRATIVE),
    ),
    # The statutory process (part B): its free text; categories, flags and outcomes stay clear.
    "complaints:AllegationAdded": ((("description",), Part.NARRATIVE),),
    "complaints:ProgressUpdateSent": ((("summary",), Part.NARRATIVE),),
    "complaints:OutcomeNotified": (
        (("summary",), Part.NARRATIVE),
        (("learning", "*", "note"), Part.NARRATIVE),
    ),
    "complaints:ReviewRequested": (
        (("grounds",), Part.NARRATIVE),
        (("late_reason",), Part.NARRATIVE),
    ),
    "complaints:ReviewDecided": ((("recommendations", "*"), Part.NARRATIVE),),
    "complaints:ComplaintWithdrawn": ((("scope",), Part.NARRATIVE),),
}


def normal_shoulder_number(number: str) -> str:
    """Spaces removed, upper-cased: `12 34ab` and `1234AB` are one officer."""
    return "".join(number.split()).upper()


@dataclass(frozen=True)
class KeyedHashes:
    """What a lodging carries in clear about personal values: keyed hashes only (HMAC under a
    key of the event store's, so that a guess cannot be confirmed without it), and the access
    code, which the event store seals like any personal value."""

    shoulder_number: str | None
    access_code_hash: str | None
    access_code: str | None


# The fields of the complaint as it stands (the aggregate's state, the `Complaint` body): the
# lodging's fields at the top, then contacts and the resolution as the events put them there.
_STANDING: tuple[tuple[Path, Part], ...] = (
    *_LODGING,
    (("contacts", "*", "summary"), Part.NARRATIVE),
    (("desired_outcome",), Part.NARRATIVE),
    (("resolution", "summary"), Part.NARRATIVE),
    (("resolution", "learning", "*", "note"), Part.NARRATIVE),
    (("allegations", "*", "description"), Part.NARRATIVE),
    (("updates", "*", "summary"), Part.NARRATIVE),
    (("outcome", "summary"), Part.NARRATIVE),
    (("outcome", "learning", "*", "note"), Part.NARRATIVE),
    *(
        ((*review, *field), Part.NARRATIVE)
        for review in (("review",), ("reviews", "*"))
        for field in (("grounds",), ("late_reason",), ("recommendations", "*"))
    ),
    (("withdrawal", "scope"), Part.NARRATIVE),
)
# The aggregate's state beside the lodging's fields that holds personal values.
STANDING_STATE = (
    "contacts",
    "desired_outcome",
    "resolution",
    "allegations",
    "updates",
    "outcome",
    "review",
    "reviews",
    "withdrawal",
)

# What a sealed value looks like in the stored JSON: an object no command can produce.
SEALED = "$sealed"

Visit = Callable[[str, Part, Any], Any]


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def _walk(node: Any, path: Path, trail: str, part: Part, visit: Visit) -> Any:
    """`node` with the value at `path` replaced by `visit(field, part, value)` (a copy where
    anything changes); absent and null values are left as they are."""
    if not path:
        return node if node is None else visit(trail, part, node)
    head, rest = path[0], path[1:]
    if head == "*":
        if not isinstance(node, list):
            return node
        return [_walk(item, rest, f"{trail}.{i}", part, visit) for i, item in enumerate(node)]
    if not isinstance(node, dict) or node.get(head) is None:
        return node
    if is_sealed(node) and trail:  # a whole object sealed: its inner fields go with it
        return node
    changed = _walk(node[head], rest, f"{trail}.{head}" if trail else head, part, visit)
    return node if changed is node[head] else {**node, head: changed}


def transform(fields: Iterable[tuple[Path, Part]], state: dict[str, Any], visit: Visit) -> Any:
    for path, part in fields:
        state = _walk(state, path, "", part, visit)
    return state


def transform_event(topic: str, state: dict[str, Any], visit: Visit) -> dict[str, Any]:
    """The event's state with `visit` applied to each personal value (a new dict)."""
    result: dict[str, Any] = transform(PERSONAL_FIELDS.get(topic, ()), dict(state), visit)
    return result


def forget_event_fields(topic: str, state: dict[str, Any], parts: Iterable[Part]) -> dict[str, Any]:
    """The event's state with the personal values of `parts` read as null."""
    gone = set(parts)
    return transform_event(topic, state, lambda _f, part, v: None if part in gone else v)


def forget_standing_fields(view: dict[str, Any], parts: Iterable[Part]) -> dict[str, Any]:
    """A complaint as it stands (flat: the lodging's fields, `contacts`, `resolution`) with the
    personal values of `parts` read as null."""
    gone = set(parts)
    result: dict[str, Any] = transform(
        _STANDING, dict(view), lambda _f, part, v: None if part in gone else v
    )
    return result


class FieldSealer(Protocol):
    """Seals and opens the personal values of stored events (the event store implements it).

    `seal_event` gets an event's JSON-ready state and returns it with each personal value
    sealed; `open_event` does the reverse, reading a value whose key is destroyed as null.
    """

    def seal_event(
        self, complaint_id: UUID, version: int, topic: str, state: dict[str, Any]
    ) -> dict[str, Any]: ...

    def open_event(
        self, complaint_id: UUID, version: int, topic: str, state: dict[str, Any]
    ) -> dict[str, Any]: ...

    def keyed_hash(self, purpose: str, value: str) -> str:
        """HMAC of `value` for `purpose` under a key that never leaves the event store."""
        ...
