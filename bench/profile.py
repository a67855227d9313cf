"""Where a command's time goes: `make profile` samples one API worker under P1's load.

The product is served as the benchmark serves it (2 workers, the projector beside them, on a
database of its own with 2,000 assigned complaints), and P1's load (contacts at 32 connections,
a complaint at random per request) runs while py-spy samples one worker, only while it holds
the GIL: Python's own time, not its waiting. The samples are grouped by what the time was
spent on, and the functions where most time is spent are listed; the raw samples (py-spy's
"raw" format, which flamegraph.pl and speedscope read) are kept for a flame graph.
"""

from __future__ import annotations

import argparse
import collections
import secrets
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scenarios as s
from bench.load import children
from bench.run import create_database, drop_database, tokens

# What the time was spent on, by the first of these frames found in a sample's stack.
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("loading: decoding and decrypting events", ("to_domain_event", "open_event")),
    ("loading: reading events", ("select_events",)),
    ("loading: replaying events", ("replay (domain/service",)),
    ("saving: encoding and encrypting", ("to_stored_event",)),
    ("saving: writing (group commit)", ("insert_events",)),
    ("deciding (the aggregate)", ("Complaint.decide",)),
    ("building the answer", ("command_result_out", "complaint_fields", "_respond", "_out (")),
    ("authenticating", ("authenticate",)),
    ("recording the access (reads)", ("record_access", "AccessLog._write")),
    ("FastAPI: checking the answer against its model", ("serialize_response",)),
    ("FastAPI: dependencies and body", ("solve_dependencies", "request_body_to_args")),
    ("metrics and the access line", ("RequestObserver._observe",)),
    ("handing over to the thread pool", ("run_sync_in_worker_thread", "Queue.put", "Queue.get")),
    ("HTTP: parsing requests, writing answers", ("data_received", "RequestResponseCycle.send")),
    ("ASGI: middleware, routing, JSON answers", ("run_asgi",)),
    ("the event loop", ("_run_once", "run_forever")),
]


def grouped(raw: Path) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """(samples, samples by group, samples by innermost function) of py-spy's raw output."""
    groups: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        total += n
        functions[frames[-1]] += n
        name = next(
            (group for group, marks in GROUPS if any(m in f for f in frames for m in marks)),
            "other",
        )
        groups[name] += n
    return total, groups, functions


# Each workload and the figure of `bench/run.py` whose load it is.
WORKLOADS = {"contact": "P1", "complaint": "P4", "case-list": "P5"}


def profile(seconds: float, out: Path, workload: str = "contact") -> Path:
    url = create_database("profile")
    secret = secrets.token_urlsafe(32)
    token = tokens(secret)
    server = s.Server(url, secret)
    raw = out / f"profile-{WORKLOADS[workload]}.txt"
    try:
        method, body = "GET", None
        if workload == "contact":
            targets = s.assigned_complaints(server, url, token["supervisor"])
            paths = [f"/complaints/{i}/contacts" for i in targets]
            method, body = "POST", {"method": "phone", "summary": "Called back."}
        elif workload == "complaint":  # one complaint of 20 events, read over and over
            paths = [f"/complaints/{s.long_complaint(server, token['supervisor'])}"]
        else:  # P5's first page of the case list, with nothing written meanwhile
            s.assigned_complaints(server, url, token["supervisor"])
            paths = ["/complaints"]
        worker = children(server.api.pid)[-1]
        spy = str(Path(sys.executable).parent / "py-spy")  # installed with the test extras
        command = [spy, "record", "--pid", str(worker), "--duration", str(int(seconds))]
        command += ["--rate", "250", "--gil", "--nonblocking", "--format", "raw"]
        sampler = threading.Thread(
            target=subprocess.run,
            args=([*command, "--output", str(raw)],),
            kwargs={"check": True, "capture_output": True},
        )
        sampler.start()
        result = s.load(
            server, "/complaints", token["supervisor"], seconds + 1, method=method, body=body,
            paths=paths,
        )  # fmt: skip
        sampler.join()
        rate = f"{result.per_second:.0f} requests/s"
        print(f"{workload} while sampled: {rate}, statuses {result.statuses}")
    finally:
        server.close()
        drop_database(url)
    return raw


def report(raw: Path, top: int) -> None:
    total, groups, functions = grouped(raw)
    print(f"{total} samples of one worker holding the GIL ({raw})")
    for name, n in groups.most_common():
        print(f"{100 * n / total:5.1f}%  {name}")
    print(f"the {top} functions most often innermost:")
    for name, n in functions.most_common(top):
        print(f"{100 * n / total:5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--report", type=Path, help="only group an earlier raw profile")
    parser.add_argument(
        "--workload", choices=list(WORKLOADS), default="contact",
        help="P1's contacts (default), P4's reads of one complaint of 20 events or P5's "
        "case list",
    )  # fmt: skip
    args = parser.parse_args()
    raw = args.report or profile(args.seconds, args.out, args.workload)
    report(raw, args.top)


if __name__ == "__main__":
    main()
