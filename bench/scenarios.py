"""The benchmark's figures P1-P6, each measured next to the limit it is compared with."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

from api.eventstore.keys import new_master_key_text
from bench.cpu import accounted, named, tree
from bench.load import (
    LoadResult,
    LoggedProcess,
    PeakRss,
    explained,
    free_port,
    request_load,
    rss_kib,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
COMPLAINTS = str(Path(sys.executable).parent / "complaints")
LODGING = {
    "channel": "online",
    "complainant": {"name": "Bench Mark", "email": "bench@example.org"},
    "standing": "experienced",
    "subject": {"kind": "officer", "shoulder_number": "1234AB"},
    "behaviours": ["rude_or_aggressive"],
    "description": "A benchmark complaint about an officer's manner at the front desk.",
}


# One master key for the whole run (each benchmark database is new), unless one is given;
# in this process's environment too, for what the suite builds in-process.
MASTER_KEY = os.environ.setdefault("COMPLAINTS_MASTER_KEY", new_master_key_text())


def environment(url: str, secret: str) -> dict[str, str]:
    return {
        **os.environ,
        "COMPLAINTS_DATABASE_URL": url,
        "COMPLAINTS_JWT_SECRET": secret,
        "COMPLAINTS_MASTER_KEY": MASTER_KEY,
        "COMPLAINTS_PROJECTIONS": "external",
    }


def seed(url: str, secret: str, events: int) -> dict[str, Any]:
    cases = max(10, round(events / 5.0))  # the national mix (Schedule 3 too): ~5 events a case
    started = time.monotonic()
    subprocess.run(
        [COMPLAINTS, "seed", "--cases", str(cases), "--seed", "42"],
        env=environment(url, secret),
        check=True,
        stderr=subprocess.DEVNULL,
    )
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT count(*) FROM complaints_events").fetchone()
    return {
        "cases": cases,
        "events": int(row[0]) if row else 0,
        "seconds": time.monotonic() - started,
    }


def rebuild(url: str, secret: str) -> dict[str, Any]:
    """P2: `complaints rebuild` of every read model: events/s and peak RSS."""
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT count(*) FROM complaints_events").fetchone()
    events = int(row[0]) if row else 0
    started = time.monotonic()
    process = subprocess.Popen(
        [COMPLAINTS, "rebuild"], env=environment(url, secret), stderr=subprocess.DEVNULL
    )
    sampler = PeakRss(process.pid)
    process.wait(timeout=3600)
    seconds = time.monotonic() - started
    peak = sampler.stop()
    if process.returncode != 0:
        raise RuntimeError("complaints rebuild failed")
    return {
        "events": events,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "peak_rss_kib": peak,
    }


def settle(url: str) -> float:
    """VACUUM ANALYZE and a CHECKPOINT, as autovacuum and the checkpointer would have done to a
    database that grew to this size over months; returns the seconds taken.

    A database bulk-loaded a minute ago is not one a force runs on: its tables have no planner
    statistics, no visibility map and no hint bits, so the first requests to touch each page
    write it again, and the checkpoint of the load runs under the measured load. Measured
    without this, P3's p99 at 1.47M events was 100-106 ms; with it, 26-28 ms (same database)."""
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")
    return time.monotonic() - started


def raw_read(url: str) -> dict[str, Any]:
    """P2's limit: psycopg reading the whole events table in pages, without decoding."""
    started = time.monotonic()
    count, last = 0, 0
    with psycopg.connect(url) as connection:
        while rows := connection.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM complaints_events WHERE notification_id > %s ORDER BY notification_id LIMIT 1000",
            (last,),
        ).fetchall():
            count += len(rows)
            last = rows[-1][0]
    seconds = time.monotonic() - started
    return {"events": count, "seconds": seconds, "events_per_s": count / seconds}


