"""docs/DOMAIN.md part B, rules 19 and 20: a signed withdrawal from any open status, and the
twelve-month reports' dates (12 months from receipt, then every 6 months).

Each refusal is checked for its exact error class and rule slug, and for leaving the complaint
exactly as it was (no pending event, same version, same state); see `builders.assert_refused`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import statutory_rules as rules
from domain.complaint import Complaint
from domain.errors import ComplaintClosedError, StatutoryDateError, WithdrawalUnsignedError
from domain.statutory_events import ComplaintWithdrawn
from domain.values import Status
from tests.unit.domain.builders import (
    NOW,
    OTHER_CASEWORKER,
    RECEIVED_AT,
    assert_refused,
    lodge,
    resolved,
)
from tests.unit.domain.statutory_builders import (
    LONG_AFTER,
    NOTIFIED_DAY,
    act,
    attempt,
    every_command,
    finalised_by_review,
    notified,
    recorded,
    under_review,
    withdraw_command,
    withdrawn,
)

# ---- Rule 19: a signed withdrawal, from any open status ------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"signed_by": None}, ["signed_by"]),
        ({"signed_on": None}, ["signed_on"]),
        ({"signed_by": None, "signed_on": None}, ["signed_by", "signed_on"]),
    ],
)
@pytest.mark.parametrize("start", [lodge, notified, under_review])
def test_rule_19_a_withdrawal_is_signed_and_dated(
    start: Callable[[], Complaint], changes: dict[str, None], fields: list[str]
) -> None:
    complaint = start()
    error = assert_refused(
        complaint,
        attempt(complaint, withdraw_command(**changes)),  # type: ignore[arg-type]
        WithdrawalUnsignedError,
        "withdrawal-unsigned",
    )
    assert [problem.field for problem in error.fields] == fields


@pytest.mark.parametrize(
    "signed_on", [date(2026, 11, 19), date(2026, 11, 25)], ids=["before-receipt", "future"]
)
def test_rule_19_a_withdrawal_is_not_signed_before_receipt_or_in_the_future(
    signed_on: date,
) -> None:
    complaint = recorded([])
    assert_refused(
        complaint,
        attempt(complaint, withdraw_command(signed_on=signed_on)),
        StatutoryDateError,
        "date-invalid",
    )


@pytest.mark.parametrize("signed_by", ["complainant", "solicitor", "agent"])
@pytest.mark.parametrize("signed_on", [RECEIVED_AT.date(), NOTIFIED_DAY], ids=["receipt", "today"])
def test_rule_19_the_complainant_or_their_solicitor_or_agent_withdraws(
    signed_by: str, signed_on: date
) -> None:
    complaint = under_review()
    event = act(
        complaint,
        withdraw_command(signed_by=signed_by, signed_on=signed_on, scope="All of it."),
        actor=OTHER_CASEWORKER,
        supervisor=False,
    )
    assert isinstance(event, ComplaintWithdrawn)
    assert complaint.status is Status.WITHDRAWN
    assert complaint.withdrawal == {
        "signed_by": signed_by,
        "signed_on": signed_on,
        "scope": "All of it.",
        "withdrawn_at": NOW,
        "by": OTHER_CASEWORKER.model_dump(),
    }
    assert complaint.final_on(LONG_AFTER) == NOW.date()


@pytest.mark.parametrize("command", list(every_command(NOW)))
def test_rule_19_nothing_happens_after_a_withdrawal(command: str) -> None:
    complaint = withdrawn()
    assert_refused(
        complaint,
        attempt(complaint, every_command(NOW)[command]),
        ComplaintClosedError,
        "complaint-closed",
    )


@pytest.mark.parametrize("start", [resolved, finalised_by_review, notified])
def test_rule_19_a_final_complaint_is_not_withdrawn(start: Callable[[], Complaint]) -> None:
    complaint = start()
    assert_refused(
        complaint,
        attempt(complaint, withdraw_command(signed_on=LONG_AFTER.date()), now=LONG_AFTER),
        ComplaintClosedError,
        "complaint-closed",
    )


# ---- Rule 20: a report 12 months from receipt, then every 6 months -------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 11, 20), 12, date(2027, 11, 20)),
        (date(2026, 11, 20), 6, date(2027, 5, 20)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 6, date(2026, 9, 30)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 12, 31), 0, date(2026, 12, 31)),
    ],
)
def test_rule_20_add_months_keeps_the_day_or_takes_the_months_last(
    day: date, months: int, expected: date
) -> None:
    assert rules.add_months(day, months) == expected


RECEIVED_ON = date(2025, 8, 31)


@pytest.mark.parametrize(
    ("today", "due", "next_due"),
    [
        (date(2026, 8, 30), [], date(2026, 8, 31)),
        (date(2026, 8, 31), [date(2026, 8, 31)], date(2027, 2, 28)),
        (date(2026, 9, 1), [date(2026, 8, 31)], date(2027, 2, 28)),
        (date(2027, 2, 27), [date(2026, 8, 31)], date(2027, 2, 28)),
        (date(2027, 2, 28), [date(2026, 8, 31), date(2027, 2, 28)], date(2027, 8, 31)),
        # Counted from receipt each time: the 31st comes back after a short month
        (
            date(2027, 8, 31),
            [date(2026, 8, 31), date(2027, 2, 28), date(2027, 8, 31)],
            date(2028, 2, 29),
        ),
    ],
    ids=["day-before", "on-the-day", "day-after", "before-second", "second", "third"],
)
def test_rule_20_reports_due_and_the_next(today: date, due: list[date], next_due: date) -> None:
    assert rules.report_dates_due(RECEIVED_ON, today) == due
    assert rules.next_report_due(RECEIVED_ON, today) == next_due


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2025, 2, 27), []),
        (date(2025, 2, 28), [date(2025, 2, 28)]),
        (date(2025, 8, 29), [date(2025, 2, 28), date(2025, 8, 29)]),
        (date(2026, 2, 28), [date(2025, 2, 28), date(2025, 8, 29), date(2026, 2, 28)]),
    ],
)
def test_rule_20_a_complaint_received_on_29_february(today: date, due: list[date]) -> None:
    assert rules.report_dates_due(date(2024, 2, 29), today) == due


@pytest.mark.parametrize(
    ("received_on", "today"),
    [
        (date(2025, 11, 20), date(2026, 11, 20)),
        (date(2025, 11, 21), date(2026, 11, 20)),
        (date(2027, 2, 28), date(2028, 2, 29)),
        (date(2027, 3, 1), date(2028, 2, 29)),
        (date(2028, 2, 28), date(2029, 2, 28)),
        (date(2028, 2, 29), date(2029, 2, 28)),  # its report falls on 28 February
        (date(2028, 2, 29), date(2029, 2, 27)),
        (date(2028, 3, 1), date(2029, 2, 28)),
    ],
)
def test_rule_20_twelve_months_before_agrees_with_the_reports_due(
    received_on: date, today: date
) -> None:
    # "A complaint received on or before this day has a twelve-month report due by today"
    due = bool(rules.report_dates_due(received_on, today))
    assert (received_on <= rules.twelve_months_before(today)) is due


@settings(max_examples=300, deadline=None)
@given(
    today=st.dates(min_value=date(2021, 1, 1), max_value=date(2035, 12, 31)),
    back=st.integers(min_value=330, max_value=400),
)
def test_rule_20_twelve_months_before_agrees_with_the_reports_due_on_any_day(
    today: date, back: int
) -> None:
    received_on = today - timedelta(days=back)
    due = bool(rules.report_dates_due(received_on, today))
    assert (received_on <= rules.twelve_months_before(today)) is due
