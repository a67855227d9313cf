"""Load generators and process helpers for the benchmarks.

`wrk` (Debian's package) drives HTTP load when it is installed: it is written in C and does not
compete with the server for the interpreter. A machine without wrk (or
`COMPLAINTS_BENCH_LOAD=python`) uses a small threaded Python client instead, whose figures are
marked as such. Both count every response by status code (transport failures as `error:<kind>`)
and keep the first body of each non-2xx code, so that every one can be explained; both choose
among several paths at random per request, from a generator seeded per load thread.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # every response that was not 2xx, and every transport failure
    tool: str
    connections: int = 32
    statuses: dict[str, int] = field(default_factory=dict)  # "200": n, "409": n, "error:read": n
    samples: dict[str, str] = field(default_factory=dict)  # the first body of each non-2xx code
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def not_2xx(statuses: dict[str, int]) -> dict[str, int]:
    return {code: n for code, n in statuses.items() if not code.startswith("2") and n}


def as_dict(result: LoadResult) -> dict[str, Any]:
    """The raw figures; `per_s` counts every answer, `ok_per_s` only the 2xx ones."""
    ok = sum(n for code, n in result.statuses.items() if code.startswith("2"))
    seconds = result.seconds or 1e-9
    return {**asdict(result), "per_s": result.per_second, "ok_per_s": ok / seconds}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children, in KiB."""
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            status = Path(f"/proc/{candidate}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+)", status)
        total += int(match.group(1)) if match else 0
    return total


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found += [int(entry.name), *children(int(entry.name))]
    return found