def pgbench_insert(url: str, seconds: float, clients: int = 32) -> dict[str, Any]:
    """P1's limit (a): one-row INSERT + COMMIT of an event-sized JSON row, same indexes."""
    payload = json.dumps({**LODGING, "padding": "x" * 200}).replace("'", "''")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_events")
        connection.execute("CREATE TABLE bench_events (LIKE complaints_events INCLUDING ALL)")
    script = (
        "INSERT INTO bench_events (originator_id, originator_version, topic, state, event_hash, "
        f"log_hash) VALUES (gen_random_uuid(), 1, 'complaints:ComplaintLodged', "
        f"convert_to('{payload}', 'UTF8'), sha256('a'), sha256('b'));\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(script)
    script_path = Path(handle.name)
    try:
        output = subprocess.run(
            [
                "pgbench",
                "-n",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(max(1, round(seconds))),
                "-f",
                str(script_path),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
    finally:
        script_path.unlink(missing_ok=True)
    if output.returncode != 0:
        raise RuntimeError(f"pgbench failed: {output.stderr.strip()[-500:]}")
    tps = re.search(r"tps = ([\d.]+)", output.stdout)
    return {"tps": float(tps.group(1)) if tps else 0.0, "clients": clients}


class Server:
    """`complaints serve --workers 2` and `complaints project` on one database."""

    def __init__(self, url: str, secret: str) -> None:
        self.port = free_port()
        env = environment(url, secret)
        self.api = LoggedProcess(
            [COMPLAINTS, "serve", "--workers", "2", "--port", str(self.port)], env
        )
        self.worker = LoggedProcess([COMPLAINTS, "project"], env)
        self.base = f"http://127.0.0.1:{self.port}"
        try:
            wait_for(self.base + "/health/live")
        except RuntimeError as error:
            failure = explained(error, self.api)  # before close(), which deletes the log
            self.close()
            raise failure from None
        time.sleep(1.0)  # both workers up

    def rss_kib(self) -> int:
        return rss_kib(self.api.pid)

    def close(self) -> None:
        for process in (self.api, self.worker):
            process.terminate()
        for process in (self.api, self.worker):
            process.wait()


def load(
    server: Server,
    path: str,
    token: str,
    seconds: float,
    *,
    method: str = "GET",
    body: dict[str, Any] | None = None,
    paths: list[str] | None = None,
) -> LoadResult:
    """One load run at 32 connections; `paths`: one chosen at random per request (per thread).

    A 5xx is a defect, not a figure: the API's log from then on is kept with the result. The
    CPU each request cost the API, the projection worker and PostgreSQL is in `extra["cpu"]`.
    """
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    content = json.dumps(body).encode() if body is not None else None
    groups = {"api": tree(server.api.pid), "projector": tree(server.worker.pid)}
    try:
        result = accounted(
            groups | {"postgres": named("postgres")},
            lambda: request_load(
                server.base, path, seconds, method=method, headers=headers, body=content,
                paths=paths,
            ),
        )  # fmt: skip
    except RuntimeError as error:
        raise explained(error, server.api) from error
    if any(code.startswith("5") for code in result.statuses):
        result.extra["server_log"] = server.api.log_tail()
    return result


FRESH_MODELS = "SELECT min(position) FROM projection_tracking WHERE projection IN " + (
    "('case_list', 'learning', 'timeliness')"
)


def caught_up(url: str, timeout: float = 120.0) -> dict[str, Any]:
    """Waits until the read models have processed every event written so far: P3 measures a
    command's delay under its own load, not the backlog an earlier run (P1's) left behind."""
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as connection:
        head_row = connection.execute("SELECT max(notification_id) FROM complaints_events")
        head = int((head_row.fetchone() or [0])[0] or 0)
        while True:
            row = connection.execute(FRESH_MODELS).fetchone()
            position = int(row[0] or 0) if row else 0
            if position >= head or time.monotonic() - started > timeout:
                break
            time.sleep(0.05)
    return {"backlog": max(0, head - position), "waited_s": time.monotonic() - started}


def freshness(
    server: Server, url: str, token: str, seconds: float, rate: int = 200
) -> dict[str, Any]:
    """P3: time from a lodging's 2xx to the read models reporting its position, starting with
    the read models caught up."""
    seen: list[tuple[float, int]] = []
    stop = threading.Event()
    before = caught_up(url)

    def watch() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            while not stop.is_set():
                row = connection.execute(FRESH_MODELS).fetchone()
                seen.append((time.monotonic(), int(row[0] or 0) if row else 0))
                time.sleep(0.002)

    acknowledged: list[tuple[float, int]] = []
    statuses: Counter[str] = Counter()
    counting = threading.Lock()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base, timeout=10) as client, ThreadPoolExecutor(32) as pool:

        def lodge() -> None:
            try:
                response = client.post("/complaints", json=LODGING, headers=headers)
            except httpx.HTTPError as error:
                with counting:
                    statuses[f"error:{type(error).__name__}"] += 1
                return
            with counting:
                statuses[str(response.status_code)] += 1
            if response.status_code == 201:
                acknowledged.append((time.monotonic(), int(response.json()["position"])))

        started = time.monotonic()
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            pool.submit(lodge)
    time.sleep(1.0)
    stop.set()
    watcher.join()
    delays = _delays(acknowledged, seen)
    return {
        "caught_up_before": before,
        "acknowledged": len(acknowledged),
        "statuses": dict(sorted(statuses.items())),
        "measured": len(delays),
        "p50_ms": delays[len(delays) // 2] if delays else None,
        "p99_ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else None,
    }


def _delays(acknowledged: list[tuple[float, int]], seen: list[tuple[float, int]]) -> list[float]:
    """For each acknowledged position, ms until the read models were first seen past it."""
    delays = []
    for at, position in acknowledged:
        reached = next((t for t, p in seen if p >= position and t >= at - 0.5), None)
        if reached is not None:
            delays.append(max(0.0, reached - at) * 1000)
    return sorted(delays)


def long_complaint(server: Server, supervisor: str) -> str:
    """A complaint with 20 events, for P4."""
    headers = {"Authorization": f"Bearer {supervisor}"}
    with httpx.Client(base_url=server.base, timeout=10) as client:
        complaint_id = client.post("/complaints", json=LODGING, headers=headers).json()[
            "complaint_id"
        ]
        assign = {"investigator_id": "inv-bench", "investigator_name": "DS Bench"}
        client.post(f"/complaints/{complaint_id}/assign", json=assign, headers=headers)
        for n in range(17):
            contact = {"method": "phone", "summary": f"Update {n}."}
            client.post(f"/complaints/{complaint_id}/contacts", json=contact, headers=headers)
        resolution = {"outcome": "explanation_given", "summary": "Explained."}
        answer = client.post(
            f"/complaints/{complaint_id}/resolve", json=resolution, headers=headers
        )
    assert answer.json()["version"] == 20, answer.text
    return str(complaint_id)


def assigned_complaints(server: Server, url: str, supervisor: str, count: int = 2000) -> list[str]:
    """P1's targets: `count` assigned complaints, the seed's first, lodged and assigned to fill."""
    found = open_complaints(url, count)
    headers = {"Authorization": f"Bearer {supervisor}"}
    assign = {"investigator_id": "inv-bench", "investigator_name": "DS Bench"}

    def one_more(client: httpx.Client) -> str:
        lodged = client.post("/complaints", json=LODGING, headers=headers)
        lodged.raise_for_status()
        complaint_id = str(lodged.json()["complaint_id"])
        path = f"/complaints/{complaint_id}/assign"
        client.post(path, json=assign, headers=headers).raise_for_status()
        return complaint_id

    with httpx.Client(base_url=server.base, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        added = list(pool.map(lambda _: one_more(client), range(count - len(found))))
    return found + added


def open_complaints(url: str, limit: int = 2000) -> list[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT complaint_id FROM case_list WHERE status IN ('assigned', 'in_contact') "
            "LIMIT %s",
            (limit,),
        ).fetchall()
    return [row[0] for row in rows]
