"""Response bodies of the read-model endpoints (case list, caseload, statistics)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.values import Channel, Outcome, RedirectDestination, Standing, Status, SubjectKind


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvestigatorRef(Out):
    id: str
    name: str


class CaseListItem(Out):
    """One case. For analysts `investigator` is always null: they see no identities."""

    complaint_id: UUID
    reference: str
    status: Status
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
    first_contact_due: date
    resolution_due: date
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
    overdue_resolution: int
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
    status: Status
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
    overdue_resolution: bool


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
    learning_theme: dict[str, int]
    month: dict[str, int]
    late: int


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
