"""Settings: read once per process, and a database URL that cannot work is refused at once."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.app import build_complaints
from api.settings import Settings, get_settings
from domain.errors import ComplaintDatesError
from domain.rules import check_dates
from domain.values import Actor, LodgeComplaint
from tests.support import lodging


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///"])
def test_an_in_memory_sqlite_database_is_refused_with_a_reason(url: str) -> None:
    with pytest.raises(ValidationError, match="in-memory SQLite database cannot be shared"):
        Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


def test_settings_are_read_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("COMPLAINTS_EARLIEST_RECEIPT", "2010-01-01")
    first = get_settings()
    monkeypatch.setenv("COMPLAINTS_EARLIEST_RECEIPT", "2020-01-01")
    assert get_settings() is first
    assert first.earliest_receipt == date(2010, 1, 1)
    get_settings.cache_clear()


def test_the_receipt_floor_is_a_setting_the_rule_takes() -> None:
    command = LodgeComplaint.model_validate(lodging(incident_date=None))
    received = datetime(2009, 6, 1, 12, tzinfo=UTC)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    check_dates(command, received, now)  # after the default floor, 2000-01-01
    with pytest.raises(ComplaintDatesError, match="before 2010-01-01"):
        check_dates(command, received, now, earliest_receipt=date(2010, 1, 1))


def test_the_event_store_reads_only_the_settings_not_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given variables the eventsourcing library would read, pointing elsewhere
    elsewhere = tmp_path / "elsewhere.db"
    for name in ("SQLITE_DBNAME", "COMPLAINTS_SQLITE_DBNAME"):
        monkeypatch.setenv(name, str(elsewhere))
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/events.db")  # type: ignore[call-arg]
    # when the application service is built from the settings and records a complaint
    complaints = build_complaints(settings)
    try:
        complaints.lodge(
            LodgeComplaint.model_validate(lodging()), actor=Actor(id="intake-1", name="Intake")
        )
    finally:
        complaints.close()
    # then the events went where the settings say, and nowhere else
    assert not elsewhere.exists()
    with sqlite3.connect(tmp_path / "events.db") as db:
        assert db.execute("SELECT count(*) FROM stored_events").fetchone() == (1,)
