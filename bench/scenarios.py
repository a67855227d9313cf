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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import psycopg

from api.eventstore.keys import new_master_key_text
from bench.load import (
    LoadResult,
    PeakRss,
    free_port,
    rss_kib,
    run_python_load,
    run_wrk,
    wait_for,
    wrk_available,
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
    cases = max(10, round(events / 3.85))  # the seed's mix averages ~3.85 events a case
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
        self.api = subprocess.Popen(
            [COMPLAINTS, "serve", "--workers", "2", "--port", str(self.port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        self.worker = subprocess.Popen([COMPLAINTS, "project"], env=env, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for(self.base + "/health/live")
        time.sleep(1.0)  # both workers up

    def rss_kib(self) -> int:
        return rss_kib(self.api.pid)

    def close(self) -> None:
        for process in (self.api, self.worker):
            process.terminate()
        for process in (self.api, self.worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


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
    """One load run; `paths` spreads requests over several URLs."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    content = json.dumps(body).encode() if body is not None else None
    if wrk_available():
        lua = [f'wrk.method = "{method}"']
        lua += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
        if content is not None:
            lua.append(f"wrk.body = {json.dumps(content.decode())}")
        if paths:
            lua.append("local paths = {" + ",".join(json.dumps(p) for p in paths) + "}")
            lua.append(
                "request = function() return wrk.format(nil, paths[math.random(#paths)]) end"
            )
        return run_wrk(server.base + path, seconds=seconds, script="\n".join(lua) + "\n")
    return run_python_load(
        server.base,
        lambda n: (method, (paths[n % len(paths)] if paths else path), headers, content),
        seconds=seconds,
    )


def freshness(
    server: Server, url: str, token: str, seconds: float, rate: int = 200
) -> dict[str, Any]:
    """P3: time from a lodging's 2xx to the read models reporting its position."""
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def watch() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            while not stop.is_set():
                row = connection.execute(
                    "SELECT min(position) FROM projection_tracking "
                    "WHERE projection IN ('case_list', 'learning', 'timeliness')"
                ).fetchone()
                seen.append((time.monotonic(), int(row[0] or 0) if row else 0))
                time.sleep(0.002)

    acknowledged: list[tuple[float, int]] = []
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base, timeout=10) as client, ThreadPoolExecutor(32) as pool:

        def lodge() -> None:
            response = client.post("/complaints", json=LODGING, headers=headers)
            if response.status_code == 201:
                acknowledged.append((time.monotonic(), int(response.json()["position"])))

        started = time.monotonic()
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            pool.submit(lodge)
    time.sleep(1.0)
    stop.set()
    watcher.join()
    delays = []
    for at, position in acknowledged:
        reached = next((t for t, p in seen if p >= position and t >= at - 0.5), None)
        if reached is not None:
            delays.append(max(0.0, reached - at) * 1000)
    delays.sort()
    return {
        "acknowledged": len(acknowledged),
        "measured": len(delays),
        "p50_ms": delays[len(delays) // 2] if delays else None,
        "p99_ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else None,
    }


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


def open_complaints(url: str, limit: int = 2000) -> list[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT complaint_id FROM case_list WHERE status IN ('assigned', 'in_contact') "
            "LIMIT %s",
            (limit,),
        ).fetchall()
    return [row[0] for row in rows]


def as_dict(result: LoadResult) -> dict[str, Any]:
    return {**asdict(result), "per_s": result.per_second}
