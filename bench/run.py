"""The benchmark suite: `make bench` (full), `make bench-quick`, and `--mode smoke` for the tests.

Every figure is printed next to a limit measured in the same run on the same machine, and the
ratio between them is what we judge, because this machine is shared and noisy. Every mode
measures the two limits the product is divided by: the bare HTTP ceiling (`bench/ceiling.py`,
the smallest ASGI app under the product's own server, options and worker count) and the naive
peer (`bench/naive_peer.py`, one `eventsourcing` application doing get + method + save per
request). Every load run counts its answers by status code; the report lists each non-2xx.
Durability is PostgreSQL's default throughout (the results record `fsync` and
`synchronous_commit`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.http.auth import mint_token
from bench import ceiling, encryption_cost, integrity_cost, naive_peer, report
from bench import scenarios as s
from bench.load import as_dict, wrk_available

ADMIN_URL = os.environ.get(
    "COMPLAINTS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class Mode:
    small_events: int
    large_events: int
    integrity_samples: int
    load_seconds: float
    command_seconds: float
    freshness_seconds: float


MODES = {
    "full": Mode(10_000, 1_000_000, 300, 10, 20, 10),
    "quick": Mode(10_000, 100_000, 200, 3, 6, 4),
    "smoke": Mode(300, 600, 20, 1, 1, 1),
}


def machine(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as connection:
        settings = {
            name: connection.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("server_version", "fsync", "synchronous_commit")
        }
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=s.ROOT
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "memory_kib": int(memory),
        "python": platform.python_version(),
        "postgres": settings,
        "git_revision": revision,
        "load_generator": "wrk" if wrk_available() else "python threads",
    }


def create_database(label: str) -> str:
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def tokens(secret: str) -> dict[str, str]:
    roles = {
        "supervisor": "sup-bench",
        "analyst": "ana-bench",
        "auditor": "aud-bench",
        "intake": "in-bench",
    }
    return {
        role: mint_token(secret, sub=sub, name=sub, roles=[role], ttl=7200)
        for role, sub in roles.items()
    }


def read_models(server: s.Server, token: dict[str, str], seconds: float) -> dict[str, Any]:
    """P5: the read-model endpoints."""
    return {
        name: as_dict(s.load(server, path, token[role], seconds))
        for name, path, role in (
            ("learning", "/statistics/learning", "analyst"),
            ("timeliness", "/statistics/timeliness", "analyst"),
            ("caseload", "/caseload", "supervisor"),
            ("case_list", "/complaints?limit=50", "analyst"),
        )
    }


def commands(server: s.Server, url: str, token: dict[str, str], seconds: float) -> dict[str, Any]:
    """P1: contacts on 2,000 assigned complaints, one at random per request; lodgings."""
    live = s.load(server, "/health/live", token["supervisor"], seconds)
    contact = {"method": "phone", "summary": "Called back."}
    targets = s.assigned_complaints(server, url, token["supervisor"])
    paths = [f"/complaints/{i}/contacts" for i in targets]
    contacts = s.load(
        server,
        "/complaints",
        token["supervisor"],
        seconds,
        method="POST",
        body=contact,
        paths=paths,
    )
    lodgings = s.load(
        server, "/complaints", token["intake"], seconds, method="POST", body=s.LODGING
    )
    return {
        "health_live": as_dict(live),
        "contact_targets": len(paths),
        "record_contact": as_dict(contacts),
        "lodge": as_dict(lodgings),
    }


def one_complaint(server: s.Server, token: dict[str, str], seconds: float) -> dict[str, Any]:
    """P4: a 20-event complaint, now and as of its 10th event, beside /health/live."""
    long_id = s.long_complaint(server, token["supervisor"])
    return {
        name: as_dict(s.load(server, path, token["auditor"], seconds))
        for name, path in (
            ("health_live", "/health/live"),
            ("complaint", f"/complaints/{long_id}"),
            ("as_of_version", f"/complaints/{long_id}?as_of_version=10"),
        )
    }


def measure(mode: Mode, small: str, large: str, secret: str) -> dict[str, Any]:
    token = tokens(secret)
    figures: dict[str, Any] = {
        "seed": {
            "small": s.seed(small, secret, mode.small_events),
            "large": s.seed(large, secret, mode.large_events),
        }
    }
    # Settled before the rebuild (which, like the raw read, then reads a settled events table)
    # and after it (the read models it wrote are as new as the seed's events were).
    settled = {"seeded": {"small": s.settle(small), "large": s.settle(large)}}
    figures["P2"] = {
        "small": s.rebuild(small, secret),
        "large": s.rebuild(large, secret),
        "raw_read": s.raw_read(large),
    }
    settled["rebuilt"] = {"small": s.settle(small), "large": s.settle(large)}
    figures["settle_seconds"] = settled
    figures |= limits(mode, token)
    # Before the API holds its pools open: PostgreSQL's 100 connections are shared on this host.
    # As many clients as the load generator has connections (the smoke run keeps it small).
    seconds = mode.command_seconds
    pgbench = s.pgbench_insert(large, seconds, clients=32 if seconds > 1 else 4)
    server = s.Server(large, secret)
    try:
        figures["P6"] = {"rss_after_start_kib": server.rss_kib()}
        figures["P1"] = commands(server, large, token, seconds) | {"pgbench": pgbench}
        figures["P3"] = s.freshness(server, large, token["intake"], mode.freshness_seconds)
        figures["P4"] = one_complaint(server, token, mode.load_seconds)
        figures["P5"] = {"large": read_models(server, token, mode.load_seconds)}
        figures["P6"]["rss_after_load_kib"] = server.rss_kib()
    finally:
        server.close()
    small_server = s.Server(small, secret)
    try:
        figures["P5"]["small"] = read_models(small_server, token, mode.load_seconds)
        live = s.load(small_server, "/health/live", token["analyst"], mode.load_seconds)
        figures["P5"]["health_live"] = as_dict(live)
    finally:
        small_server.close()
    return figures


def limits(mode: Mode, token: dict[str, str]) -> dict[str, Any]:
    """The bare ceiling and the naive peer, each served as the product is (2 workers)."""
    headers = {"Authorization": f"Bearer {token['auditor']}", "Content-Type": "application/json"}
    naive = create_database("naive")
    try:
        peer = naive_peer.measure(naive, mode.command_seconds, headers)
    finally:
        drop_database(naive)
    return {"ceiling": ceiling.measure(mode.load_seconds, headers), "naive_peer": peer}


def run(mode: Mode) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    small, large = create_database("small"), create_database("large")
    try:
        figures = measure(mode, small, large, secret)
    finally:
        drop_database(small)
        drop_database(large)
    chained, library = create_database("chained"), create_database("library")
    try:
        figures["P7"] = integrity_cost.measure(chained, library, s.LODGING, mode.integrity_samples)
    finally:
        drop_database(chained)
        drop_database(library)
    encryption = create_database("encryption")
    try:
        figures["P8"] = encryption_cost.measure(encryption, mode.integrity_samples)
    finally:
        drop_database(encryption)
    return {
        "machine": machine(ADMIN_URL),
        "figures": figures,
        "ratios": by_figure(ratios(figures) | limit_ratios(figures)),
        "non_2xx": report.non_2xx(figures),
    }


def ratios(f: dict[str, Any]) -> dict[str, Any]:
    live_p50 = f["P4"]["health_live"]["p50_ms"] or 1e-9
    small, large = f["P5"]["small"], f["P5"]["large"]
    read_live = f["P5"]["health_live"]["p50_ms"] or 1e-9
    return {
        "P1_contact_vs_live": f["P1"]["record_contact"]["per_s"] / f["P1"]["health_live"]["per_s"],
        "P1_lodge_vs_live": f["P1"]["lodge"]["per_s"] / f["P1"]["health_live"]["per_s"],
        "P1_contact_vs_pgbench": f["P1"]["record_contact"]["per_s"]
        / (f["P1"]["pgbench"]["tps"] or 1e-9),
        "P2_rebuild_vs_raw_read": f["P2"]["large"]["events_per_s"]
        / f["P2"]["raw_read"]["events_per_s"],
        "P2_rss_large_vs_small": f["P2"]["large"]["peak_rss_kib"]
        / max(1, f["P2"]["small"]["peak_rss_kib"]),
        "P3_p99_ms": f["P3"]["p99_ms"],
        "P4_complaint_p50_vs_live": f["P4"]["complaint"]["p50_ms"] / live_p50,
        "P4_as_of_p50_vs_live": f["P4"]["as_of_version"]["p50_ms"] / live_p50,
        **{f"P5_{name}_p50_vs_live": large[name]["p50_ms"] / read_live for name in large},
        **{
            f"P5_{name}_large_vs_small": large[name]["p50_ms"] / (small[name]["p50_ms"] or 1e-9)
            for name in large
        },
        "P6_rss_after_vs_start": f["P6"]["rss_after_load_kib"]
        / max(1, f["P6"]["rss_after_start_kib"]),
        "P7_command_with_hash_chain_vs_library": f["P7"]["command_cost_ratio"],
        "P7_read_with_access_log_vs_without": f["P7"]["read_cost_ratio"],
        "P8_lodge_encrypted_vs_plain": f["P8"]["lodge_cost_ratio"],
        "P8_contact_encrypted_vs_plain": f["P8"]["contact_cost_ratio"],
        "P8_read_warm_keys_vs_plain": f["P8"]["read_warm_cost_ratio"],
        "P8_read_cold_keys_vs_plain": f["P8"]["read_cold_cost_ratio"],
    }


def by_figure(ratios: dict[str, Any]) -> dict[str, Any]:
    """P1's ratios first, then P2's, ...; each figure's in the order they were computed."""
    return dict(sorted(ratios.items(), key=lambda item: item[0].split("_", 1)[0]))


