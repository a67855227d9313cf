"""Rules 12 to 20 of docs/DOMAIN.md (the statutory process) as pure functions, and its dates.

Like `rules.py`: each check returns nothing or raises a named error, and never runs on replay.
The dates (review deadline, next progress update, twelve-month reports) are pure functions of a
complaint's recorded facts, so that the aggregate, the read models and the tests that count
from histories reckon them one way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from domain.errors import (
    AllegationIncompleteError,
    ContactRequiredError,
    FieldProblem,
    HandlingAlreadyDecidedError,
    MustRecordError,
    NotOutsideSchedule3Error,
    NotRecordedError,
    OutcomeIncompleteError,
    OutcomeStateError,
    ReferralGroundsError,
    ReferralRequiredError,
    ReferralStateError,
    ReviewOutOfTimeError,
    StatutoryDateError,
    SupervisorRequiredError,
    WithdrawalUnsignedError,
)
from domain.rules import local_date, years_before
from domain.statutory_values import (
    MANDATORY_REFERRAL_FLAGS,
    VOLUNTARY,
    AddAllegation,
    AllegationFlag,
    HandlingMode,
    NotifyOutcome,
    ReviewBody,
    WithdrawComplaint,
)
from domain.values import Status

REVIEW_WITHIN_DAYS = 28
UPDATE_EVERY_DAYS = 28  # the default; `COMPLAINTS_UPDATE_EVERY_DAYS` moves it
FIRST_REPORT_MONTHS, REPORT_EVERY_MONTHS = 12, 6


# ---- dates ------------------------------------------------------------------------------------


def review_deadline(notified_at: datetime) -> date:
    """Rule 18: in time through the 28th day after the notification's (London) day."""
    return local_date(notified_at) + timedelta(days=REVIEW_WITHIN_DAYS)


def final_on(deadline: date) -> date:
    """A notified outcome with no review requested is final the day after its deadline."""
    return deadline + timedelta(days=1)


def next_update_due(since: datetime, every_days: int = UPDATE_EVERY_DAYS) -> date:
    """Rule 17: due `every_days` after the recording, or the last update or reopening."""
    return local_date(since) + timedelta(days=every_days)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it has no such day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in range(day.day, 27, -1):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))


def report_dates_due(received_on: date, today: date) -> list[date]:
    """Rule 20: the reports to MOPAC and the IOPC fallen due by `today` (12 months from
    receipt, then every 6 months), oldest first."""
    due: list[date] = []
    months = FIRST_REPORT_MONTHS
    while (day := add_months(received_on, months)) <= today:
        due.append(day)
        months += REPORT_EVERY_MONTHS
    return due


def next_report_due(received_on: date, today: date) -> date:
    reports = len(report_dates_due(received_on, today))
    return add_months(received_on, FIRST_REPORT_MONTHS + REPORT_EVERY_MONTHS * reports)


def twelve_months_before(today: date) -> date:
    """A complaint received on or before this day has a twelve-month report due by today
    (29 February's is due on 28 February, so that day also covers it)."""
    cutoff = years_before(today, 1)
    following = cutoff + timedelta(days=1)
    return following if add_months(following, FIRST_REPORT_MONTHS) <= today else cutoff


# ---- rules ------------------------------------------------------------------------------------


def check_allegation(command: AddAllegation) -> None:
    """Rule 12."""
    problems = []
    if command.category is None:
        problems.append(FieldProblem("category", "an IOPC category is required"))
    if not command.description:
        problems.append(FieldProblem("description", "a description is required"))
    if problems:
        raise AllegationIncompleteError(
            "An allegation needs an IOPC category and a description of what is alleged.",
            fields=tuple(problems),
        )


def flagged(allegations: Iterable[dict[str, Any]]) -> set[str]:
    return {flag for allegation in allegations for flag in allegation["flags"]}


def must_be_recorded(wants_recording: bool, allegations: Sequence[dict[str, Any]]) -> bool:
    """Rule 14: the complainant asked for recording, or an allegation carries a flag."""
    return wants_recording or bool(flagged(allegations))


