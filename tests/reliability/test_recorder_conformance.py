"""The event store's recorders against the `eventsourcing` library's own conformance tests.

The recorders are built exactly as the product builds them: `Settings.eventsourcing_env` for the
application name "Complaints", through the library's infrastructure factory, so the classes are
`ChainedSQLiteRecorder` (table `stored_events` in the SQLite file) and `ChainedPostgresRecorder`
(table `complaints_events`, in a PostgreSQL database created for this module).

Where the library's tests do not apply as written (they insert sequences from version 0, and
our hash chain starts at version 1, refusing an event whose previous version is missing):
- `test_concurrent_no_conflicts` and `test_concurrent_throughput` run as written and must fail
  with IntegrityError ("event -1 of … is missing"), and run again, unchanged, through
  `FromVersionOne`, which raises every inserted event's version by one;
- `NonInterleavingNotificationIDsBaseCase.create_stack` (a hook meant to be overridden) builds
  the stacks from version 1.
The library's tracking and process recorders are not used by the product (read models keep
their own `projection_tracking` table), so `TrackingRecorderTestCase` and
`ProcessRecorderTestCase` have nothing to run against here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import tempfile
import threading
import unittest
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    StoredEvent,
)
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
)
from eventsourcing.utils import Environment

from api.eventstore.recorders import ChainedPostgresRecorder, ChainedSQLiteRecorder
from api.settings import Settings
from domain.service import Complaints

ADMIN_URL = os.environ.get(
    "COMPLAINTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("COMPLAINTS_REQUIRE_POSTGRES") == "1"
# Threads the library's tests start (Python names them after their target).
LIBRARY_THREADS = ("(read_continuously)", "(insert_stack)", "(insert_events)")


class FromVersionOne:
    """The recorder itself, with each inserted event's version raised by one."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder = recorder

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        raised = [
            dataclasses.replace(event, originator_version=event.originator_version + 1)
            for event in stored_events
        ]
        return self._recorder.insert_events(raised, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._recorder, name)


class ProductRecorder(unittest.TestCase):
    """Builds the recorder the product builds, for a database URL the subclass provides."""

    recorder_class: ClassVar[type[ApplicationRecorder]]
    from_version_one = False

    def database_url(self) -> str:
        raise NotImplementedError

    def setUp(self) -> None:
        super().setUp()
        self.factories: list[InfrastructureFactory[Any]] = []

    def tearDown(self) -> None:
        # The library's concurrency tests leave their reader threads running when they return
        # (or raise): closing an SQLite connection under a running reader crashes the process.
        for thread in threading.enumerate():
            if thread.name.endswith(LIBRARY_THREADS):
                thread.join(timeout=30)
                assert not thread.is_alive(), f"{thread.name} did not stop"
        for factory in self.factories:
            factory.close()
        super().tearDown()

    def create_recorder(self) -> Any:
        settings = Settings(_env_file=None, database_url=self.database_url())
        env = Environment(Complaints.name, settings.eventsourcing_env)
        factory = InfrastructureFactory.construct(env)
        self.factories.append(factory)
        recorder = factory.application_recorder()
        assert type(recorder) is self.recorder_class
        return FromVersionOne(recorder) if self.from_version_one else recorder

    def run_from_version_one(self, test: str, events: int) -> None:
        """Runs the library's test body unchanged; then every event it wrote must be there."""
        self.from_version_one = True
        try:
            getattr(super(), test)()
        finally:
            self.from_version_one = False
        recorder = self.create_recorder()
        assert recorder.max_notification_id() == events
        assert len(recorder.select_notifications(start=None, limit=events + 1)) == events


