"""Records management tests (docs/DOMAIN.md part C): the master key, plaintext at rest, erasure.

The helpers here build complaints through the application service itself (the HTTP tests use
tests/support.py), with a marker in every personal field so that a test can tell "in clear"
from "sealed" or "erased".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from api.app import build_complaints
from api.eventstore.keys import MasterKey, decode_master_key
from api.settings import Settings
from domain.service import Complaints
from domain.statutory_values import ComplaintChange
from domain.values import (
    Actor,
    AssignInvestigator,
    ContactMethod,
    ErasePersonalData,
    ErasureBasis,
    LodgeComplaint,
    RecordContact,
    ResolveComplaint,
)
from tests.ops_support import raw_sql

INTAKE = Actor(id="intake-1", name="Intake One")
INVESTIGATOR = Actor(id="cw-1", name="Officer cw-1")
RECORDS_MANAGER = Actor(id="rm-1", name="Records Manager")
ERASE = ErasePersonalData(basis=ErasureBasis.ERASURE_REQUEST, authority_ref="DPO-1")


def key_id(text: str) -> str:
    return MasterKey(decode_master_key(text)).id


def new_marker() -> str:
    return "mk" + uuid.uuid4().hex[:12]


def settings_for(database_url: str, master_key: str | None) -> Settings:
    return Settings(
        _env_file=None, database_url=database_url, master_key=master_key, projections="external"
    )


def lodging_with(marker: str) -> dict[str, Any]:
    """A lodging with `marker` (at most 18 characters) in each personal field that can hold
    one (not the phone number nor the dates of birth)."""
    assert len(marker) <= 18, marker
    incident = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    return {
        "channel": "representative",
        "channel_detail": f"Advocacy {marker}chd",
        "complainant": {
            "name": f"Ms {marker}cna",
            "email": f"{marker}cem@example.org",
            "phone": "07700 900123",
            "address": f"1 {marker}cad Street",
            "date_of_birth": "1961-02-03",
        },
        "on_behalf_of": {
            "name": f"Mr {marker}obn",
            "basis": "written_consent",
            "consent_reference": f"{marker}obc",
        },
        "standing": "experienced",
        "subject": {
            "kind": "officer",
            "name": f"PC {marker}sna",
            "shoulder_number": f"{marker}sh",  # at most 20 characters
            "description": f"Tall, {marker}sde",
        },
        "behaviours": ["rude_or_aggressive"],
        "incident_date": incident,
        "location": f"Outside {marker}loc",
        "description": f"He shouted at me. {marker}des",
    }


def lodge_resolved(complaints: Complaints, marker: str) -> UUID:
    """A complaint lodged, assigned, contacted and resolved, markers in every personal field."""
    lodged = complaints.lodge(LodgeComplaint.model_validate(lodging_with(marker)), actor=INTAKE)
    complaint_id = lodged.complaint.id
    steps: list[ComplaintChange] = [
        AssignInvestigator(investigator_id=INVESTIGATOR.id, investigator_name=INVESTIGATOR.name),
        RecordContact(method=ContactMethod.PHONE, summary=f"Talked it through. {marker}con"),
        ResolveComplaint.model_validate(
            {
                "outcome": "apology_given",
                "summary": f"Apologised. {marker}res",
                "learning": [{"theme": "communication", "note": f"Be patient. {marker}lrn"}],
            }
        ),
    ]
    for step in steps:
        complaints.act(complaint_id, step, actor=INVESTIGATOR, supervisor=True)
    return complaint_id


def personal_values(complaints: Complaints, complaint_id: UUID) -> dict[str, Any]:
    """The personal fields of the complaint as the service reads it now."""
    complaint = complaints.get_complaint(complaint_id)
    lodged = complaint.lodged
    resolution = complaint.resolution or {}
    return {
        "complainant.name": (lodged.get("complainant") or {}).get("name"),
        "subject.name": (lodged.get("subject") or {}).get("name"),
        "description": lodged.get("description"),
        "location": lodged.get("location"),
        "contact.summary": complaint.contacts[0]["summary"] if complaint.contacts else None,
        "resolution.summary": resolution.get("summary"),
    }


def in_clear(marker: str) -> dict[str, str]:
    """What `personal_values` reads for a complaint of `lodge_resolved` that is not erased."""
    return {
        "complainant.name": f"Ms {marker}cna",
        "subject.name": f"PC {marker}sna",
        "description": f"He shouted at me. {marker}des",
        "location": f"Outside {marker}loc",
        "contact.summary": f"Talked it through. {marker}con",
        "resolution.summary": f"Apologised. {marker}res",
    }


def key_rows(database_url: str, complaint_id: UUID) -> dict[str, tuple[Any, ...]]:
    """part -> (wrapped, master_key_id, destroyed_at) of the complaint's rows in complaint_keys."""
    rows = raw_sql(
        database_url,
        "SELECT part, wrapped, master_key_id, destroyed_at FROM complaint_keys "
        "WHERE complaint_id = ?",
        (str(complaint_id),),
    )
    return {str(part): (wrapped, key_id, destroyed) for part, wrapped, key_id, destroyed in rows}


def read_all(database_url: str, key: str | None, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    complaints = build_complaints(settings_for(database_url, key))
    try:
        return {complaint_id: personal_values(complaints, complaint_id) for complaint_id in ids}
    finally:
        complaints.close()


def under(database_url: str, master_id: str) -> int:
    return int(
        raw_sql(
            database_url,
            "SELECT count(*) FROM complaint_keys WHERE master_key_id = ? AND wrapped IS NOT NULL",
            (master_id,),
        )[0][0]
    )