def check_handling(
    mode: HandlingMode,
    current: str | None,
    contacts: int,
    wants_recording: bool,
    allegations: Sequence[dict[str, Any]],
) -> None:
    """Rules 13 and 14."""
    if current == HandlingMode.SCHEDULE_3:
        raise HandlingAlreadyDecidedError(
            "The complaint is recorded under Schedule 3: it stays recorded until it ends."
        )
    if current == mode:
        raise HandlingAlreadyDecidedError("The complaint is already handled outside Schedule 3.")
    if contacts == 0:
        raise ContactRequiredError(
            "Record contact with the complainant first: their views are sought before the "
            "handling decision."
        )
    if mode is HandlingMode.OUTSIDE_SCHEDULE_3:
        check_may_stay_outside(wants_recording, allegations, "handled outside Schedule 3")


def check_may_stay_outside(
    wants_recording: bool, allegations: Sequence[dict[str, Any]], action: str
) -> None:
    """Rule 14, for the handling decision and for `resolve`."""
    if wants_recording:
        raise MustRecordError(
            f"The complainant asked for the complaint to be recorded: it cannot be {action}; "
            "record it under Schedule 3."
        )
    if flags := flagged(allegations):
        raise MustRecordError(
            f"An allegation is flagged ({', '.join(sorted(flags))}): the complaint cannot be "
            f"{action}; record it under Schedule 3."
        )


def check_resolvable_outside(
    handling: str | None, wants_recording: bool, allegations: Sequence[dict[str, Any]]
) -> None:
    """Rules 14 and 16: `resolve` is for complaints outside Schedule 3."""
    if handling == HandlingMode.SCHEDULE_3:
        raise NotOutsideSchedule3Error(
            "The complaint is recorded under Schedule 3: it ends by notifying the outcome of "
            "each allegation (POST /complaints/{id}/outcome), not by resolving."
        )
    check_may_stay_outside(wants_recording, allegations, "resolved")


def check_recorded(handling: str | None, action: str) -> None:
    if handling != HandlingMode.SCHEDULE_3:
        raise NotRecordedError(
            f"Only a complaint recorded under Schedule 3 can {action}: record it first."
        )


def referral_grounds(asked: list[str] | None, allegations: Sequence[dict[str, Any]]) -> list[str]:
    """The grounds recorded: those asked for, checked, or else the flags that oblige it."""
    flags = flagged(allegations)
    if asked is None:
        mandatory = sorted(flags & MANDATORY_REFERRAL_FLAGS)
        return mandatory or [VOLUNTARY]
    known = {flag.value for flag in AllegationFlag}
    if asked == [VOLUNTARY]:
        return asked
    wrong = [ground for ground in asked if ground not in known or ground not in flags]
    if wrong or VOLUNTARY in asked:
        raise ReferralGroundsError(
            "The grounds of a referral are flags carried by the complaint's allegations, or "
            '["voluntary"] alone.',
            fields=(FieldProblem("grounds", f"not possible here: {', '.join(wrong)}"),),
        )
    return sorted(set(asked))


def check_referable(iopc: dict[str, Any] | None) -> None:
    if iopc is not None:
        raise ReferralStateError("The complaint is already referred to the IOPC.")


def check_determinable(iopc: dict[str, Any] | None) -> None:
    if iopc is None:
        raise ReferralStateError("Refer the complaint to the IOPC before recording its decision.")
    if iopc["determination"] is not None:
        raise ReferralStateError("The IOPC's determination is already recorded.")


def check_outcome(
    status: Status,
    handling: str | None,
    allegations: Sequence[dict[str, Any]],
    iopc: dict[str, Any] | None,
    command: NotifyOutcome,
) -> None:
    """Rules 15 and 16."""
    check_recorded(handling, "have its outcome notified")
    if status is not Status.RECORDED:
        raise OutcomeStateError(
            f"The complaint is {status.value}: an outcome is notified while it is recorded."
        )
    must_refer = flagged(allegations) & MANDATORY_REFERRAL_FLAGS
    if must_refer and iopc is None:
        raise ReferralRequiredError(
            f"An allegation is flagged {', '.join(sorted(must_refer))}: refer the complaint to "
            "the IOPC before notifying an outcome."
        )
    if iopc is not None and iopc["determination"] is None:
        raise ReferralRequiredError(
            "The complaint is referred to the IOPC: no outcome until its determination arrives."
        )
    check_outcome_complete(allegations, command)


