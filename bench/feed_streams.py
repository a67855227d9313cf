"""The change feed under many idle subscribers (run by hand: `python -m bench.feed_streams`).

Starts `complaints serve --workers 1` on a new PostgreSQL database, opens `--streams` idle
`GET /events/stream` connections from one asyncio client, then issues `--commands` lodgings at
`--rate` per second from another thread while the streams are open, and prints:

- the worker's RSS before and after the streams opened (and so the memory per stream);
- the database's connections (pg_stat_activity) before and after: the streams hold none;
- the commands' own latency (the server still answers) and a health probe's;
- the time from a command's response to each stream receiving its event, p50/p99 over every
  delivery, and to the last of the streams receiving it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import threading
import time
from typing import Any

import httpx
import psycopg

from api.http.auth import mint_token
from bench import scenarios as s
from bench.load import free_port, rss_kib, wait_for
from bench.run import create_database, drop_database


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def connections(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


class Streams:
    """`count` streams on one event loop (its own thread); arrival times by position."""

    def __init__(self, base: str, token: str, count: int) -> None:
        self.base, self.token, self.count = base, token, count
        self.arrivals: dict[int, list[float]] = {}
        self.open = 0
        self.failed = 0
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._done = asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        limits = httpx.Limits(max_connections=self.count + 10, max_keepalive_connections=0)
        timeout = httpx.Timeout(10.0, read=None)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=timeout) as client:
            tasks = [asyncio.create_task(self._one(client)) for _ in range(self.count)]
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with client.stream("GET", "/events/stream", headers=headers) as response:
                if response.status_code != 200:
                    self.failed += 1
                    return
                self.open += 1
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        at = time.monotonic()
                        self.arrivals.setdefault(int(line[4:]), []).append(at)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed += 1

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._done.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="commands per second")
    options = parser.parse_args()

    secret = secrets.token_urlsafe(32)
    url = create_database("feed")
    env = s.environment(url, secret)
    port = free_port()
    server = subprocess.Popen(
        [s.COMPLAINTS, "serve", "--workers", "1", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    reader = mint_token(secret, sub="cw-bench", name="cw-bench", roles=["caseworker"], ttl=7200)
    intake = mint_token(secret, sub="in-bench", name="in-bench", roles=["intake"], ttl=7200)
    figures: dict[str, Any] = {"streams": options.streams, "commands": options.commands}
    try:
        wait_for(base + "/health/live")
        with httpx.Client(base_url=base, timeout=10) as client:  # warm: one command first
            client.post(
                "/complaints", json=s.LODGING, headers={"Authorization": f"Bearer {intake}"}
            )
        time.sleep(1.0)
        rss_before, db_before = rss_kib(server.pid), connections(url)

        streams = Streams(base, reader, options.streams)
        deadline = time.monotonic() + 60
        while streams.open + streams.failed < options.streams and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)
        rss_open, db_open = rss_kib(server.pid), connections(url)

        acknowledged: list[tuple[int, float]] = []
        latencies: list[float] = []
        probes: list[float] = []
        headers = {"Authorization": f"Bearer {intake}"}
        with httpx.Client(base_url=base, timeout=10) as client:
            started = time.monotonic()
            for n in range(options.commands):
                time.sleep(max(0.0, started + n / options.rate - time.monotonic()))
                sent = time.monotonic()
                answer = client.post("/complaints", json=s.LODGING, headers=headers)
                done = time.monotonic()
                if answer.status_code == 201:
                    acknowledged.append((int(answer.json()["position"]), done))
                    latencies.append((done - sent) * 1000)
                if n % 10 == 0:
                    probe = time.monotonic()
                    assert client.get("/health/live").status_code == 200
                    probes.append((time.monotonic() - probe) * 1000)
        time.sleep(2.0)
        rss_after, db_after = rss_kib(server.pid), connections(url)

        every: list[float] = []
        last_of_all: list[float] = []
        complete = 0
        for position, at in acknowledged:
            arrived = streams.arrivals.get(position, [])
            every += [max(0.0, t - at) * 1000 for t in arrived]
            if len(arrived) == streams.open:
                complete += 1
                last_of_all.append(max(0.0, max(arrived) - at) * 1000)
        streams.close()
        figures |= {
            "streams_open": streams.open,
            "streams_failed": streams.failed,
            "rss_kib": {
                "before": rss_before,
                "streams_open": rss_open,
                "after_commands": rss_after,
            },
            "rss_kib_per_stream": round((rss_open - rss_before) / max(streams.open, 1), 1),
            "db_connections": {"before": db_before, "streams_open": db_open, "after": db_after},
            "commands_acknowledged": len(acknowledged),
            "command_ms": {
                "p50": percentile(latencies, 0.5),
                "p99": percentile(latencies, 0.99),
                "mean": statistics.fmean(latencies) if latencies else None,
            },
            "health_probe_ms_max": max(probes) if probes else None,
            "deliveries": len(every),
            "commands_seen_by_every_stream": complete,
            "commit_to_delivery_ms": {
                "p50": percentile(every, 0.5),
                "p99": percentile(every, 0.99),
            },
            "commit_to_last_stream_ms": {
                "p50": percentile(last_of_all, 0.5),
                "p99": percentile(last_of_all, 0.99),
            },
            "cpus": os.cpu_count(),
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        drop_database(url)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
