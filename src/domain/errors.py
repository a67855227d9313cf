"""Named domain errors: one class per rule of docs/DOMAIN.md, under one base class.

Each error carries a stable `rule` slug (the API puts it at the end of the problem `type`), a
sentence a person can act on, and, for errors about a complaint's content, the fields at fault.
The HTTP layer maps the classes once: content → 422, case state → 409, permission → 403.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str
    # The rule broken, given only when one request breaks several (a lodging's content rules).
    rule: str | None = None


class DomainError(Exception):
    rule: str = "domain-error"
    title: str = "Refused by a rule of the domain"

    def __init__(self, detail: str, *, fields: tuple[FieldProblem, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields


# ---- Rules 1-6: what a complaint must contain (422) -------------------------------------------


class ComplaintContentError(DomainError):
    title = "The complaint's content breaks a rule"


class ComplainantUnreachableError(ComplaintContentError):
    """Rule 1: a named complainant with at least one way to be reached."""

    rule = "complainant-unreachable"
    title = "The complainant must be named and reachable"


class SubjectUnidentifiedError(ComplaintContentError):
    """Rule 2: the subject of the complaint can be identified."""

    rule = "subject-unidentified"
    title = "The subject of the complaint must be identifiable"


class StandingNotAllowedError(ComplaintContentError):
    """Rule 3: `witnessed` only for complaints about a person's conduct."""

    rule = "standing-not-allowed"
    title = "The complainant's standing does not fit the subject"


class EffectsOrBehavioursMissingError(ComplaintContentError):
    """Rule 4: effects for an adversely affected complainant, behaviours for a person."""

    rule = "effects-or-behaviours-missing"
    title = "The effects or behaviours complained of must be named"


class OnBehalfBasisError(ComplaintContentError):
    """Rule 5: acting on someone's behalf needs a lawful basis and its evidence."""

    rule = "on-behalf-basis-invalid"
    title = "The basis for complaining on someone's behalf is not met"


class ComplaintDatesError(ComplaintContentError):
    """Rule 6: received not in the future, incident not after receipt."""

    rule = "dates-invalid"
    title = "The complaint's dates are not possible"


class ChannelDetailRequiredError(ComplaintContentError):
    """API contract: partner organisations and representatives are named."""

    rule = "channel-detail-required"
    title = "The channel needs a detail"


class ForceNameRequiredError(ComplaintContentError):
    """A redirect to another force names that force."""

    rule = "force-name-required"
    title = "The other force must be named"


# ---- Rules 7-11: what the case's state allows (409) ---------------------------------------------


class CaseStateError(DomainError):
    title = "The complaint's state does not allow this"


class MustRedirectError(CaseStateError):
    """Rule 7: complaints about the Commissioner or another force are redirected, not assigned."""

    rule = "must-redirect"
    title = "This complaint must be redirected, not assigned"


class RedirectDestinationNotAllowedError(CaseStateError):
    """Rule 7: the Commissioner's go to MOPAC; another force's to that force or the IOPC."""

    rule = "redirect-destination-not-allowed"
    title = "This complaint cannot be redirected there"


class ReassignmentReasonRequiredError(CaseStateError):
    """Rule 8: reassignment needs a reason."""

    rule = "reassignment-reason-required"
    title = "Reassignment needs a reason"


class AlreadyAssignedError(CaseStateError):
    """Rule 8: assigning the investigator who already holds the case changes nothing."""

    rule = "already-assigned"
    title = "The complaint is already assigned to that investigator"


class ContactBeforeAssignmentError(CaseStateError):
    """Rule 9: contact is recorded only once the complaint is assigned."""

    rule = "contact-before-assignment"
    title = "Contact can be recorded only once the complaint is assigned"


class ContactDateError(CaseStateError):
    """Rule 9: contact is not dated before receipt or in the future."""

    rule = "contact-date-invalid"
    title = "The contact's date is not possible"


class OccurredAtError(CaseStateError):
    """Like rule 9 for every other step: nothing happens before receipt or in the future."""

    rule = "occurred-at-invalid"
    title = "The date given for this step is not possible"


class ResolutionWithoutContactError(CaseStateError):
    """Rule 10: the investigator works with the complainant before resolving."""

    rule = "resolution-without-contact"
    title = "A complaint is resolved only after contact with the complainant"


class ComplaintClosedError(CaseStateError):
    """Rule 11: nothing may happen to a resolved or redirected complaint."""

    rule = "complaint-closed"
    title = "The complaint is closed"


# ---- Records management (docs/DOMAIN.md part C) ------------------------------------------


class NextReviewDateError(ComplaintContentError):
    """A retention review names a next review day after today."""

    rule = "next-review-not-in-future"
    title = "The next review must be after today"


class NotFinalError(CaseStateError):
    """Retention and erasure concern final complaints only."""

    rule = "not-final"
    title = "The complaint is not final"


class ProcessingRestrictedError(CaseStateError):
    """Restricted data is kept as evidence: it cannot be erased until the restriction lifts."""

    rule = "processing-restricted"
    title = "Processing of the complaint's personal data is restricted"


