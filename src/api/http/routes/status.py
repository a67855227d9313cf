"""The complainant's status page: `GET /status/{reference}` with the access code of the letter.

No token: the complainant proves the complaint theirs with the code the acknowledgement letter
gave (`X-Access-Code`), checked against the lodging's keyed hash in constant time. The answer
holds no personal data (the reference, the status, two dates and a sentence chosen by the status
alone), so the access log is not written. Whatever is wrong (no code, a wrong code, no such
reference, a complaint erased or stored in clear) is the one 404, byte for byte; ten of them for
one reference string within an hour lock it out (429 with Retry-After, even for the right code),
counted in the database so that every API process counts the same
(`api.eventstore.status_attempts`).
"""

from __future__ import annotations

import contextlib
import hmac
import re
from datetime import date, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, WithJsonSchema

from api.eventstore.sealing import KeyRing
from api.eventstore.status_attempts import LockedOut, StatusAttempts
from api.http.deps import ComplaintsDep
from api.http.problems import problem_response, problem_responses
from domain.complaint import Complaint, complaint_id_for
from domain.rules import local_date
from domain.service import Complaints
from domain.statutory_events import STATUTORY_EVENTS
from domain.values import Status

router = APIRouter(tags=["status page"])

# Far longer than a code, even spaced out: anything longer is simply wrong.
MAX_TYPED = 64
_SEPARATORS = re.compile(r"[\s-]+")  # spaces and dashes, anywhere

# One sentence per status, for the complainant: nothing of the case beyond its status. The
# interval of updates is the force's setting; the review window is the law's.
NEXT_STEPS: dict[Status, str] = {
    Status.LODGED: "We have received your complaint and are allocating it to an investigating "
    "officer.",
    Status.ASSIGNED: "An investigating officer has been allocated to your complaint and will "
    "contact you.",
    Status.IN_CONTACT: "The investigating officer is in contact with you and is working with you "
    "on your complaint.",
    Status.RESOLVED: "Your complaint has been resolved and is now closed. If you have a question "
    "about it, contact us quoting your reference.",
    Status.REDIRECTED: "Your complaint is not ours to handle and has been passed to the "
    "organisation responsible for it, which will contact you.",
    Status.RECORDED: "Your complaint is recorded and being investigated. We will update you on "
    "its progress at least every {every_days} days.",
    Status.OUTCOME_NOTIFIED: "We have written to you with the outcome of your complaint. If you "
    "are not satisfied, you may ask for a review within 28 days of our letter.",
    Status.UNDER_REVIEW: "Your request for a review has been received and is being considered "
    "by the review body named in our letter.",
    Status.FINALISED: "Your complaint has been finalised and is now closed. If you have a "
    "question about it, contact us quoting your reference.",
    Status.WITHDRAWN: "Your complaint has been withdrawn, as you asked, and is now closed.",
}

# The complainant's view of activity: the lifecycle, not the records manager's decisions.
_LIFECYCLE: tuple[type, ...] = (
    Complaint.Lodged,
    Complaint.Redirected,
    Complaint.InvestigatorAssigned,
    Complaint.ComplainantContacted,
    Complaint.Resolved,
    *STATUTORY_EVENTS,
)


class StatusOut(BaseModel):
    """What the complainant sees: no personal data."""

    model_config = ConfigDict(extra="forbid")
    reference: str
    status: Status
    received_on: date
    last_activity_on: date
    next_step: str


# Every answer names a secret's holder, or refuses one: kept by no cache on the way.
_NO_STORE = {"Cache-Control": "no-store"}
_NO_STORE_HEADER = {
    "Cache-Control": {
        "description": "Always `no-store`.",
        "required": True,
        "schema": {"type": "string", "enum": ["no-store"]},
    }
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until this reference may be tried again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
_PROBLEM = problem_responses(404)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": _NO_STORE_HEADER},
    404: {
        **_PROBLEM[404],
        "description": "No complaint has this reference and access code (whatever the reason)",
        "headers": _NO_STORE_HEADER,
    },
    429: {
        **_PROBLEM[404],
        "description": "Ten failed tries for this reference within an hour: see Retry-After",
        "headers": _NO_STORE_HEADER | _RETRY_AFTER,
    },
    413: _PROBLEM[413],
    503: _PROBLEM[503],
}


