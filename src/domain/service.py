"""The application service: the only way in to the complaints domain.

One `Complaints` instance per process. Each command loads one complaint, calls one method of the
aggregate and saves, returning the complaint and the global log position of its last event (the
consistency token that read-model endpoints accept as `min_position`).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Mapper,
    Recording,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType, get_topic

from domain.complaint import Complaint, complaint_id_for
from domain.errors import (
    ComplaintNotFoundError,
    ConcurrentModificationError,
    VersionMismatchError,
)
from domain.json_mapper import JsonMapper
from domain.personal_data import (
    PARTS,
    FieldSealer,
    KeyedHashes,
    Part,
    forget_event_fields,
    normal_shoulder_number,
)
from domain.records import (
    DEFAULT_RETENTION_YEARS,
    PersonalDataErased,
    erased_parts,
    is_restricted,
)
from domain.replayed import ReplayedComplaints
from domain.rules import EARLIEST_RECEIPT, check_lodging, local_date
from domain.statutory_rules import UPDATE_EVERY_DAYS
from domain.statutory_values import ComplaintChange
from domain.values import Actor, LodgeComplaint


class ReferenceNumbers(Protocol):
    """Hands out increasing numbers per year of receipt; gaps are allowed, contention is not."""

    def next_numbers(self, year: int, count: int) -> list[int]: ...


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Recorded:
    complaint: Complaint
    position: int


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    type: str
    recorded_at: datetime
    occurred_at: datetime
    actor: dict[str, str]
    data: dict[str, Any]


# The event base fields that are not part of an event's business data in a history listing.
_ENVELOPE = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "actor",
    "occurred_at",
    # The access code is for the acknowledgement letter only: no read shows it again.
    "access_code",
    "access_code_hash",
}


class Complaints(Application[UUID]):
    name = "Complaints"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        reference_numbers: Callable[[ApplicationRecorder], ReferenceNumbers],
        clock: Clock = utc_now,
        earliest_receipt: date = EARLIEST_RECEIPT,
        sealer: FieldSealer | None = None,
        retention_years: int = DEFAULT_RETENTION_YEARS,
        update_every_days: int = UPDATE_EVERY_DAYS,
    ) -> None:
        # Before the library's constructor, which builds the mapper that uses it.
        self.sealer = sealer
        self.retention_years = retention_years
        self.update_every_days = update_every_days
        super().__init__(env)
        # Projections read the events with their personal values left sealed: they need no key.
        self.projection_mapper = JsonMapper(transcoder=_UnusedTranscoder())
        self.references = reference_numbers(self.recorder)
        self.clock = clock
        self.earliest_receipt = earliest_receipt
        # Called with the new head position after each save (wakes in-process projections).
        self.on_recorded: list[Callable[[int], None]] = []

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the configuration given: the library would also merge in the whole process
        environment, so that a stray COMPLAINTS_SQLITE_DBNAME could point the events at another
        file than the read models; the settings are the one reader of the environment."""
        return Environment(name, {**type(self).env, **(env or {})})

    def construct_mapper(self) -> Mapper[UUID]:
        return JsonMapper(transcoder=_UnusedTranscoder(), sealer=self.sealer)

    def construct_repository(self) -> ReplayedComplaints:
        cache_size = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return ReplayedComplaints(
            self.events, cache_size=int(cache_size or 0), snapshot_store=self.snapshots
        )

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if recordings:
            for listener in self.on_recorded:
                listener(recordings[-1].notification.id)

    # ---- commands -------------------------------------------------------------------------

    def lodge(
        self, command: LodgeComplaint, *, actor: Actor, record_with: object | None = None
    ) -> Recorded:
        now = self.clock()
        received_at = command.received_at or now
        # Refuse before taking a number, so that refused complaints leave no gaps.
        check_lodging(command, received_at, now, self.earliest_receipt)
        reference = self.allocate_reference(received_at)
        complaint = Complaint.lodge(
            reference=reference,
            command=command,
            actor=actor,
            now=now,
            earliest_receipt=self.earliest_receipt,
            sealed_parts=self.sealed_parts,
            keyed=self.keyed_hashes(command),
        )
        complaint.judged_at = now
        return self._save(complaint, record_with)

    @property
    def sealed_parts(self) -> tuple[Part, ...]:
        """The parts a new complaint's personal data is sealed in: all, given a sealer."""
        return PARTS if self.sealer is not None else ()

    def keyed_hashes(
        self, command: LodgeComplaint, *, access_code: bool = True
    ) -> KeyedHashes | None:
        """The lodging's keyed hashes, and a new access code for the acknowledgement letter
        (given a sealer: without one there is no key to hash under, nor to seal the code)."""
        if self.sealer is None:
            return None
        number = command.subject.shoulder_number
        code = new_access_code() if access_code else None
        return KeyedHashes(
            shoulder_number=(
                self.sealer.keyed_hash("shoulder_number", normal_shoulder_number(number))
                if number
                else None
            ),
            access_code_hash=self.sealer.keyed_hash("access_code", code) if code else None,
            access_code=code,
        )

    def allocate_reference(self, received_at: datetime) -> str:
        """The next `PC/<number>/<yy>` for the year the complaint was received."""
        return self.allocate_references([received_at])[0]

    def allocate_references(self, received: list[datetime]) -> list[str]:
        """References for many complaints at once, in the order given."""
        years = [local_date(moment).year for moment in received]
        numbers = {
            year: iter(self.references.next_numbers(year, years.count(year)))
            for year in dict.fromkeys(years)
        }
        return [f"PC/{next(numbers[year])}/{year % 100:02d}" for year in years]

    def record_histories(self, complaints: list[Complaint]) -> int:
        """Saves whole histories built through the aggregate (imports, seeding) in one
        transaction; returns the position of the last event."""
        recordings = self.save(*complaints)
        return recordings[-1].notification.id if recordings else self.head_position()

    def act(
        self,
        complaint_id: UUID,
        command: ComplaintChange,
        *,
        actor: Actor,
        supervisor: bool = False,
        expected_version: int | None = None,
        record_with: object | None = None,
    ) -> Recorded:
        """Redirect, assign, record contact, resolve, or a records manager's decision: the
        complaint decides, then is saved (with `record_with`, an idempotency record, in the
        same transaction)."""
        complaint = self._load_for_command(complaint_id, expected_version)
        complaint.decide(
            command,
            actor=actor,
            supervisor=supervisor,
            now=complaint.judged_at or self.clock(),
            retention_years=self.retention_years,
        )
        return self._save(complaint, record_with)

    # ---- queries (strongly consistent: replayed from the event store) ---------------------

    def get_complaint(self, complaint_id: UUID, *, version: int | None = None) -> Complaint:
        """The complaint as it stands, or as it stood after its `version`-th event. Its
        status is judged now, or for a past version, just before the next event."""
        if version is None:
            try:
                complaint: Complaint = self.repository.get(complaint_id, projector_func=replay)
            except AggregateNotFoundError:
                raise ComplaintNotFoundError(f"No complaint has the id {complaint_id}.") from None
            complaint.judged_at = self.clock()
            return complaint
        return self._past_state(list(self._events(complaint_id)), complaint_id, version, None)

    def get_complaint_as_of(self, complaint_id: UUID, at: datetime) -> Complaint:
        """The complaint as it stood at `at`, by the time its events were recorded."""
        events = list(self._events(complaint_id))
        version = sum(1 for event in events if event.timestamp <= at)
        if version == 0:
            raise ComplaintNotFoundError(f"Complaint {complaint_id} had not been lodged at {at}.")
        return self._past_state(events, complaint_id, version, at)

    def _past_state(
        self,
        events: list[Complaint.Event],
        complaint_id: UUID,
        version: int,
        at: datetime | None,
    ) -> Complaint:
        """From one read of the events: the state after `version`, with what was erased later
        shown as erased too (time travel included)."""
        if not events:
            raise ComplaintNotFoundError(f"No complaint has the id {complaint_id}.")
        if not 1 <= version <= len(events):
            raise ComplaintNotFoundError(f"Complaint {complaint_id} has no event {version}.")
        complaint = cast(Complaint, replay(None, events[:version]))
        for event in events[version:]:
            if isinstance(event, PersonalDataErased):
                event.apply(complaint)
        later = events[version].timestamp if version < len(events) else self.clock()
        complaint.judged_at = at or later
        return complaint

    def history(self, complaint_id: UUID) -> list[HistoryEntry]:
        return self.read_history(complaint_id)[0]

    def read_history(self, complaint_id: UUID) -> tuple[list[HistoryEntry], bool]:
        """The complaint's events, oldest first, and whether its processing is restricted
        now (from the same read: restriction hides personal values in every past event)."""
        events = list(self._events(complaint_id))
        if not events:
            raise ComplaintNotFoundError(f"No complaint has the id {complaint_id}.")
        gone = erased_parts(events)
        return [_history_entry(event, gone) for event in events], is_restricted(events)

    def forget_replayed(self, complaint_id: UUID) -> None:
        """Drops the complaint from those kept replayed (after an erasure: reads never depend
        on it, since each brings its copy up to date, but what was erased is then no longer
        held in this process's memory either)."""
        cast(ReplayedComplaints, self.repository).forget(complaint_id)

    def find_by_reference(self, reference: str) -> UUID:
        complaint_id = complaint_id_for(reference)
        if complaint_id not in self.repository:
            raise ComplaintNotFoundError(f"No complaint has the reference {reference}.")
        return complaint_id

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    # ---- internals ----------------------------------------------------------------------

    def _events(self, complaint_id: UUID) -> Iterator[Complaint.Event]:
        return cast(Iterator[Complaint.Event], iter(self.events.get(complaint_id)))

    def _load_for_command(self, complaint_id: UUID, expected_version: int | None) -> Complaint:
        complaint = self.get_complaint(complaint_id)
        if expected_version is not None and expected_version != complaint.version:
            raise VersionMismatchError(
                f"The complaint is at version {complaint.version}, not {expected_version}: "
                "reload it and decide again."
            )
        return complaint

    def _save(self, complaint: Complaint, record_with: object | None = None) -> Recorded:
        """Saves the complaint's new events, and `record_with` (for example the idempotency
        record of the request) in the same transaction when the store supports it."""
        extras = {} if record_with is None else {"record_with": record_with}
        try:
            recordings = self.save(complaint, **extras)
        except IntegrityError:
            raise ConcurrentModificationError(
                "Another change to this complaint was recorded first: reload it and retry."
            ) from None
        return Recorded(complaint=complaint, position=recordings[-1].notification.id)


