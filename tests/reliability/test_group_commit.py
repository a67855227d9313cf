"""Group commit on PostgreSQL: saves that arrive while one is written share the next transaction.

Each test holds the events table's lock from a connection of its own, so that the first save
(the leader) waits on it, and lets the other saves queue behind it before letting go. Rows
written by one transaction share its id (`xmin`), so the number of transactions is counted
from the table itself. What each request is promised must not change: its own outcome only,
every event once, chains that verify, sealed data that opens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from uuid import UUID

import psycopg
import pytest

from api.app import build_complaints
from api.integrity.verification import check_complaint, check_log
from api.settings import Settings
from domain.errors import ConcurrentModificationError
from domain.service import Complaints
from domain.values import Actor, AssignInvestigator, LodgeComplaint, RecordContact
from tests.support import MASTER_KEY, VALID_LODGING

pytestmark = pytest.mark.postgres

INTAKE = Actor(id="intake-1", name="Intake")
INVESTIGATOR = Actor(id="cw-1", name="DC One")
CONTACT = RecordContact(method="phone", summary="Called back.")
QUEUED = 8


@pytest.fixture
def complaints(postgres_url: str) -> Iterator[Complaints]:
    settings = Settings(_env_file=None, database_url=postgres_url, master_key=MASTER_KEY)
    app = build_complaints(settings)
    try:
        yield app
    finally:
        app.close()


def lodge(complaints: Complaints, record_with: object | None = None) -> UUID:
    command = LodgeComplaint.model_validate(VALID_LODGING)
    return complaints.lodge(command, actor=INTAKE, record_with=record_with).complaint.id


def assigned(complaints: Complaints) -> UUID:
    complaint_id = lodge(complaints)
    command = AssignInvestigator(investigator_id="cw-1", investigator_name="DC One")
    complaints.act(complaint_id, command, actor=Actor(id="sup-1", name="DI"), supervisor=True)
    return complaint_id


def contact(complaints: Complaints, complaint_id: UUID) -> UUID:
    complaints.act(complaint_id, CONTACT, actor=INVESTIGATOR)
    return complaint_id


def queued(complaints: Complaints) -> int:
    group = complaints.recorder._group  # type: ignore[attr-defined]
    with group._condition:
        return len(group._queue)


def behind_a_held_lock(
    url: str, complaints: Complaints, leader: Callable[[], Any], others: Sequence[Callable[[], Any]]
) -> tuple[Future[Any], list[Future[Any]]]:
    """Runs `leader`, then `others` while the table lock is held elsewhere; lets go once every
    one of `others` waits in the queue."""
    pool = ThreadPoolExecutor(max_workers=len(others) + 1)
    with psycopg.connect(url) as holder:
        holder.execute("LOCK TABLE complaints_events IN EXCLUSIVE MODE")
        first = pool.submit(leader)
        until(lambda: _waiting_for_lock(url) >= 1)
        rest = [pool.submit(each) for each in others]
        until(lambda: queued(complaints) == len(others))
        holder.rollback()
    pool.shutdown(wait=True)
    return first, rest


def _waiting_for_lock(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
            "'complaints_events'::regclass"
        ).fetchone()
    return int(row[0]) if row else 0


def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the saves never queued"
        time.sleep(0.01)


def transactions(url: str, ids: Sequence[UUID]) -> dict[UUID, set[str]]:
    """The transaction ids (`xmin`) of each complaint's events."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT originator_id, xmin::text FROM complaints_events WHERE originator_id = ANY(%s)",
            (list(ids),),
        ).fetchall()
    found: dict[UUID, set[str]] = {complaint_id: set() for complaint_id in ids}
    for complaint_id, xmin in rows:
        found[complaint_id].add(xmin)
    return found


def test_saves_queued_behind_a_write_are_committed_together(
    complaints: Complaints, postgres_url: str
) -> None:
    first, rest = behind_a_held_lock(
        postgres_url, complaints, lambda: lodge(complaints), [lambda: lodge(complaints)] * QUEUED
    )
    leader, others = first.result(), [each.result() for each in rest]
    written = transactions(postgres_url, [leader, *others])
    assert all(len(xmins) == 1 for xmins in written.values()), written
    assert len({xmin for xmins in written.values() for xmin in xmins}) == 2, written
    assert check_log(complaints).valid
    for complaint_id in [leader, *others]:
        complaint = complaints.get_complaint(complaint_id)
        assert complaint.lodged["complainant"]["name"] == VALID_LODGING["complainant"]["name"]
        assert check_complaint(complaints, complaint_id).valid


def test_a_conflict_in_a_shared_transaction_fails_only_its_own_save(
    complaints: Complaints, postgres_url: str
) -> None:
    contested = assigned(complaints)
    others = [assigned(complaints) for _ in range(QUEUED - 2)]
    before = complaints.get_complaint(contested).version
    work = [lambda: contact(complaints, contested)] * 2
    work += [lambda each=each: contact(complaints, each) for each in others]  # type: ignore[misc]
    first, rest = behind_a_held_lock(postgres_url, complaints, lambda: lodge(complaints), work)
    first.result()
    outcomes = [each.exception() for each in rest]
    assert sum(isinstance(error, ConcurrentModificationError) for error in outcomes[:2]) == 1
    assert outcomes[2:] == [None] * len(others)
    assert complaints.get_complaint(contested).version == before + 1
    written = transactions(postgres_url, [contested, *others])
    latest = {max(xmins, key=int) for xmins in written.values()}
    assert len(latest) == 1, written  # the winner and the others: one transaction
    assert check_log(complaints).valid


class Refusing:
    """A companion (an idempotency record, say) that fails its transaction."""

    def write(self, cursor: Any, dialect: str, events: Sequence[Any], positions: list[int]) -> None:
        raise RuntimeError("this request's own record cannot be written")


def test_a_save_that_fails_the_shared_transaction_fails_alone(
    complaints: Complaints, postgres_url: str
) -> None:
    work: list[Callable[[], Any]] = [lambda: lodge(complaints) for _ in range(QUEUED - 1)]
    work.insert(3, lambda: lodge(complaints, record_with=Refusing()))
    first, rest = behind_a_held_lock(postgres_url, complaints, lambda: lodge(complaints), work)
    with pytest.raises(RuntimeError, match="own record"):
        rest[3].result()
    written = [first.result()] + [each.result() for i, each in enumerate(rest) if i != 3]
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SELECT count(*) FROM complaints_events").fetchone()
    assert row == (len(written),)  # each written once, the refused one not at all
    assert check_log(complaints).valid
    for complaint_id in written:
        # The data keys were written with the events that retried alone: the data opens.
        complaint = complaints.get_complaint(complaint_id)
        assert complaint.lodged["complainant"]["name"] == VALID_LODGING["complainant"]["name"]


def test_many_threads_saving_at_once_lose_nothing(
    complaints: Complaints, postgres_url: str
) -> None:
    ids = [assigned(complaints) for _ in range(24)]
    start = threading.Barrier(24)

    def work(complaint_id: UUID) -> UUID:
        start.wait()
        for _ in range(3):
            contact(complaints, complaint_id)
        return complaint_id

    with ThreadPoolExecutor(max_workers=24) as pool:
        done = list(pool.map(work, ids))
    assert done == ids
    assert {complaints.get_complaint(each).version for each in ids} == {2 + 3}
    assert check_log(complaints).valid
