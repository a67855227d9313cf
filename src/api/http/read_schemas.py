"""Response bodies of the read-model endpoints (case list, caseload, statistics).

Statuses are as judged on the day of asking: a notified outcome whose review deadline has
passed with no review requested reads `finalised` (docs/DOMAIN.md part B), with no event.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.statutory_values import HandlingMode
from domain.values import Channel, Outcome, RedirectDestination, Standing, Status, SubjectKind

_STATUS = (
    "As judged today: a notified outcome past its review deadline, with no review requested, "
    "is `finalised`."
)
_HANDLING = "The latest handling decision; null while none is decided (outside Schedule 3)."
_NEXT_UPDATE = (
    "While recorded (under Schedule 3, investigated): the day the next progress update to the "
    "complainant is due (rule 17); otherwise null."
)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvestigatorRef(Out):
    id: str
    name: str


class CaseListItem(Out):
    """One case. For analysts `investigator` is always null: they see no identities."""

    complaint_id: UUID
    reference: str
    status: Status = Field(description=_STATUS)
    subject_kind: SubjectKind
    channel: Channel
    standing: Standing
    on_behalf_basis: str
    late: bool
    lodged_at: datetime
    lodged_on: date
    investigator: InvestigatorRef | None
    assigned_at: datetime | None
    first_contact_at: datetime | None
    resolved_at: datetime | None
    redirected_at: datetime | None
    outcome: Outcome | None
    redirect_destination: RedirectDestination | None
    handling: HandlingMode | None = Field(description=_HANDLING)
    recorded_at: datetime | None = Field(description="When it was recorded under Schedule 3.")
    outcome_notified_at: datetime | None = Field(
        description="When its outcome was notified (the latest notification)."
    )
    review_deadline: date | None = Field(
        description="The last day a review of the latest notified outcome is in time (rule 18)."
    )
    withdrawn_at: datetime | None
    finalised_at: datetime | None = Field(
        description="When a review found the outcome reasonable and proportionate; a "
        "complaint finalised by the passing of its review deadline has none."
    )
    first_contact_due: date
    resolution_due: date
    next_update_due: date | None = Field(description=_NEXT_UPDATE)
    version: int


class CaseListPage(Out):
    items: list[CaseListItem]
    next_cursor: str | None


class InvestigatorCaseload(Out):
    investigator_id: str
    investigator_name: str
    open: int
    awaiting_first_contact: int
    overdue_first_contact: int
    overdue_resolution: int = Field(
        description="Past the resolution limit: complaints handled outside Schedule 3 only."
    )
    updates_overdue: int = Field(
        description="Recorded complaints whose progress update (rule 17) is past its due day."
    )
    twelve_month_reports_due: int = Field(
        description="Recorded complaints open twelve months or more from receipt: a report to "
        "MOPAC and the IOPC is due (rule 20), then every six months."
    )
    oldest_open_days: int


class Unassigned(Out):
    count: int
    oldest_days: int | None


class Caseload(Out):
    investigators: list[InvestigatorCaseload]
    unassigned: Unassigned


class OpenCase(Out):
    complaint_id: UUID
    reference: str
    status: Status = Field(description=_STATUS)
    subject_kind: SubjectKind
    channel: Channel
    lodged_at: datetime
    lodged_on: date
    age_days: int
    assigned_at: datetime | None
    first_contact_at: datetime | None
    first_contact_due: date
    resolution_due: date
    overdue_first_contact: bool
    overdue_resolution: bool = Field(description="Outside Schedule 3 only.")
    handling: HandlingMode | None = Field(description=_HANDLING)
    review_deadline: date | None = Field(
        description="Once an outcome is notified: the last day a review is in time."
    )
    next_update_due: date | None = Field(description=_NEXT_UPDATE)
    update_overdue: bool = Field(description="Today is past `next_update_due`.")
    reports_due: int = Field(
        description="While recorded: the twelve-month and six-monthly reports fallen due by "
        "today (rule 20)."
    )
    next_report_due: date | None = Field(
        description="While recorded: the day the next report falls due (rule 20)."
    )


class InvestigatorCases(Out):
    investigator_id: str
    cases: list[OpenCase]


class LearningStatisticsOut(Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    total: int
    subject_kind: dict[str, int]
    behaviour: dict[str, int]
    standing: dict[str, int]
    channel: dict[str, int]
    on_behalf_basis: dict[str, int]
    redirect_destination: dict[str, int]
    outcome: dict[str, int]
    learning_theme: dict[str, int] = Field(
        description="Per complaint, each theme of its resolution's or latest notified "
        "outcome's learning points."
    )
    month: dict[str, int]
    late: int
    handling: dict[str, int] = Field(
        description="Complaints by their latest handling decision (undecided ones not counted)."
    )
    allegation_category: dict[str, int] = Field(description="Allegations by IOPC category.")
    allegation_outcome: dict[str, int] = Field(
        description="Allegations by the outcome of the latest notification of their complaint."
    )
    iopc_referred: dict[str, int] = Field(
        description="Referrals to the IOPC: `mandatory` (on a flag rule 15 names) or `voluntary`."
    )
    review_result: dict[str, int] = Field(
        description="Reviews decided: `reasonable_and_proportionate` or "
        "`not_reasonable_and_proportionate`."
    )


class Summary(Out):
    mean: float | None
    median: float | None
    p90: float | None


class Duration(Out):
    count: int
    working_days: Summary
    calendar_days: Summary


class TimelinessStatisticsOut(Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    lodged_to_assigned: Duration
    lodged_to_first_contact: Duration
    lodged_to_resolved: Duration
    lodged_to_outcome_notified: Duration = Field(
        description="To the first notification of the outcome (complaints under Schedule 3)."
    )
