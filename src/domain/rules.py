"""The rules of docs/DOMAIN.md as pure functions: each returns nothing or raises a named error.

The aggregate calls these before it triggers an event; they never run on replay, so a rule that
is tightened later cannot make an old history unreadable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.errors import (
    AlreadyAssignedError,
    ChannelDetailRequiredError,
    ComplainantUnreachableError,
    ComplaintClosedError,
    ComplaintContentError,
    ComplaintDatesError,
    ContactBeforeAssignmentError,
    ContactDateError,
    EffectsOrBehavioursMissingError,
    FieldProblem,
    ForceNameRequiredError,
    MustRedirectError,
    NotAssignedInvestigatorError,
    OccurredAtError,
    OnBehalfBasisError,
    ReassignmentReasonRequiredError,
    RedirectDestinationNotAllowedError,
    ResolutionWithoutContactError,
    StandingNotAllowedError,
    SubjectUnidentifiedError,
)
from domain.values import (
    EFFECTS,
    Channel,
    LodgeComplaint,
    OnBehalfBasis,
    RedirectDestination,
    Standing,
    Status,
    SubjectKind,
)

# Dates on letters, birthdays and the 12-month limit are reckoned in the force's own time zone.
FORCE_TIMEZONE = ZoneInfo("Europe/London")
LATE_AFTER_YEARS = 1  # "more than 12 months before receipt"
EARLIEST_RECEIPT = date(2000, 1, 1)  # the default floor; `COMPLAINTS_EARLIEST_RECEIPT` moves it


def local_date(moment: datetime) -> date:
    return moment.astimezone(FORCE_TIMEZONE).date()


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _refuse(cls: type[ComplaintContentError], field: str, detail: str) -> ComplaintContentError:
    return cls(detail, fields=(FieldProblem(field, detail),))


# ---- Lodging: rules 1 to 6 ---------------------------------------------------------------------


def check_complainant_reachable(command: LodgeComplaint) -> None:
    """Rule 1."""
    person = command.complainant
    if not person.name:
        raise _refuse(
            ComplainantUnreachableError, "complainant.name", "The complainant must be named."
        )
    if not (person.email or person.phone or person.address):
        raise ComplainantUnreachableError(
            "Give at least one way to reach the complainant: email, phone or address.",
            fields=tuple(
                FieldProblem(f"complainant.{name}", "at least one contact method is required")
                for name in ("email", "phone", "address")
            ),
        )


def check_subject_identified(command: LodgeComplaint) -> None:
    """Rule 2."""
    subject = command.subject
    identified = subject.name or subject.shoulder_number or subject.description
    if subject.kind.is_person and not identified:
        raise _refuse(
            SubjectUnidentifiedError,
            "subject.description",
            "A complaint about a person needs their name, shoulder number or a description.",
        )
    if subject.kind is SubjectKind.POLICE_STATION and not subject.station:
        raise _refuse(
            SubjectUnidentifiedError,
            "subject.station",
            "A complaint about a police station names the station.",
        )
    if subject.kind is SubjectKind.OTHER_FORCE and not subject.force_name:
        raise _refuse(
            SubjectUnidentifiedError,
            "subject.force_name",
            "A complaint about another force names that force.",
        )


def check_standing(command: LodgeComplaint) -> None:
    """Rule 3: only conduct can be witnessed; handling, stations and the force are experienced."""
    if command.standing is Standing.WITNESSED and not command.subject.kind.is_person:
        raise _refuse(
            StandingNotAllowedError,
            "standing",
            "Only a person's conduct can be witnessed; for this subject the complainant must "
            "have experienced it or been adversely affected.",
        )


def check_effects_and_behaviours(command: LodgeComplaint) -> None:
    """Rule 4."""
    named = set(command.behaviours)
    if command.standing is Standing.ADVERSELY_AFFECTED and not named & EFFECTS:
        raise _refuse(
            EffectsOrBehavioursMissingError,
            "behaviours",
            "An adversely affected complainant names at least one effect: distress, "
            "inconvenience, property loss or damage, or danger or risk.",
        )
    if command.subject.kind.is_person and not named:
        raise _refuse(
            EffectsOrBehavioursMissingError,
            "behaviours",
            "A complaint about a person names at least one behaviour.",
        )


def check_on_behalf(command: LodgeComplaint, received_at: datetime) -> None:
    """Rule 5."""
    other = command.on_behalf_of
    if other is None:
        return
    if other.basis is OnBehalfBasis.PARENT_OR_GUARDIAN_OF_CHILD_UNDER_16:
        if other.date_of_birth is None:
            raise _refuse(
                OnBehalfBasisError,
                "on_behalf_of.date_of_birth",
                "A parent or guardian gives the child's date of birth.",
            )
        received = local_date(received_at)
        if other.date_of_birth <= years_before(received, 16) or other.date_of_birth > received:
            raise _refuse(
                OnBehalfBasisError,
                "on_behalf_of.date_of_birth",
                "A parent or guardian may complain only for a child under 16 on the day the "
                "complaint was received; otherwise written consent is needed.",
            )
    elif not other.consent_reference:
        raise _refuse(
            OnBehalfBasisError,
            "on_behalf_of.consent_reference",
            "Complaining with written consent needs the consent's reference.",
        )


def check_dates(
    command: LodgeComplaint,
    received_at: datetime,
    now: datetime,
    earliest_receipt: date = EARLIEST_RECEIPT,
) -> None:
    """Rule 6, and a floor on receipt: a reference names the year in two digits, so that a
    complaint received in 1926 would take the reference (and the id) of one from 2026."""
    if received_at > now:
        raise _refuse(ComplaintDatesError, "received_at", "received_at cannot be in the future.")
    if local_date(received_at) < earliest_receipt:
        raise _refuse(
            ComplaintDatesError,
            "received_at",
            f"received_at cannot be before {earliest_receipt.isoformat()}.",
        )
    if command.incident_date is not None and command.incident_date > local_date(received_at):
        raise _refuse(
            ComplaintDatesError,
            "incident_date",
            "The incident cannot be dated after the complaint was received.",
        )


def check_channel_detail(command: LodgeComplaint) -> None:
    if (
        command.channel in (Channel.PARTNER_ORGANISATION, Channel.REPRESENTATIVE)
        and not command.channel_detail
    ):
        raise _refuse(
            ChannelDetailRequiredError,
            "channel_detail",
            "Name the partner organisation or representative in channel_detail.",
        )


def check_lodging(
    command: LodgeComplaint,
    received_at: datetime,
    now: datetime,
    earliest_receipt: date = EARLIEST_RECEIPT,
) -> None:
    """Every content rule at once, so that a caseworker mends a lodging in one go: the error
    raised is the first rule broken, carrying the fields and sentences of every rule broken."""
    broken: list[ComplaintContentError] = []
    checks: list[Callable[[], None]] = [
        lambda: check_complainant_reachable(command),
        lambda: check_subject_identified(command),
        lambda: check_standing(command),
        lambda: check_effects_and_behaviours(command),
        lambda: check_on_behalf(command, received_at),
        lambda: check_dates(command, received_at, now, earliest_receipt),
        lambda: check_channel_detail(command),
    ]
    for check in checks:
        try:
            check()
        except ComplaintContentError as error:
            broken.append(error)
    if len(broken) == 1:
        raise broken[0]
    if broken:
        first = broken[0]
        raise type(first)(
            f"This complaint breaks {len(broken)} rules: "
            + " ".join(error.detail for error in broken),
            fields=tuple(
                FieldProblem(problem.field, problem.message, rule=error.rule)
                for error in broken
                for problem in error.fields
            ),
        )


def is_late(incident_date: date | None, received_at: datetime) -> bool:
    """Rule 6: accepted, but flagged for analysts when over 12 months before receipt."""
    if incident_date is None:
        return False
    return incident_date < years_before(local_date(received_at), LATE_AFTER_YEARS)


# ---- Later steps: rules 7 to 11 ----------------------------------------------------------------


def check_open(status: Status) -> None:
    """Rule 11 (and rule 8's 'assignment needs an open complaint')."""
    if not status.is_open:
        raise ComplaintClosedError(
            f"The complaint is {status.value}: nothing more may happen to it."
        )


def check_occurred_at(occurred_at: datetime, received_at: datetime, now: datetime) -> None:
    if occurred_at > now or occurred_at < received_at:
        raise OccurredAtError("occurred_at must lie between the complaint's receipt and now.")


def _same_force(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def check_redirect(
    subject_kind: SubjectKind,
    subject_force: str | None,
    destination: RedirectDestination,
    force_name: str | None,
) -> None:
    """Rule 7: where a complaint may be redirected."""
    if destination is RedirectDestination.OTHER_FORCE and not force_name:
        raise _refuse(
            ForceNameRequiredError, "force_name", "A redirect to another force names that force."
        )
    if subject_kind is SubjectKind.COMMISSIONER and destination is not RedirectDestination.MOPAC:
        raise RedirectDestinationNotAllowedError(
            "A complaint about the Commissioner is redirected to MOPAC, the appropriate authority."
        )
    if subject_kind is not SubjectKind.OTHER_FORCE:
        return
    if destination is RedirectDestination.MOPAC:
        raise RedirectDestinationNotAllowedError(
            "A complaint about another force is redirected to that force or to the IOPC."
        )
    if (
        destination is RedirectDestination.OTHER_FORCE
        and force_name
        and subject_force
        and not _same_force(force_name, subject_force)
    ):
        raise RedirectDestinationNotAllowedError(
            f"This complaint is about {subject_force}: redirect it to that force or to the IOPC."
        )


def check_assignable(
    subject_kind: SubjectKind,
    current_investigator: str | None,
    investigator_id: str,
    reason: str | None,
) -> None:
    """Rules 7 and 8."""
    if subject_kind is SubjectKind.COMMISSIONER:
        raise MustRedirectError(
            "A complaint about the Commissioner cannot be assigned: redirect it to MOPAC."
        )
    if subject_kind is SubjectKind.OTHER_FORCE:
        raise MustRedirectError(
            "A complaint about another force cannot be assigned: redirect it to that force or "
            "to the IOPC."
        )
    if current_investigator is not None:
        if current_investigator == investigator_id:
            raise AlreadyAssignedError(f"The complaint is already assigned to {investigator_id}.")
        if not reason:
            raise ReassignmentReasonRequiredError(
                "Give a reason for reassigning the complaint to another investigator."
            )


def check_investigator_or_supervisor(
    actor_id: str, is_supervisor: bool, investigator_id: str | None, action: str
) -> None:
    """Rules 9 and 10: the assigned investigator works the case; a supervisor may step in."""
    if not is_supervisor and actor_id != investigator_id:
        raise NotAssignedInvestigatorError(
            f"Only the assigned investigator or a supervisor may {action}."
        )


def check_contact(
    status: Status, occurred_at: datetime, received_at: datetime, now: datetime
) -> None:
    """Rule 9."""
    if status is Status.LODGED:
        raise ContactBeforeAssignmentError(
            "Assign an investigator before recording contact with the complainant."
        )
    if occurred_at > now or occurred_at < received_at:
        raise ContactDateError(
            "Contact cannot be dated before the complaint was received or in the future."
        )


def check_resolvable(contacts: int) -> None:
    """Rule 10."""
    if contacts == 0:
        raise ResolutionWithoutContactError(
            "Record contact with the complainant before resolving: the investigator works with "
            "them directly."
        )
