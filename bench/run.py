"""The benchmark suite: `make bench` (full), `make bench-quick`, and `--mode smoke` for the tests.

Every figure is printed next to a limit measured in the same run on the same machine, and the
ratio between them is what we judge, because this machine is shared and noisy. Durability is
PostgreSQL's default throughout (the results record `fsync` and `synchronous_commit`).
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
from bench import encryption_cost, integrity_cost
from bench import scenarios as s
from bench.load import wrk_available

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
        name: s.as_dict(s.load(server, path, token[role], seconds))
        for name, path, role in (
            ("learning", "/statistics/learning", "analyst"),
            ("timeliness", "/statistics/timeliness", "analyst"),
            ("caseload", "/caseload", "supervisor"),
            ("case_list", "/complaints?limit=50", "analyst"),
        )
    }


def commands(server: s.Server, url: str, token: dict[str, str], seconds: float) -> dict[str, Any]:
    """P1: record-contact commands on random assigned complaints, then lodgings."""
    live = s.load(server, "/health/live", token["supervisor"], seconds)
    contact = {"method": "phone", "summary": "Called back."}
    paths = [f"/complaints/{i}/contacts" for i in s.open_complaints(url)]
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
        "health_live": s.as_dict(live),
        "record_contact": s.as_dict(contacts),
        "lodge": s.as_dict(lodgings),
        # As many clients as the load generator has connections (the smoke run keeps it small).
        "pgbench": s.pgbench_insert(url, seconds, clients=32 if seconds > 1 else 4),
    }


def one_complaint(server: s.Server, token: dict[str, str], seconds: float) -> dict[str, Any]:
    """P4: a 20-event complaint, now and as of its 10th event, beside /health/live."""
    long_id = s.long_complaint(server, token["supervisor"])
    return {
        name: s.as_dict(s.load(server, path, token["auditor"], seconds))
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
    figures["P2"] = {
        "small": s.rebuild(small, secret),
        "large": s.rebuild(large, secret),
        "raw_read": s.raw_read(large),
    }
    server = s.Server(large, secret)
    try:
        figures["P6"] = {"rss_after_start_kib": server.rss_kib()}
        figures["P1"] = commands(server, large, token, mode.command_seconds)
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
        figures["P5"]["health_live"] = s.as_dict(live)
    finally:
        small_server.close()
    return figures


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
    return {"machine": machine(ADMIN_URL), "figures": figures, "ratios": ratios(figures)}


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


TARGETS = {
    "P1_contact_vs_live": (">=", 0.30),
    "P2_rebuild_vs_raw_read": (">=", 0.30),
    "P2_rss_large_vs_small": ("<=", 1.5),
    "P3_p99_ms": ("<", 50.0),
    "P4_complaint_p50_vs_live": ("<=", 2.0),
    "P4_as_of_p50_vs_live": ("<=", 2.0),
    "P6_rss_after_vs_start": ("<=", 1.5),
}


def verdict(name: str, value: float | None) -> str:
    if name.startswith("P5_") and name.endswith("_vs_live"):
        rule = ("<=", 3.0)
    elif name.startswith("P5_"):
        rule = ("<=", 1.5)
    else:
        rule = TARGETS.get(name)  # type: ignore[assignment]
    if rule is None or value is None:
        return ""
    op, limit = rule
    met = value >= limit if op == ">=" else value <= limit if op == "<=" else value < limit
    return f"{'met' if met else 'NOT met'} ({op} {limit})"


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
    print(f"{'figure':<34} {'value':>12}  target")
    for name, value in results["ratios"].items():
        shown = "n/a" if value is None else f"{value:.3f}"
        print(f"{name:<34} {shown:>12}  {verdict(name, value)}")
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC).date()}{'' if args.mode == 'full' else '-' + args.mode}.json"
    (args.out / name).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"raw figures: {args.out / name} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
