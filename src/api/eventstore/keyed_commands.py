"""A command run once per Idempotency-Key: a retry gets the first answer and records nothing.

The route hands over the command and how to word a refusal; this decides whether to run it, to
replay an earlier answer, or to free the key for a retry, around the claims of
`api.eventstore.idempotency`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from api.eventstore.idempotency import (
    Claim,
    ClaimLostError,
    Completion,
    IdempotencyKeys,
    KeyInUseError,
    Remembered,
)
from api.eventstore.outages import STORE_OUTAGES
from domain.errors import ConcurrentModificationError, DomainError
from domain.service import Complaints, Recorded

Command = Callable[[Completion | None], Recorded]


@dataclass(frozen=True)
class Refused:
    """A refusal as it was (or is now) answered: its status and its problem body."""

    status: int
    body: str


Outcome = Recorded | Refused
Wording = Callable[[DomainError], Refused]


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    replayed: bool = False


@dataclass(frozen=True)
class KeyedRequest:
    """Whose key, which key, and the fingerprint of the request it was first sent with."""

    caller: str
    key: str
    fingerprint: str


class KeyedCommands:
    def __init__(self, complaints: Complaints, keys: IdempotencyKeys) -> None:
        self.complaints = complaints
        self.keys = keys

    def run(
        self, request: KeyedRequest | None, status: int, command: Command, word: Wording
    ) -> Answer:
        """Runs `command` (plainly, without a key); a refusal of the domain is raised as is
        without a key, and answered and remembered with one."""
        if request is None:
            return Answer(command(None))
        claim = self.keys.claim(request.caller, request.key, request.fingerprint)
        if isinstance(claim, Remembered):
            return Answer(self._replay(claim), replayed=True)
        return Answer(self._run_claimed(claim, status, command, word))

    def _replay(self, first: Remembered) -> Outcome:
        if first.status >= 400 or first.complaint_id is None:
            return Refused(first.status, first.body or "")
        assert first.version is not None
        assert first.position is not None
        complaint = self.complaints.get_complaint(UUID(first.complaint_id), version=first.version)
        return Recorded(complaint=complaint, position=first.position)

    def _run_claimed(self, claim: Claim, status: int, command: Command, word: Wording) -> Outcome:
        try:
            return command(Completion(claim, status))
        except ConcurrentModificationError:
            self.keys.release(claim)  # a lost race is transient: a retry with this key may win
            raise
        except DomainError as error:
            refusal = word(error)
            self.keys.remember_refusal(claim, refusal.status, refusal.body)
            return refusal
        except ClaimLostError:
            raise KeyInUseError(
                "Another request with this key took over; retry to get its answer."
            ) from None
        except STORE_OUTAGES:
            # Nothing was recorded. Free the key for the retry without making this answer wait
            # on a store that may be down; if that fails too, the claim goes stale in seconds.
            self.keys.release_soon(claim)
            raise
        except Exception:
            self.keys.release(claim)
            raise
