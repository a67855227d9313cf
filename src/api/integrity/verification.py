"""Verifying the hash chains (see `domain.integrity`) over what the store holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from uuid import UUID

from domain.errors import ComplaintNotFoundError
from domain.integrity import ComplaintVerdict, LogVerifier, StoredLink, verify_complaint
from domain.service import Complaints

PAGE = 2000


class ChainReader(Protocol):
    def select_links(self, complaint_id: UUID) -> list[StoredLink]: ...
    def select_log_links(self, after: int, limit: int) -> list[StoredLink]: ...


def _reader(complaints: Complaints) -> ChainReader:
    recorder = complaints.recorder
    if not hasattr(recorder, "select_log_links"):
        raise TypeError(f"{type(recorder).__name__} keeps no hash chain")
    return recorder  # type: ignore[return-value]


def check_complaint(complaints: Complaints, complaint_id: UUID) -> ComplaintVerdict:
    links = _reader(complaints).select_links(complaint_id)
    if not links:
        raise ComplaintNotFoundError(f"No complaint has the id {complaint_id}.")
    return verify_complaint(complaint_id, links)


def check_log(complaints: Complaints, progress: Callable[[int], None] | None = None) -> LogVerifier:
    """The whole log, page by page: memory does not grow with the log."""
    reader = _reader(complaints)
    verifier = LogVerifier()
    after = 0
    while links := reader.select_log_links(after, PAGE):
        for link in links:
            verifier.feed(link)
        after = links[-1].position
        if progress is not None:
            progress(len(links))
    return verifier