def limit_ratios(f: dict[str, Any]) -> dict[str, Any]:
    """The product over the bare ceiling and the naive peer (2xx answers only for throughput)."""
    at_32 = f["ceiling"]["at_32"]
    ceiling_p50 = at_32["p50_ms"] or 1e-9
    contacts = f["P1"]["record_contact"]["ok_per_s"]
    return {
        "P1_contact_vs_naive": contacts / (f["naive_peer"]["record_contact"]["ok_per_s"] or 1e-9),
        "P1_contact_vs_ceiling": contacts / (at_32["per_s"] or 1e-9),
        "P4_vs_ceiling_p50": f["P4"]["complaint"]["p50_ms"] / ceiling_p50,
        "P4_as_of_vs_ceiling_p50": f["P4"]["as_of_version"]["p50_ms"] / ceiling_p50,
        **{
            f"P5_{name}_vs_ceiling_p50": run["p50_ms"] / ceiling_p50
            for name, run in f["P5"]["large"].items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--out", type=Path, default=s.ROOT / "bench" / "results")
    args = parser.parse_args()
    started = time.monotonic()
    results = run(MODES[args.mode])
    results |= {
        "mode": args.mode,
        "seconds": round(time.monotonic() - started, 1),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    report.print_ratios(results["ratios"])
    report.print_limits(results["figures"])
    report.print_non_2xx(results["figures"])
    report.print_cpu(results["figures"])
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC).date()}{'' if args.mode == 'full' else '-' + args.mode}.json"
    (args.out / name).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"raw figures: {args.out / name} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