class ErasureNotDueError(CaseStateError):
    """Erasure on basis `retention_expired` before the complaint is due for review."""

    rule = "erasure-not-due"
    title = "The complaint is not yet due for erasure"


class AlreadyErasedError(CaseStateError):
    rule = "already-erased"
    title = "The personal data is already erased"


class StoredInClearError(CaseStateError):
    """Stored before encryption existed: an append-only log cannot shred those bytes."""

    rule = "stored-in-clear"
    title = "The complaint was stored before encryption and cannot be erased"


class AlreadyRestrictedError(CaseStateError):
    rule = "already-restricted"
    title = "Processing is already restricted"


class NotRestrictedError(CaseStateError):
    rule = "not-restricted"
    title = "Processing is not restricted"


# ---- The statutory process: rules 12-20 (docs/DOMAIN.md part B) -----------------------------


class AllegationIncompleteError(ComplaintContentError):
    """Rule 12: an allegation has an IOPC category and a description."""

    rule = "allegation-incomplete"
    title = "An allegation needs a category and a description"


class OutcomeIncompleteError(ComplaintContentError):
    """Rule 16: an outcome for each allegation, and at least one allegation."""

    rule = "outcome-incomplete"
    title = "The outcome must cover every allegation"


class WithdrawalUnsignedError(ComplaintContentError):
    """Rule 19: a withdrawal is signed by the complainant, their solicitor or agent."""

    rule = "withdrawal-unsigned"
    title = "A withdrawal must be signed"


class ReferralGroundsError(ComplaintContentError):
    """Grounds of a referral are the allegations' flags, or `voluntary` alone."""

    rule = "referral-grounds-invalid"
    title = "The grounds of the referral are not possible"


class StatutoryDateError(ComplaintContentError):
    """A review received, or a withdrawal signed, before it could be or in the future."""

    rule = "date-invalid"
    title = "The date given is not possible"


class ContactRequiredError(CaseStateError):
    """Rule 13: the complainant's views are sought before the handling decision."""

    rule = "contact-required"
    title = "Record contact with the complainant before deciding how to handle it"


class MustRecordError(CaseStateError):
    """Rule 14: asked for recording, or an allegation is flagged: it must be recorded."""

    rule = "must-record"
    title = "This complaint must be recorded under Schedule 3"


class HandlingAlreadyDecidedError(CaseStateError):
    """A recorded complaint stays recorded; deciding the same mode again changes nothing."""

    rule = "handling-already-decided"
    title = "The handling of this complaint is already decided"


class ReferralRequiredError(CaseStateError):
    """Rule 15: referral to the IOPC, and its determination, before an outcome."""

    rule = "referral-required"
    title = "The complaint must be referred to the IOPC and determined first"


class NotOutsideSchedule3Error(CaseStateError):
    """Rule 16: `resolve` is for complaints handled outside Schedule 3."""

    rule = "not-outside-schedule-3"
    title = "A recorded complaint ends by notifying its outcome, not by resolving"


class NotRecordedError(CaseStateError):
    """Referral, progress updates and outcomes belong to recorded complaints."""

    rule = "not-recorded"
    title = "The complaint is not recorded under Schedule 3"


class ReferralStateError(CaseStateError):
    """Referred once; determined once, and only after the referral."""

    rule = "referral-state"
    title = "The IOPC referral does not allow this"


class OutcomeStateError(CaseStateError):
    """An outcome is notified while recorded; a review follows a notified outcome."""

    rule = "outcome-state"
    title = "The complaint's outcome does not allow this"


class ReviewOutOfTimeError(CaseStateError):
    """Rule 18: within 28 days of the notification; later only with a late reason."""

    rule = "review-out-of-time"
    title = "The review was requested out of time"


class NotRedirectableError(CaseStateError):
    """Part B: once an outcome is notified, the complaint is no longer redirected."""

    rule = "not-redirectable"
    title = "The complaint can no longer be redirected"


# ---- Who may act, and which complaint ---------------------------------------------------------


class ActorNotAllowedError(DomainError):
    """The actor's role or assignment does not allow the command (403)."""

    rule = "actor-not-allowed"
    title = "You may not do this"


class NotAssignedInvestigatorError(ActorNotAllowedError):
    """Rules 9 and 10: only the assigned investigator or a supervisor."""

    rule = "not-assigned-investigator"
    title = "Only the assigned investigator or a supervisor may do this"


class SupervisorRequiredError(ActorNotAllowedError):
    """Rule 18: only a supervisor accepts a review out of time, with its late reason."""

    rule = "supervisor-required"
    title = "Only a supervisor may do this"


class ComplaintNotFoundError(DomainError):
    rule = "complaint-not-found"
    title = "No such complaint"


class VersionMismatchError(DomainError):
    """The caller's If-Match names a version that is no longer current."""

    rule = "version-mismatch"
    title = "The complaint has changed since that version"


class ConcurrentModificationError(DomainError):
    """Another command was recorded on the complaint first; reload and retry."""

    rule = "concurrent-modification"
    title = "The complaint was changed by another request"