def replay(complaint: Any, events: Iterable[Any]) -> Any:
    """The complaint its events make, applied in turn. The library's own projector asserts a
    runtime Protocol of every event, which cost an eighth of a command's time; these are our
    own events, whose `mutate` is known."""
    for event in events:
        complaint = event.mutate(complaint)
    return complaint


def _history_entry(event: Complaint.Event, erased: set[Any]) -> HistoryEntry:
    state = vars(event)
    if erased:
        state = forget_event_fields(get_topic(type(event)), state, erased)
    return HistoryEntry(
        version=event.originator_version,
        type=event_type_name(type(event)),
        recorded_at=event.timestamp,
        occurred_at=state["occurred_at"],
        actor=state["actor"],
        data={
            key: value
            for key, value in state.items()
            if key not in _ENVELOPE and not _unsaid(type(event), key, value)
        },
    )


def _unsaid(event_class: type, key: str, value: Any) -> bool:
    """A field added to an event later, with a default, left at it: not shown in a history,
    so that an event recorded before the field existed and one after read alike."""
    fields = {field.name: field for field in dataclasses.fields(event_class)}
    default = fields[key].default if key in fields else dataclasses.MISSING
    return default is not dataclasses.MISSING and value == default


# Unambiguous when read off a letter and typed in: no 0/O, 1/I/L.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_access_code() -> str:
    """A complainant's access code for the status page: 12 characters (about 59 bits)."""
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def event_type_name(event_class: type) -> str:
    """`ComplaintLodged` for the topic `complaints:ComplaintLodged`: the docs/DOMAIN.md name."""
    return get_topic(event_class).rpartition(":")[2]


class _UnusedTranscoder(Transcoder):
    """`JsonMapper` encodes by itself; the library's Mapper still wants a transcoder."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError
