"""Values and commands of the statutory process (docs/DOMAIN.md part B, Schedule 3).

As in `values.py`, these models check shape only. The fields a rule speaks of (an allegation's
category and description, a withdrawal's signature) are optional here, so that leaving one out
is refused by that rule with its own problem type rather than as a bare schema failure.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from domain.values import (
    AwareDatetime,
    ContactMethod,
    LearningPoint,
    LifecycleChange,
    LongText,
    PlausibleDate,
    ShortText,
    Value,
)


class IopcCategory(StrEnum):
    DELIVERY_OF_DUTIES_AND_SERVICE = "delivery_of_duties_and_service"
    POLICE_POWERS_POLICIES_AND_PROCEDURES = "police_powers_policies_and_procedures"
    HANDLING_OF_OR_DAMAGE_TO_PROPERTY = "handling_of_or_damage_to_property"
    ACCESS_OR_DISCLOSURE_OF_INFORMATION = "access_or_disclosure_of_information"
    USE_OF_POLICE_VEHICLES = "use_of_police_vehicles"
    DISCRIMINATORY_BEHAVIOUR = "discriminatory_behaviour"
    ABUSE_OF_POSITION_OR_CORRUPTION = "abuse_of_position_or_corruption"
    INDIVIDUAL_BEHAVIOURS = "individual_behaviours"
    SEXUAL_CONDUCT = "sexual_conduct"
    DISCREDITABLE_CONDUCT = "discreditable_conduct"
    OTHER = "other"


class AllegationFlag(StrEnum):
    DEATH_OR_SERIOUS_INJURY = "death_or_serious_injury"
    SERIOUS_ASSAULT = "serious_assault"
    SERIOUS_SEXUAL_OFFENCE = "serious_sexual_offence"
    SERIOUS_CORRUPTION = "serious_corruption"
    DISCRIMINATION = "discrimination"
    CRIMINAL_OFFENCE = "criminal_offence"
    MISCONDUCT = "misconduct"
    ARTICLE_2_OR_3_BREACH = "article_2_or_3_breach"


# Rule 15: the flags whose complaints the law makes the force refer to the IOPC.
MANDATORY_REFERRAL_FLAGS = frozenset(
    {
        AllegationFlag.DEATH_OR_SERIOUS_INJURY,
        AllegationFlag.SERIOUS_ASSAULT,
        AllegationFlag.SERIOUS_SEXUAL_OFFENCE,
        AllegationFlag.SERIOUS_CORRUPTION,
        AllegationFlag.DISCRIMINATION,
    }
)

VOLUNTARY = "voluntary"


class HandlingMode(StrEnum):
    OUTSIDE_SCHEDULE_3 = "outside_schedule_3"
    SCHEDULE_3 = "schedule_3"


class IopcMode(StrEnum):
    RETURNED_TO_FORCE = "returned_to_force"
    LOCAL_INVESTIGATION = "local_investigation"
    DIRECTED_INVESTIGATION = "directed_investigation"
    INDEPENDENT_INVESTIGATION = "independent_investigation"


class AllegationOutcome(StrEnum):
    UPHELD = "upheld"
    NOT_UPHELD = "not_upheld"
    UNABLE_TO_DETERMINE = "unable_to_determine"
    NO_FURTHER_ACTION = "no_further_action"


class ActionTaken(StrEnum):
    APOLOGY = "apology"
    EXPLANATION = "explanation"
    LEARNING = "learning"
    REFLECTIVE_PRACTICE = "reflective_practice"
    MISCONDUCT_PROCEEDINGS = "misconduct_proceedings"


class ReviewBody(StrEnum):
    IOPC = "iopc"
    LOCAL_POLICING_BODY = "local_policing_body"


class SignedBy(StrEnum):
    COMPLAINANT = "complainant"
    SOLICITOR = "solicitor"
    AGENT = "agent"


# Free text a rule checks for blankness itself (so that blank is that rule's refusal).
_Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]
ReferralGround = AllegationFlag | str


class AddAllegation(Value):
    category: IopcCategory | None = None
    subcategory: ShortText | None = None
    description: _Text | None = None
    flags: Annotated[list[AllegationFlag], Field(max_length=len(AllegationFlag))] = []
    occurred_at: AwareDatetime | None = None


class DecideHandling(Value):
    mode: HandlingMode
    reason: LongText
    occurred_at: AwareDatetime | None = None


class ReferToIopc(Value):
    # The flags that made the referral mandatory, or ["voluntary"]; when left out, the flags
    # of the allegations (or "voluntary" when there are none that oblige it).
    grounds: (
        Annotated[
            list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]],
            Field(min_length=1, max_length=len(AllegationFlag)),
        ]
        | None
    ) = None
    iopc_reference: ShortText | None = None
    occurred_at: AwareDatetime | None = None


class RecordIopcDetermination(Value):
    mode: IopcMode
    iopc_reference: ShortText | None = None
    occurred_at: AwareDatetime | None = None


class SendProgressUpdate(Value):
    method: ContactMethod
    summary: LongText
    occurred_at: AwareDatetime | None = None


class AllegationResult(Value):
    allegation_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]
    outcome: AllegationOutcome


class NotifyOutcome(Value):
    allegations: Annotated[list[AllegationResult], Field(max_length=200)] = []
    actions: Annotated[list[ActionTaken], Field(max_length=len(ActionTaken))] = []
    summary: LongText
    learning: Annotated[list[LearningPoint], Field(max_length=50)] = []
    occurred_at: AwareDatetime | None = None


class RequestReview(Value):
    received_at: AwareDatetime | None = None
    grounds: LongText
    late_reason: LongText | None = None
    occurred_at: AwareDatetime | None = None


class DecideReview(Value):
    reasonable_and_proportionate: bool
    recommendations: Annotated[list[LongText], Field(max_length=50)] = []
    occurred_at: AwareDatetime | None = None


class WithdrawComplaint(Value):
    signed_by: SignedBy | None = None
    signed_on: PlausibleDate | None = None
    scope: LongText
    occurred_at: AwareDatetime | None = None


StatutoryChange = (
    AddAllegation
    | DecideHandling
    | ReferToIopc
    | RecordIopcDetermination
    | SendProgressUpdate
    | NotifyOutcome
    | RequestReview
    | DecideReview
    | WithdrawComplaint
)

# Every command on an existing complaint: `Complaints.act` takes any of them.
ComplaintChange = LifecycleChange | StatutoryChange
