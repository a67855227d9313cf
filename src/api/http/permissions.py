"""Who may read what, beyond the role an endpoint admits: one call each, made by the route.

The roles of docs/ROLES.md admit a caller to an endpoint; these decide the finer cases that
depend on the request itself: a past state is for auditors, an analyst's case list names no
investigator, a caseworker's caseload is their own. They are called in the route's body, after
FastAPI has validated every parameter, so a malformed request is a 422 whoever sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from api.http.auth import Principal, Role
from api.http.deps import role
from api.http.problems import FieldError, ProblemError

READERS = (Role.CASEWORKER, Role.AUDITOR, Role.RECORDS_MANAGER)
Reader = Annotated[Principal, role(*READERS)]
Lister = Annotated[Principal, role(Role.CASEWORKER, Role.SUPERVISOR, Role.AUDITOR, Role.ANALYST)]
Caseworker = Annotated[Principal, role(Role.CASEWORKER)]


def sees_personal_data(principal: Principal, restricted: bool) -> bool:
    """While processing is restricted (DPA 2018 s.47(2)) only records managers and auditors
    see a complaint's personal data; otherwise whoever may read the complaint does."""
    return not restricted or principal.has_any(Role.RECORDS_MANAGER, Role.AUDITOR)


def _forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "forbidden", "Not allowed for your role", detail)


@dataclass(frozen=True)
class Moment:
    """Which state of a complaint to show: now (both None), after event N, or at an instant."""

    version: int | None = None
    at: datetime | None = None


def moment_for(principal: Principal, as_of_version: int | None, as_of: datetime | None) -> Moment:
    if (as_of_version is not None or as_of is not None) and not principal.has(Role.AUDITOR):
        raise _forbidden("Only auditors may see a complaint as it stood in the past.")
    if as_of_version is not None and as_of is not None:
        raise ProblemError(
            422,
            "validation-error",
            "The request is not valid",
            "Give as_of_version or as_of, not both.",
            errors=[
                FieldError(field="as_of_version", message="cannot be given with as_of"),
                FieldError(field="as_of", message="cannot be given with as_of_version"),
            ],
        )
    return Moment(as_of_version, as_of)


@dataclass(frozen=True)
class CaseListView:
    """The case list as this caller may see it: anonymised for analysts."""

    principal: Principal
    anonymised: bool
    investigator_id: str | None


def case_list_view(principal: Principal, investigator_id: str | None) -> CaseListView:
    anonymised = not principal.has_any(Role.CASEWORKER, Role.AUDITOR)
    if anonymised and investigator_id is not None:
        raise _forbidden("Analysts cannot select by investigator.")
    return CaseListView(principal, anonymised, investigator_id)


def check_caseload_reader(principal: Principal, investigator_id: str) -> None:
    """A caseworker reads their own caseload; a supervisor anyone's."""
    if not principal.has(Role.SUPERVISOR) and principal.id != investigator_id:
        raise _forbidden("A caseworker sees only their own cases.")