def check_outcome_complete(allegations: Sequence[dict[str, Any]], command: NotifyOutcome) -> None:
    known = [allegation["allegation_id"] for allegation in allegations]
    given = [result.allegation_id for result in command.allegations]
    problems = [
        FieldProblem("allegations", f"no outcome for {allegation_id}")
        for allegation_id in known
        if allegation_id not in given
    ]
    problems += [
        FieldProblem("allegations", f"{allegation_id} is not an allegation of this complaint")
        for allegation_id in dict.fromkeys(given)
        if allegation_id not in known
    ]
    problems += [
        FieldProblem("allegations", f"{allegation_id} is given more than one outcome")
        for allegation_id in dict.fromkeys(given)
        if given.count(allegation_id) > 1
    ]
    if not known:
        problems.insert(0, FieldProblem("allegations", "the complaint has no allegations"))
    if problems:
        raise OutcomeIncompleteError(
            "An outcome needs at least one allegation and exactly one outcome for each of them.",
            fields=tuple(problems),
        )


def review_body(iopc: dict[str, Any] | None, allegations: Sequence[dict[str, Any]]) -> ReviewBody:
    """Rule 18: the IOPC when referred or any allegation is flagged; else the local body."""
    if iopc is not None or flagged(allegations):
        return ReviewBody.IOPC
    return ReviewBody.LOCAL_POLICING_BODY


def check_review_request(
    stored: Status,
    status: Status,
    deadline: date | None,
    received_at: datetime,
    notified_at: datetime | None,
    occurred_at: datetime,
    late_reason: str | None,
    supervisor: bool,
) -> None:
    """Rule 18. `occurred_at` is the request's step, never after now: the request was
    received by then."""
    # A notified outcome, finalised or not by the passing of its deadline (not by a review).
    if stored is not Status.OUTCOME_NOTIFIED or deadline is None:
        raise OutcomeStateError(
            f"The complaint is {status.value}: a review is requested of a notified outcome."
        )
    assert notified_at is not None
    if received_at > occurred_at or received_at < notified_at:
        raise StatutoryDateError(
            "A review request is received after the outcome's notification, and by the time "
            "it is recorded (occurred_at, or now).",
            fields=(FieldProblem("received_at", "must lie between the notification and the step"),),
        )
    if late_reason is not None and not supervisor:
        raise SupervisorRequiredError(
            "Only a supervisor may accept a review request out of time, with a late reason."
        )
    if local_date(received_at) > deadline and late_reason is None:
        raise ReviewOutOfTimeError(
            f"A review had to be requested by {deadline.isoformat()}; a supervisor may accept "
            "it later, giving a late_reason."
        )


def check_review_decision(status: Status) -> None:
    if status is not Status.UNDER_REVIEW:
        raise OutcomeStateError(
            f"The complaint is {status.value}: there is no review requested to decide."
        )


def check_withdrawal(
    command: WithdrawComplaint, received_at: datetime, occurred_at: datetime
) -> None:
    """Rule 19. `occurred_at` is the withdrawal's step, never after now: it is signed by then."""
    problems = []
    if command.signed_by is None:
        problems.append(FieldProblem("signed_by", "the complainant, solicitor or agent signs"))
    if command.signed_on is None:
        problems.append(FieldProblem("signed_on", "the day it was signed is required"))
    if problems:
        raise WithdrawalUnsignedError(
            "A withdrawal is signed by the complainant or their solicitor or agent, and dated.",
            fields=tuple(problems),
        )
    assert command.signed_on is not None
    if command.signed_on > local_date(occurred_at) or command.signed_on < local_date(received_at):
        raise StatutoryDateError(
            "A withdrawal is signed after the complaint was received and by the day it is "
            "withdrawn (occurred_at, or today).",
            fields=(FieldProblem("signed_on", "must lie between receipt and the withdrawal"),),
        )
