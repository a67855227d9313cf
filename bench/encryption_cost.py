"""What sealing personal data costs: before/after ratios, in one process, on one database.

Two application services on the same fresh database and settings, one with the key ring
attached as `api.app.build_complaints` attaches it, one without a sealer (nothing encrypted),
timed alternately, sample by sample, so that noise falls on both alike:
- commands: lodging a complaint with every personal field filled (new data keys, wrapped and
  written in the events' transaction, and its blind-index entries), and recording a contact
  with a summary (sealed under the complaint's cached key);
- a read (`Complaints.get_complaint` of a four-event complaint), with its keys cached and with
  them evicted first (a cold cache, as in a fresh process: the key rows are read and
  unwrapped), beside the same read of a complaint stored in clear.
Sequential, one at a time, like `bench.integrity_cost`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from pydantic import SecretStr

from api.app import build_complaints
from api.eventstore.keys import new_master_key_text
from api.eventstore.references import reference_numbers_for
from api.eventstore.schema import schema_guard
from api.eventstore.sealing import KeyRing
from api.settings import Settings
from domain.service import Complaints
from domain.values import Actor, AssignInvestigator, LodgeComplaint, RecordContact
from projections.store import check_when_idle

SUPERVISOR = Actor(id="sup-bench", name="DI Bench")
# Every field `domain.personal_data` seals, filled.
LODGING: dict[str, Any] = {
    "channel": "representative",
    "channel_detail": "Letter from Bench & Partners, solicitors, ref BP/2291",
    "complainant": {
        "name": "Bench Mark",
        "email": "bench@example.org",
        "phone": "020 7946 0958",
        "address": "1 Benchmark Row, London SW1A 1AA",
        "date_of_birth": "1970-03-14",
    },
    "on_behalf_of": {
        "name": "Tess Bench",
        "date_of_birth": "1998-07-01",
        "basis": "written_consent",
        "consent_reference": "CONSENT-2291",
    },
    "standing": "experienced",
    "subject": {
        "kind": "officer",
        "name": "PC A. Example",
        "shoulder_number": "1234AB",
        "description": "Tall, grey beard, glasses; on the front desk in the afternoon.",
    },
    "behaviours": ["rude_or_aggressive"],
    "incident_date": "2024-05-02",
    "location": "Front desk, Charing Cross police station",
    "description": "A benchmark complaint about an officer's manner at the front desk, "
    "where the complainant's daughter was spoken to rudely while reporting a lost phone.",
}
CONTACT = RecordContact(method="phone", summary="Called back; the complainant wants an apology.")
ASSIGN = AssignInvestigator(investigator_id="inv-bench", investigator_name="DS Bench")


def _settings(url: str, master_key: str) -> Settings:
    return Settings(_env_file=None, database_url=url, master_key=SecretStr(master_key))


def _plain(settings: Settings) -> Complaints:
    """`build_complaints` with no key ring: the same settings, nothing sealed."""
    with schema_guard(settings):
        complaints = Complaints(
            env=settings.eventsourcing_env,
            reference_numbers=reference_numbers_for,
            earliest_receipt=settings.earliest_receipt,
            sealer=None,
            retention_years=settings.retention_years,
        )
    datastore = getattr(complaints.recorder, "datastore", None)
    if isinstance(datastore, PostgresDatastore):
        check_when_idle(datastore.pool)
    return complaints


def _ms(action: Callable[[], object]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def measure(url: str, count: int) -> dict[str, Any]:
    settings = _settings(url, new_master_key_text())
    encrypted = build_complaints(settings)
    plain = _plain(settings)
    keys = encrypted.sealer
    assert isinstance(keys, KeyRing)
    services = {"encrypted": encrypted, "plain": plain}
    command = LodgeComplaint.model_validate(LODGING)
    timings: dict[str, list[float]] = {}
    ids: dict[str, list[UUID]] = {name: [] for name in services}

    def timed(name: str, action: Callable[[], object]) -> Any:
        elapsed, result = _ms(action)
        timings.setdefault(name, []).append(elapsed)
        return result

    try:
        for sample in range(count):
            # Alternate which goes first, so neither always follows the other's commit.
            order = list(services) if sample % 2 == 0 else list(reversed(services))
            for name in order:
                lodge = partial(services[name].lodge, command, actor=SUPERVISOR)
                ids[name].append(timed(f"lodge_{name}", lodge).complaint.id)
            for name in order:
                services[name].act(ids[name][-1], ASSIGN, actor=SUPERVISOR)
            for name in order:
                act = partial(services[name].act, ids[name][-1], CONTACT, actor=SUPERVISOR)
                timed(f"contact_{name}", partial(act, supervisor=True))
            for name in order:  # a fourth event, for the reads below
                services[name].act(ids[name][-1], CONTACT, actor=SUPERVISOR, supervisor=True)
        reads = ("plain", "warm", "cold")
        for sample in range(count):
            plain_id, sealed_id = ids["plain"][sample], ids["encrypted"][sample]
            shift = sample % len(reads)
            for read in reads[shift:] + reads[:shift]:
                if read == "plain":
                    timed("read_plain", partial(plain.get_complaint, plain_id))
                    continue
                if read == "cold":
                    keys.evict(str(sealed_id))
                elif not keys.cached(str(sealed_id)):  # cached at lodging; re-read if not
                    encrypted.get_complaint(sealed_id)
                timed(f"read_encrypted_{read}", partial(encrypted.get_complaint, sealed_id))
    finally:
        keys.close()
        encrypted.close()
        plain.close()
    results: dict[str, Any] = {
        f"{name}_ms": statistics.median(values) for name, values in timings.items()
    }
    results["samples"] = count
    results["lodge_cost_ratio"] = results["lodge_encrypted_ms"] / results["lodge_plain_ms"]
    results["contact_cost_ratio"] = results["contact_encrypted_ms"] / results["contact_plain_ms"]
    results["read_warm_cost_ratio"] = results["read_encrypted_warm_ms"] / results["read_plain_ms"]
    results["read_cold_cost_ratio"] = results["read_encrypted_cold_ms"] / results["read_plain_ms"]
    return results