class PeakRss:
    """Samples a process tree's RSS while it runs; `peak` is the highest seen."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


class LoggedProcess:
    """A server process whose stderr goes to a temporary file, so that a 5xx can be explained."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        handle, name = tempfile.mkstemp(prefix="bench-server-", suffix=".log")
        self.log = Path(name)
        with os.fdopen(handle, "wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def terminate(self) -> None:
        self.process.terminate()

    def wait(self) -> None:
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.unlink(missing_ok=True)


def explained(error: Exception, server: LoggedProcess) -> RuntimeError:
    """`error` with whether the server under load was still running, and the end of its log."""
    code = server.process.poll()
    state = "still running" if code is None else f"exited with {code}"
    return RuntimeError(f"{error}\nthe server was {state}; its log ends:\n{server.log_tail(3000)}")


Request = tuple[str, str, dict[str, str], bytes | None]  # method, path, headers, body

WRK_SCRIPT = """
local threads, started = {}, 0
function setup(thread)
  started = started + 1
  thread:set("thread_number", started)
  table.insert(threads, thread)
end
function init(args)
  statuses, samples = {}, {}
  math.randomseed(SEED * 1000 + thread_number)
end
function response(status, headers, body)
  local code = tostring(status)
  statuses[code] = (statuses[code] or 0) + 1
  if (status < 200 or status > 299) and samples[code] == nil then
    samples[code] = string.sub(body or "", 1, 400)
  end
end
local function hex(text)
  return (string.gsub(text, ".", function(c) return string.format("%02x", string.byte(c)) end))
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("REPORT %d %f %f %f\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  io.write(string.format("STATUS error:connect %d\\nSTATUS error:read %d\\n", e.connect, e.read))
  io.write(string.format("STATUS error:write %d\\nSTATUS error:timeout %d\\n", e.write, e.timeout))
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %s %d\\n", code, n))
    end
    for code, body in pairs(thread:get("samples")) do
      io.write(string.format("SAMPLE %s %s\\n", code, hex(body)))
    end
  end
end
"""


def wrk_available() -> bool:
    if os.environ.get("COMPLAINTS_BENCH_LOAD") == "python":
        return False
    return shutil.which("wrk") is not None


def wrk_script(method: str, headers: dict[str, str], body: bytes | None, paths: list[str]) -> str:
    lua = [f'wrk.method = "{method}"']
    lua += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if body is not None:
        lua.append(f"wrk.body = {json.dumps(body.decode())}")
    if paths:
        lua.append("local paths = {" + ",".join(json.dumps(p) for p in paths) + "}")
        lua.append("request = function() return wrk.format(nil, paths[math.random(#paths)]) end")
    return "\n".join(lua) + "\n"


def parse_wrk(output: str, connections: int) -> LoadResult:
    statuses: Counter[str] = Counter()
    samples: dict[str, str] = {}
    report: list[str] = []
    for line in output.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "REPORT":
            report = rest.split()
        elif kind == "STATUS":
            code, n = rest.split()
            statuses[code] += int(n)
        elif kind == "SAMPLE":
            code, _, body = rest.partition(" ")
            samples.setdefault(code, bytes.fromhex(body).decode(errors="replace"))
    if not report:
        raise RuntimeError(f"wrk printed no report: {output[-500:]}")
    counts = {code: n for code, n in sorted(statuses.items()) if n}
    return LoadResult(
        requests=int(report[0]),
        seconds=float(report[1]),
        p50_ms=float(report[2]),
        p99_ms=float(report[3]),
        errors=sum(not_2xx(counts).values()),
        tool="wrk",
        connections=connections,
        statuses=counts,
        samples=samples,
    )


# wrk tries one connection before it starts and exits 1 ("unable to connect") if that one is
# refused. A fresh clone's CI saw it once, from a server that had answered its readiness check a
# second before (the cause was not found): such a start is tried again; any other failure, or
# the same one three times, is raised with wrk's own words.
WRK_ATTEMPTS = 3


def run_wrk(
    url: str, *, seconds: float, connections: int = 32, script: str = "", seed: int = 1
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(f"local SEED = {seed}\n" + script + WRK_SCRIPT)
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        handle.name,
        url,
    ]
    try:
        for attempt in range(1, WRK_ATTEMPTS + 1):
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
            if done.returncode == 0:
                return parse_wrk(done.stdout, connections)
            if "unable to connect" not in done.stderr or attempt == WRK_ATTEMPTS:
                break
            time.sleep(1.0)
    finally:
        os.unlink(handle.name)
    raise RuntimeError(f"wrk exited {done.returncode} on {url}: {done.stderr.strip()[-2000:]}")


def run_python_load(
    base: str,
    make_request: Callable[[random.Random], Request],
    *,
    seconds: float,
    connections: int = 32,
    seed: int = 1,
) -> LoadResult:
    """A closed-loop threaded client; each thread draws its requests from its own seeded RNG."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    samples: dict[str, str] = {}
    lock = threading.Lock()
    window: list[float] = []  # [started, deadline], set once every client is built

    def begin() -> None:
        window.extend([time.monotonic(), time.monotonic() + seconds])

    ready = threading.Barrier(connections, action=begin)

    def worker(number: int) -> None:
        rng, mine, timings = random.Random(seed * 1000 + number), Counter[str](), []
        with httpx.Client(base_url=base, timeout=10) as client:
            ready.wait()
            while time.monotonic() < window[1]:
                method, path, headers, body = make_request(rng)
                started = time.perf_counter()
                try:
                    response = client.request(method, path, headers=headers, content=body)
                    code, text = str(response.status_code), response.text
                except httpx.HTTPError as error:
                    code, text = f"error:{type(error).__name__}", str(error)
                else:  # as wrk counts: requests and latencies are of answers, of every status
                    timings.append((time.perf_counter() - started) * 1000)
                mine[code] += 1
                if not code.startswith("2"):
                    samples.setdefault(code, text[:400])
        with lock:
            latencies.extend(timings)
            statuses.update(mine)

    threads = [threading.Thread(target=worker, args=(n + 1,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _python_result(latencies, statuses, samples, time.monotonic() - window[0], connections)


def _python_result(
    latencies: list[float],
    statuses: Counter[str],
    samples: dict[str, str],
    took: float,
    connections: int,
) -> LoadResult:
    ordered = sorted(latencies) or [0.0]
    counts = dict(sorted(statuses.items()))
    return LoadResult(
        requests=len(latencies),
        seconds=took,
        p50_ms=statistics.median(ordered),
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        errors=sum(not_2xx(counts).values()),
        tool="python",
        connections=connections,
        statuses=counts,
        samples=samples,
    )


def request_load(
    base: str,
    path: str,
    seconds: float,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    paths: list[str] | None = None,
    connections: int = 32,
    seed: int = 1,
) -> LoadResult:
    """One load run on `path`, or on one of `paths` chosen at random per request."""
    headers = headers or {}
    if wrk_available():
        script = wrk_script(method, headers, body, paths or [])
        return run_wrk(
            base + path, seconds=seconds, connections=connections, script=script, seed=seed
        )
    choices = paths or [path]
    return run_python_load(
        base,
        lambda rng: (method, rng.choice(choices), headers, body),
        seconds=seconds,
        connections=connections,
        seed=seed,
    )


@contextmanager
def served(command: list[str], env: dict[str, str], ready: str) -> Iterator[LoggedProcess]:
    """A server process, started and answering 200 on `ready`, stopped afterwards."""
    process = LoggedProcess(command, env)
    try:
        try:
            wait_for(ready)
        except RuntimeError as error:
            raise explained(error, process) from None
        time.sleep(1.0)  # every worker up
        try:
            yield process
        except RuntimeError as error:  # a load that could not run
            raise explained(error, process) from error
    finally:
        process.terminate()
        process.wait()
