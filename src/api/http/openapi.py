"""What the OpenAPI document says beyond the models: response headers, request examples, links.

Tools nobody here wrote read `/openapi.json` (a generated client, a contract fuzzer): it must
describe every header a response carries, show a body that the domain accepts, and say which
operation follows which, so that a tool can lodge a complaint and carry it to its resolution.
"""

from __future__ import annotations

from typing import Any

from fastapi.openapi.models import Example

ETAG_PATTERN = r'^"[0-9]{1,18}"$'
# Printable ASCII, spaces only inside: what a retry can send back byte for byte.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]{0,198}[\x21-\x7e])?$"
# Optional spaces or tabs around (HTTP's own white space), then "*", or a version, quoted or not.
IF_MATCH_PATTERN = r'^[ \t]*(\*|(W/)?"?[0-9]{1,18}"?)[ \t]*$'

ETAG: dict[str, Any] = {
    "ETag": {
        "description": 'The complaint\'s version, quoted: send it back in If-Match ("3").',
        "required": True,
        "schema": {"type": "string", "pattern": ETAG_PATTERN},
    }
}
LOCATION: dict[str, Any] = {
    "Location": {
        "description": "The complaint's own address.",
        "required": True,
        "schema": {"type": "string", "pattern": "^/complaints/[0-9a-f-]{36}$"},
    }
}
PROJECTION_POSITION: dict[str, Any] = {
    "X-Projection-Position": {
        "description": "The event-log position the read model had processed when it answered.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
OPTIONAL_RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {**RETRY_AFTER["Retry-After"], "required": False}
}
# A read model that has not reached `min_position` says where it is.
OPTIONAL_PROJECTION_POSITION: dict[str, Any] = {
    "X-Projection-Position": {**PROJECTION_POSITION["X-Projection-Position"], "required": False}
}


def _link(operation_id: str, description: str, *, command: bool = True) -> dict[str, Any]:
    """A link to the operation FastAPI names `operation_id` (function, path and method), on
    the same complaint, and for a command at the version just answered (If-Match: the ETag)."""
    parameters = {"complaint_id": "$response.body#/complaint_id"}
    if command:
        parameters["header.if-match"] = "$response.header.ETag"
    return {"operationId": operation_id, "description": description, "parameters": parameters}


READ = _link(
    "get_complaint_complaints__complaint_id__get", "Read it as it now stands", command=False
)
HISTORY = _link(
    "get_history_complaints__complaint_id__history_get", "Its events, oldest first", command=False
)
REDIRECT = _link("redirect_complaint_complaints__complaint_id__redirect_post", "Redirect it")
ASSIGN = _link("assign_investigator_complaints__complaint_id__assign_post", "Assign it")
CONTACT = _link("record_contact_complaints__complaint_id__contacts_post", "Record contact")
RESOLVE = _link("resolve_complaint_complaints__complaint_id__resolve_post", "Resolve it")
ALLEGATION = _link("add_allegation_complaints__complaint_id__allegations_post", "Add an allegation")
HANDLING = _link("decide_handling_complaints__complaint_id__handling_post", "Decide its handling")
REFERRAL = _link(
    "refer_to_iopc_complaints__complaint_id__iopc_referral_post", "Refer it to the IOPC"
)
DETERMINATION = _link(
    "record_iopc_determination_complaints__complaint_id__iopc_determination_post",
    "Record the IOPC's determination",
)
UPDATE = _link("send_progress_update_complaints__complaint_id__updates_post", "Send an update")
OUTCOME = _link("notify_outcome_complaints__complaint_id__outcome_post", "Notify the outcome")
REVIEW = _link("request_review_complaints__complaint_id__review_post", "Request a review")
REVIEW_DECISION = _link(
    "decide_review_complaints__complaint_id__review_decision_post", "Decide the review"
)
WITHDRAW = _link("withdraw_complaint_complaints__complaint_id__withdraw_post", "Withdraw it")

# What may follow each command's success, in the order of the lifecycle.
AFTER_LODGING = {"Read": READ, "History": HISTORY, "Redirect": REDIRECT, "Assign": ASSIGN}
AFTER_ASSIGNMENT = {"Read": READ, "Reassign": ASSIGN, "RecordContact": CONTACT}
AFTER_CONTACT = {
    "Read": READ,
    "RecordContact": CONTACT,
    "Resolve": RESOLVE,
    "AddAllegation": ALLEGATION,
    "DecideHandling": HANDLING,
}
# The statutory process (Schedule 3).
WHILE_RECORDED = {
    "Read": READ,
    "AddAllegation": ALLEGATION,
    "ReferToIopc": REFERRAL,
    "SendUpdate": UPDATE,
    "NotifyOutcome": OUTCOME,
    "Withdraw": WITHDRAW,
}
AFTER_REFERRAL = {"Read": READ, "RecordDetermination": DETERMINATION, "SendUpdate": UPDATE}
AFTER_OUTCOME = {"Read": READ, "RequestReview": REVIEW, "Withdraw": WITHDRAW}
AFTER_REVIEW_REQUEST = {"Read": READ, "DecideReview": REVIEW_DECISION}
AFTER_REVIEW = {"Read": READ, "History": HISTORY, "SendUpdate": UPDATE, "NotifyOutcome": OUTCOME}
AFTER_THE_END = {"Read": READ, "History": HISTORY}


# ---- Request examples: bodies the domain accepts, whatever the day ------------------------------

LODGING_EXAMPLES = {
    "officer": Example(
        summary="About an officer's conduct, lodged online",
        value={
            "channel": "online",
            "complainant": {
                "name": "Sam Jones",
                "email": "sam.jones@example.org",
                "phone": "07700 900123",
            },
            "standing": "experienced",
            "subject": {"kind": "officer", "name": "PC Smith", "shoulder_number": "1234AB"},
            "behaviours": ["rude_or_aggressive"],
            "incident_date": "2026-11-01",
            "location": "Oxford Street",
            "description": "The officer shouted at me while I asked for directions.",
        },
    ),
    "station": Example(
        summary="About a police station, by letter, from someone adversely affected",
        value={
            "channel": "letter",
            "complainant": {"name": "Alex Brown", "address": "1 High Street, London"},
            "standing": "adversely_affected",
            "subject": {"kind": "police_station", "station": "Charing Cross"},
            "behaviours": ["causing_inconvenience"],
            "description": "The front counter was closed during its advertised hours.",
        },
    ),
}
REDIRECT_EXAMPLES = {
    "iopc": Example(
        summary="To the IOPC",
        value={"destination": "iopc", "reason": "The allegation is one the IOPC must see."},
    ),
    "other_force": Example(
        summary="To another force",
        value={
            "destination": "other_force",
            "force_name": "Kent Police",
            "reason": "The officer serves with Kent Police.",
        },
    ),
}
ASSIGNMENT_EXAMPLES = {
    "first": Example(
        summary="Assign an investigating officer",
        value={"investigator_id": "inv-2041", "investigator_name": "DS Ada Lovelace"},
    ),
}
CONTACT_EXAMPLES = {
    "phone": Example(
        summary="A phone call with the complainant",
        value={"method": "phone", "summary": "Talked through what happened and what they want."},
    ),
    "wants_recording": Example(
        summary="The complainant asks for the complaint to be recorded (Schedule 3)",
        value={
            "method": "phone",
            "summary": "Explained the options; they want it formally recorded.",
            "wants_recording": True,
            "desired_outcome": "An apology and the officer spoken to.",
        },
    ),
}
RESOLUTION_EXAMPLES = {
    "apology": Example(
        summary="Resolved with an apology, and a lesson for the force",
        value={
            "outcome": "apology_given",
            "summary": "Apologised for the officer's manner; the complainant accepted.",
            "learning": [{"theme": "communication", "note": "Stay calm with the public."}],
        },
    ),
}
RETENTION_EXAMPLES = {
    "retain": Example(
        summary="Keep it for another two years",
        value={
            "decision": "retain",
            "reason": "Civil claim pending.",
            "next_review_on": "2099-01-31",
        },
    ),
}
ERASURE_EXAMPLES = {
    "all": Example(
        summary="Erase all its personal data at the end of retention",
        value={"basis": "retention_expired", "authority_ref": "RR-2032-0141"},
    ),
    "complainant": Example(
        summary="Erase the complainant's details on their request",
        value={"basis": "erasure_request", "authority_ref": "DPO-88", "parts": ["complainant"]},
    ),
}
RESTRICTION_EXAMPLES = {
    "evidence": Example(
        summary="Keep it as evidence, unused",
        value={"reason": "Held for court proceedings.", "authority_ref": "CPS-2026-7"},
    ),
}
LIFT_EXAMPLES = {
    "done": Example(summary="The proceedings ended", value={"reason": "Proceedings concluded."}),
}

# ---- The statutory process (Schedule 3) ---------------------------------------------------------

ALLEGATION_EXAMPLES = {
    "behaviour": Example(
        summary="An allegation about an officer's behaviour",
        value={
            "category": "individual_behaviours",
            "subcategory": "impolite language or tone",
            "description": "Swore at the complainant when asked for directions.",
            "flags": [],
        },
    ),
    "discrimination": Example(
        summary="A flagged allegation: it must be recorded and referred to the IOPC",
        value={
            "category": "discriminatory_behaviour",
            "description": "Made a remark about the complainant's religion.",
            "flags": ["discrimination"],
        },
    ),
}
HANDLING_EXAMPLES = {
    "schedule_3": Example(
        summary="Record it under Schedule 3",
        value={"mode": "schedule_3", "reason": "The complainant asked for it to be recorded."},
    ),
    "outside": Example(
        summary="Handle it outside Schedule 3, with the complainant",
        value={"mode": "outside_schedule_3", "reason": "Resolvable by explanation."},
    ),
}
REFERRAL_EXAMPLES = {
    "mandatory": Example(summary="Refer it on the grounds its allegations' flags give", value={}),
    "voluntary": Example(
        summary="Refer it voluntarily",
        value={"grounds": ["voluntary"], "iopc_reference": "IOPC-2026-00417"},
    ),
}
DETERMINATION_EXAMPLES = {
    "local": Example(
        summary="The IOPC returns it for a local investigation",
        value={"mode": "local_investigation", "iopc_reference": "IOPC-2026-00417"},
    ),
}
UPDATE_EXAMPLES = {
    "letter": Example(
        summary="A progress update by letter",
        value={"method": "letter", "summary": "Witness statements taken; CCTV requested."},
    ),
}
OUTCOME_EXAMPLES = {
    "upheld": Example(
        summary="One allegation upheld, with an apology and learning",
        value={
            "allegations": [{"allegation_id": "A1", "outcome": "upheld"}],
            "actions": ["apology", "reflective_practice"],
            "summary": "The officer's language fell below the standard expected.",
            "learning": [{"theme": "communication", "note": "Briefing on tone at the desk."}],
        },
    ),
}
REVIEW_EXAMPLES = {
    "in_time": Example(
        summary="A review requested in time",
        value={"grounds": "The outcome does not address the remark made."},
    ),
}
REVIEW_DECISION_EXAMPLES = {
    "upheld": Example(
        summary="The outcome was reasonable and proportionate",
        value={"reasonable_and_proportionate": True, "recommendations": []},
    ),
    "reopen": Example(
        summary="Not reasonable and proportionate: the complaint is reopened",
        value={
            "reasonable_and_proportionate": False,
            "recommendations": ["Interview the second witness."],
        },
    ),
}
WITHDRAWAL_EXAMPLES = {
    "signed": Example(
        summary="Withdrawn by the complainant, signed",
        value={
            "signed_by": "complainant",
            "signed_on": "2026-11-30",
            "scope": "The whole complaint.",
        },
    ),
}