class ChainedRecorderCases(ProductRecorder, ApplicationRecorderTestCase[Any]):
    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        # The library's test inserts versions 0..99: the chain has no version 0 to start from.
        with pytest.raises(IntegrityError, match=r"event -1 of .* is missing"):
            super().test_concurrent_no_conflicts(initial_position)

    def test_concurrent_throughput(self) -> None:
        # As above (versions 0..49); the library's test reports errors by printing them.
        printed = io.StringIO()
        with (
            contextlib.redirect_stdout(printed),
            pytest.raises(AssertionError, match="There were errors"),
        ):
            super().test_concurrent_throughput()
        assert re.search(r"IntegrityError: event -1 of .* is missing", printed.getvalue())

    def test_concurrent_no_conflicts_from_version_one(self) -> None:
        self.run_from_version_one("test_concurrent_no_conflicts", events=100 * 100)

    def test_concurrent_throughput_from_version_one(self) -> None:
        self.run_from_version_one("test_concurrent_throughput", events=(4 + 10) * 50)

    def test_an_event_after_a_missing_version_is_refused(self) -> None:
        # What the two tests above run into, on purpose: a gap in a chain is refused, atomically.
        recorder = self.create_recorder()
        first = StoredEvent(uuid.uuid4(), 1, "topic", b"state")
        gap = StoredEvent(first.originator_id, 3, "topic", b"state")
        recorder.insert_events([first])
        with pytest.raises(IntegrityError):
            recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "topic", b"state"), gap])
        assert recorder.max_notification_id() == 1


class NonInterleavingCases(ProductRecorder, NonInterleavingNotificationIDsBaseCase):
    def create_stack(self, originator_id: uuid.UUID | str) -> Sequence[StoredEvent]:
        return [
            dataclasses.replace(event, originator_version=event.originator_version + 1)
            for event in super().create_stack(originator_id)
        ]


class SQLiteFile(ProductRecorder):
    recorder_class = ChainedSQLiteRecorder

    def setUp(self) -> None:
        super().setUp()
        self.folder = tempfile.mkdtemp(prefix="complaints-recorder-")

    def tearDown(self) -> None:
        super().tearDown()
        shutil.rmtree(self.folder, ignore_errors=True)

    def database_url(self) -> str:
        return f"sqlite:///{self.folder}/complaints.db"


class PostgresDatabase(ProductRecorder):
    """A database of its own for the class; every test starts from an empty schema."""

    recorder_class = ChainedPostgresRecorder
    url: ClassVar[str]
    name: ClassVar[str]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        try:
            with psycopg.connect(ADMIN_URL, connect_timeout=3, autocommit=True) as admin:
                cls.name = f"complaints_recorder_{uuid.uuid4().hex[:12]}"
                admin.execute(f'CREATE DATABASE "{cls.name}"')
        except psycopg.Error as error:
            message = f"PostgreSQL is not reachable at {ADMIN_URL}: {error}"
            if REQUIRE_POSTGRES:
                raise AssertionError(message) from error
            raise unittest.SkipTest(message) from error
        cls.url = urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{cls.name}"))

    @classmethod
    def tearDownClass(cls) -> None:
        with psycopg.connect(ADMIN_URL, connect_timeout=3, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{cls.name}" WITH (FORCE)')
        super().tearDownClass()

    def setUp(self) -> None:
        super().setUp()
        with psycopg.connect(self.url, connect_timeout=3, autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")

    def database_url(self) -> str:
        return self.url

    def create_recorder(self) -> Any:
        recorder = super().create_recorder()
        assert recorder.events_table_name == "complaints_events"
        return recorder


class TestChainedSQLiteRecorder(SQLiteFile, ChainedRecorderCases):
    def create_recorder(self) -> Any:
        recorder = super().create_recorder()
        assert recorder.events_table_name == "stored_events"
        return recorder


@pytest.mark.postgres
class TestChainedPostgresRecorder(PostgresDatabase, ChainedRecorderCases):
    def test_insert_subscribe(self) -> None:
        # The product's projection worker wakes on the table's NOTIFY channel.
        self.optional_test_insert_subscribe()


class TestSQLiteNonInterleaving(SQLiteFile, NonInterleavingCases):
    pass


@pytest.mark.postgres
class TestPostgresNonInterleaving(PostgresDatabase, NonInterleavingCases):
    pass


del ApplicationRecorderTestCase, NonInterleavingNotificationIDsBaseCase
del ChainedRecorderCases, NonInterleavingCases
