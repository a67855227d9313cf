"""docs/DOMAIN.md rules 1 to 6 (what a complaint must contain), on the `Complaint` aggregate.

Each refusal is checked for its exact error class, its rule slug and the fields it names, and for
having been raised before any complaint was created; each rule's accepted side is checked too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.complaint import Complaint, complaint_id_for
from domain.errors import (
    ChannelDetailRequiredError,
    ComplainantUnreachableError,
    ComplaintContentError,
    ComplaintDatesError,
    DomainError,
    EffectsOrBehavioursMissingError,
    OnBehalfBasisError,
    StandingNotAllowedError,
    SubjectUnidentifiedError,
)
from domain.values import LodgeComplaint, Status
from tests.unit.domain.builders import (
    INTAKE,
    NOW,
    RECEIVED_AT,
    REFERENCE,
    assert_lodging_refused,
    body,
    lodge,
    lodge_command,
    subject,
    watching_creations,
)

PERSON_KINDS = ["officer", "staff", "contractor", "volunteer"]
EFFECTS = [
    "causing_distress",
    "causing_inconvenience",
    "causing_property_loss_or_damage",
    "causing_danger_or_risk",
]


def test_a_valid_complaint_is_lodged_with_one_event_carrying_what_was_received() -> None:
    # When a valid complaint is lodged
    with watching_creations() as created:
        complaint = Complaint.lodge(
            reference=REFERENCE, command=lodge_command(), actor=INTAKE, now=NOW
        )

    # Then exactly one ComplaintLodged event records it, by the intake officer
    assert created == [REFERENCE]
    events = complaint.collect_events()
    assert [type(event) for event in events] == [Complaint.Lodged]
    lodged = events[0]
    assert isinstance(lodged, Complaint.Lodged)
    assert lodged.actor == {"id": "intake-1", "name": "Front Desk"}
    assert lodged.occurred_at == RECEIVED_AT
    assert lodged.received_at == RECEIVED_AT
    assert lodged.incident_date == date(2026, 11, 1)
    assert lodged.subject["shoulder_number"] == "1234AB"
    assert complaint.id == complaint_id_for(REFERENCE)
    assert complaint.reference == REFERENCE
    assert complaint.version == 1
    assert complaint.status is Status.LODGED
    assert complaint.investigator is None
    assert complaint.contacts == []
    assert (complaint.assigned_at, complaint.first_contact_at, complaint.resolved_at) == (
        None,
        None,
        None,
    )


def test_content_errors_are_all_complaint_content_errors() -> None:
    # The API maps the base class to 422, so every rule 1-6 error must derive from it.
    for error in (
        ComplainantUnreachableError,
        SubjectUnidentifiedError,
        StandingNotAllowedError,
        EffectsOrBehavioursMissingError,
        OnBehalfBasisError,
        ComplaintDatesError,
        ChannelDetailRequiredError,
    ):
        assert issubclass(error, ComplaintContentError)
    slugs = {
        ComplainantUnreachableError.rule,
        SubjectUnidentifiedError.rule,
        StandingNotAllowedError.rule,
        EffectsOrBehavioursMissingError.rule,
        OnBehalfBasisError.rule,
        ComplaintDatesError.rule,
    }
    assert len(slugs) == 6
    assert DomainError.rule not in slugs


# ---- Rule 1: a named complainant with a way to be reached ---------------------------------------


def test_rule_1_an_unnamed_complainant_is_refused() -> None:
    data = body(complainant={"email": "sam@example.org"})
    assert_lodging_refused(
        data, ComplainantUnreachableError, "complainant-unreachable", ("complainant.name",)
    )


def test_rule_1_a_complainant_with_no_way_to_be_reached_is_refused() -> None:
    # Blank contact details count as none
    data = body(complainant={"name": "Sam Jones", "email": "", "phone": "   "})
    assert_lodging_refused(
        data,
        ComplainantUnreachableError,
        "complainant-unreachable",
        ("complainant.email", "complainant.phone", "complainant.address"),
    )


@pytest.mark.parametrize(
    ("method", "value"),
    [("email", "sam@example.org"), ("phone", "07700 900123"), ("address", "1 High St, London")],
)
def test_rule_1_any_one_way_to_be_reached_is_enough(method: str, value: str) -> None:
    complaint = lodge(body(complainant={"name": "Sam Jones", method: value}))
    assert complaint.lodged["complainant"][method] == value
    assert complaint.status is Status.LODGED


# ---- Rule 2: an identifiable subject -------------------------------------------------------------


@pytest.mark.parametrize("kind", PERSON_KINDS)
def test_rule_2_a_person_with_no_name_number_or_description_is_refused(kind: str) -> None:
    assert_lodging_refused(
        body(subject=subject(kind)),
        SubjectUnidentifiedError,
        "subject-unidentified",
        ("subject.description",),
    )


@pytest.mark.parametrize("kind", PERSON_KINDS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "PC Smith"),
        ("shoulder_number", "1234AB"),
        ("description", "Tall, grey beard, on a bicycle"),
    ],
)
def test_rule_2_a_name_a_number_or_a_description_identifies_a_person(
    kind: str, field: str, value: str
) -> None:
    complaint = lodge(body(subject=subject(kind, **{field: value})))
    assert complaint.lodged["subject"]["kind"] == kind
    assert complaint.lodged["subject"][field] == value


def test_rule_2_a_complaint_about_a_police_station_names_the_station() -> None:
    refused = body(subject=subject("police_station"), behaviours=[])
    assert_lodging_refused(
        refused, SubjectUnidentifiedError, "subject-unidentified", ("subject.station",)
    )

    complaint = lodge(body(subject=subject("police_station", station="Charing Cross")))
    assert complaint.lodged["subject"]["station"] == "Charing Cross"


def test_rule_2_a_complaint_about_another_force_names_the_force() -> None:
    refused = body(subject=subject("other_force"))
    assert_lodging_refused(
        refused, SubjectUnidentifiedError, "subject-unidentified", ("subject.force_name",)
    )

    complaint = lodge(body(subject=subject("other_force", force_name="Kent Police")))
    assert complaint.lodged["subject"]["force_name"] == "Kent Police"


@pytest.mark.parametrize("kind", ["case_handling", "force_general", "commissioner"])
def test_rule_2_other_subjects_need_no_identification(kind: str) -> None:
    complaint = lodge(body(subject=subject(kind), behaviours=[]))
    assert complaint.subject_kind == kind


# ---- Rule 3: `witnessed` only for a person's conduct ---------------------------------------------


@pytest.mark.parametrize(
    "about",
    [
        subject("case_handling"),
        subject("police_station", station="Charing Cross"),
        subject("force_general"),
    ],
)
def test_rule_3_handling_a_station_or_the_force_cannot_be_witnessed(about: dict[str, str]) -> None:
    assert_lodging_refused(
        body(standing="witnessed", subject=about),
        StandingNotAllowedError,
        "standing-not-allowed",
        ("standing",),
    )


@pytest.mark.parametrize("kind", PERSON_KINDS)
def test_rule_3_a_persons_conduct_may_be_witnessed(kind: str) -> None:
    complaint = lodge(body(standing="witnessed", subject=subject(kind, name="PC Smith")))
    assert complaint.lodged["standing"] == "witnessed"


@pytest.mark.parametrize("standing", ["experienced", "adversely_affected"])
def test_rule_3_case_handling_is_experienced_or_adversely_affected(standing: str) -> None:
    complaint = lodge(
        body(standing=standing, subject=subject("case_handling"), behaviours=["causing_distress"])
    )
    assert complaint.lodged["standing"] == standing


# ---- Rule 4: effects for the adversely affected, behaviours for a person -------------------------


def test_rule_4_an_adversely_affected_complainant_must_name_an_effect() -> None:
    # "Rude or aggressive" is a behaviour, not an effect on the complainant
    for behaviours in ([], ["rude_or_aggressive"]):
        assert_lodging_refused(
            body(standing="adversely_affected", behaviours=behaviours),
            EffectsOrBehavioursMissingError,
            "effects-or-behaviours-missing",
            ("behaviours",),
        )


@pytest.mark.parametrize("effect", EFFECTS)
def test_rule_4_any_one_effect_is_enough(effect: str) -> None:
    complaint = lodge(body(standing="adversely_affected", behaviours=[effect]))
    assert complaint.lodged["behaviours"] == [effect]


def test_rule_4_a_complaint_about_a_person_names_a_behaviour() -> None:
    assert_lodging_refused(
        body(behaviours=[]),
        EffectsOrBehavioursMissingError,
        "effects-or-behaviours-missing",
        ("behaviours",),
    )


def test_rule_4_other_subjects_need_no_behaviour_when_experienced() -> None:
    complaint = lodge(body(subject=subject("force_general"), behaviours=[]))
    assert complaint.lodged["behaviours"] == []


def test_behaviours_outside_the_list_are_a_shape_error_not_a_rule() -> None:
    with pytest.raises(ValidationError):
        LodgeComplaint.model_validate(body(behaviours=["being_late"]))


# ---- Rule 5: on behalf of someone else -----------------------------------------------------------


def for_child(date_of_birth: str | None) -> dict[str, Any]:
    other: dict[str, Any] = {"name": "Alex Jones", "basis": "parent_or_guardian_of_child_under_16"}
    if date_of_birth is not None:
        other["date_of_birth"] = date_of_birth
    return body(on_behalf_of=other)


def test_rule_5_a_parent_gives_the_childs_date_of_birth() -> None:
    assert_lodging_refused(
        for_child(None),
        OnBehalfBasisError,
        "on-behalf-basis-invalid",
        ("on_behalf_of.date_of_birth",),
    )


def test_rule_5_a_child_one_day_under_16_on_the_day_received_is_accepted() -> None:
    # Received 2026-11-20; born 2010-11-21, the child turns 16 tomorrow
    complaint = lodge(for_child("2010-11-21"))
    assert complaint.lodged["on_behalf_of"]["date_of_birth"] == "2010-11-21"
    assert complaint.lodged["on_behalf_of"]["basis"] == "parent_or_guardian_of_child_under_16"


@pytest.mark.parametrize(
    "date_of_birth",
    [
        "2010-11-20",  # 16 exactly, on the day received
        "2001-05-05",  # an adult
        "2026-11-21",  # not yet born when the complaint was received
    ],
)
def test_rule_5_a_parent_complains_only_for_a_child_under_16(date_of_birth: str) -> None:
    assert_lodging_refused(
        for_child(date_of_birth),
        OnBehalfBasisError,
        "on-behalf-basis-invalid",
        ("on_behalf_of.date_of_birth",),
    )


def test_rule_5_age_is_reckoned_on_the_london_date_of_receipt() -> None:
    # Given a complaint received at 23:30 UTC on 30 June, which is 00:30 on 1 July in London
    received = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    june = {"received_at": received.isoformat(), "incident_date": "2026-06-29"}
    data = for_child("2010-07-01") | june

    # Then a child born on 1 July 2010 was already 16 on the day received
    assert_lodging_refused(
        data, OnBehalfBasisError, "on-behalf-basis-invalid", ("on_behalf_of.date_of_birth",)
    )
    # And one born a day later was not
    accepted = lodge(for_child("2010-07-02") | june)
    assert accepted.received_at == received


def test_rule_5_written_consent_needs_its_reference() -> None:
    without = body(on_behalf_of={"name": "Alex Jones", "basis": "written_consent"})
    assert_lodging_refused(
        without,
        OnBehalfBasisError,
        "on-behalf-basis-invalid",
        ("on_behalf_of.consent_reference",),
    )

    complaint = lodge(
        body(
            on_behalf_of={
                "name": "Alex Jones",
                "basis": "written_consent",
                "consent_reference": "CONSENT-2026-118",
            }
        )
    )
    assert complaint.lodged["on_behalf_of"]["consent_reference"] == "CONSENT-2026-118"


def test_rule_5_any_basis_other_than_the_two_is_a_shape_error() -> None:
    with pytest.raises(ValidationError):
        LodgeComplaint.model_validate(body(on_behalf_of={"name": "A", "basis": "friend"}))


# ---- Rule 6: dates, and the late flag ------------------------------------------------------------


def test_rule_6_received_at_in_the_future_is_refused() -> None:
    future = NOW + timedelta(seconds=1)
    assert_lodging_refused(
        body(received_at=future.isoformat()), ComplaintDatesError, "dates-invalid", ("received_at",)
    )


def test_rule_6_received_at_may_be_now_or_default_to_now() -> None:
    assert lodge(body(received_at=NOW.isoformat())).received_at == NOW

    complaint = lodge(body(received_at=None))
    assert complaint.received_at == NOW
    assert complaint.lodged["received_at"] == NOW


def test_rule_6_received_at_must_carry_an_offset() -> None:
    with pytest.raises(ValidationError):
        LodgeComplaint.model_validate(body(received_at="2026-11-20T09:30:00"))


def test_rule_6_an_incident_after_receipt_is_refused() -> None:
    assert_lodging_refused(
        body(incident_date="2026-11-21"), ComplaintDatesError, "dates-invalid", ("incident_date",)
    )


def test_rule_6_an_incident_on_the_day_of_receipt_is_accepted() -> None:
    assert lodge(body(incident_date="2026-11-20")).lodged["incident_date"] == date(2026, 11, 20)


def test_rule_6_the_day_of_receipt_is_the_london_date() -> None:
    # Received at 00:30 on 1 July in London (23:30 UTC on 30 June): an incident that day is fine
    received = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    complaint = lodge(body(received_at=received.isoformat(), incident_date="2026-07-01"))
    assert complaint.lodged["incident_date"] == date(2026, 7, 1)
    # And one on 2 July is not
    assert_lodging_refused(
        body(received_at=received.isoformat(), incident_date="2026-07-02"),
        ComplaintDatesError,
        "dates-invalid",
        ("incident_date",),
    )


@pytest.mark.parametrize(
    ("incident_date", "late"),
    [
        ("2025-11-19", True),  # twelve months and a day before receipt
        ("2025-11-20", False),  # exactly twelve months
        ("2026-11-01", False),
        ("2019-01-01", True),  # the law sets no hard limit: accepted, but flagged
        (None, False),  # no incident date given
    ],
)
def test_rule_6_an_incident_over_12_months_before_receipt_is_accepted_and_flagged_late(
    incident_date: str | None, late: bool
) -> None:
    complaint = Complaint.lodge(
        reference=REFERENCE,
        command=lodge_command(body(incident_date=incident_date)),
        actor=INTAKE,
        now=NOW,
    )
    (event,) = complaint.collect_events()
    assert isinstance(event, Complaint.Lodged)
    assert event.late is late
    assert complaint.late is late
    assert complaint.status is Status.LODGED


# ---- The channel's detail (API contract) ---------------------------------------------------------


@pytest.mark.parametrize("channel", ["partner_organisation", "representative"])
def test_partners_and_representatives_are_named(channel: str) -> None:
    assert_lodging_refused(
        body(channel=channel),
        ChannelDetailRequiredError,
        "channel-detail-required",
        ("channel_detail",),
    )
    complaint = lodge(body(channel=channel, channel_detail="Citizens Advice Bureau"))
    assert complaint.lodged["channel_detail"] == "Citizens Advice Bureau"