def normal_code(typed: str) -> str:
    """An access code as issued (`ABCD-EFGH-JKMN`), from what was typed: any case, with or
    without dashes or spaces."""
    bare = _SEPARATORS.sub("", typed).upper()
    return f"{bare[:4]}-{bare[4:8]}-{bare[8:]}" if len(bare) == 12 else bare


def normal_reference(typed: str) -> str:
    return typed.strip().upper()


def _not_found() -> JSONResponse:
    return problem_response(
        404,
        "not-found",
        "Not found",
        "No complaint has this reference and access code. Check both against your letter.",
        headers=_NO_STORE,
    )


def _locked_out(locked: LockedOut) -> JSONResponse:
    return problem_response(
        429,
        "too-many-tries",
        "Too many tries",
        "This reference has been tried too many times with a wrong access code. "
        f"Try again in {locked.retry_after} seconds.",
        headers={**_NO_STORE, "Retry-After": str(locked.retry_after)},
    )


def _status_of(
    complaints: Complaints, keys: KeyRing, reference: str, typed_code: str | None
) -> StatusOut | None:
    """The complaint's status if the code is its own, else None (every reason alike)."""
    events = cast(list[Complaint.Event], list(complaints.events.get(complaint_id_for(reference))))
    if not events or not isinstance(events[0], Complaint.Lodged):
        return None
    lodged = events[0]
    complaint: Complaint | None = None
    for event in events:
        complaint = event.mutate(complaint)
    assert complaint is not None
    # Stored in clear: no code was ever given out; erased: the code is shredded with the data.
    if lodged.access_code_hash is None or complaint.access_code is None:
        return None
    if typed_code is None or len(typed_code) > MAX_TYPED:
        return None
    typed_hash = keys.keyed_hash("access_code", normal_code(typed_code))
    if not hmac.compare_digest(typed_hash.encode(), lodged.access_code_hash.encode()):
        return None
    last: datetime = max(event.occurred_at for event in events if isinstance(event, _LIFECYCLE))
    status = complaint.status_at(complaints.clock())
    return StatusOut(
        reference=complaint.reference,
        status=status,
        received_on=local_date(complaint.received_at),
        last_activity_on=local_date(last),
        next_step=NEXT_STEPS[status].format(every_days=complaints.update_every_days),
    )


@router.get(
    "/status/{reference:path}",
    response_model=StatusOut,
    responses=_RESPONSES,
    summary="The complainant's status page: the reference and the letter's access code",
)
def complaint_status(
    reference: str,
    request: Request,
    complaints: ComplaintsDep,
    x_access_code: Annotated[
        str | None,
        WithJsonSchema({"type": "string"}),  # a header is never null
        Header(
            description="The access code from the acknowledgement letter (ABCD-EFGH-JKMN; "
            "case, spaces and dashes do not matter).",
        ),
    ] = None,
) -> JSONResponse:
    keys: KeyRing = request.app.state.keys
    attempts: StatusAttempts = request.app.state.status_attempts
    typed_reference = normal_reference(reference)
    attempt = attempts.begin(keys.keyed_hash("status_reference", typed_reference))
    if isinstance(attempt, LockedOut):
        return _locked_out(attempt)
    try:
        found = _status_of(complaints, keys, typed_reference, x_access_code)
    except Exception:
        # Not the caller's failure (the store, say); if the store is down the try stays counted.
        with contextlib.suppress(Exception):
            attempts.succeeded(attempt)
        raise
    if found is None:
        return _not_found()
    attempts.succeeded(attempt)
    return JSONResponse(found.model_dump(mode="json"), headers=_NO_STORE)
