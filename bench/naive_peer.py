"""The naive peer: P1 as `eventsourcing`'s documentation would write it, served as the product is.

One `Application` with one aggregate (`Case`, whose one command is `record_contact`) on
`eventsourcing.postgres` with the library's default settings, behind FastAPI: each request is
`repository.get` + `record_contact` + `save`, nothing else (no authentication, no read models,
no integrity chain, no encryption), and a lost race (two requests saving the same case's next
version) answered 409, as the product answers it. `python -m bench.naive_peer --port N
--workers 2` runs it under `uvicorn.run` with the product's own `api.cli.serving.server_options`;
`seed` stores 2,000 cases first, with ids derived from their numbers, so that the load generator
needs no query to find them. `measure` does both on a database of its own and loads it as P1
loads the product: 32 connections, a case chosen at random per request, seeded per load thread.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

import uvicorn
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.cli import serving
from bench.cpu import accounted, named, tree
from bench.load import as_dict, free_port, request_load, served

ROOT = Path(__file__).resolve().parent.parent
APP = "bench.naive_peer:create_app"
DATABASE_URL = "NAIVE_PEER_DATABASE_URL"
CASES = 2000
CONTACT = b'{"method": "phone", "summary": "Called back."}'


class Case(Aggregate):
    """One case; each contact recorded is an event."""

    @staticmethod
    def create_id(number: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"bench:naive-peer:case:{number}")

    def __init__(self, number: int) -> None:
        self.number = number
        self.contacts = 0

    @event("ContactRecorded")
    def record_contact(self, method: str, summary: str) -> None:
        self.contacts += 1


class Cases(Application[UUID]):
    def record_contact(self, case_id: UUID, method: str, summary: str) -> int:
        case: Case = self.repository.get(case_id)
        case.record_contact(method, summary)
        self.save(case)
        return case.version


class Contact(BaseModel):
    method: str
    summary: str


def environment(url: str) -> dict[str, str]:
    """`eventsourcing.postgres` settings from a postgresql:// URL; the library's defaults else."""
    parts = urlsplit(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
    }


def create_app() -> FastAPI:
    """The factory uvicorn calls in each worker, as it calls the product's."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.cases = Cases(env=environment(os.environ[DATABASE_URL]))
        yield
        app.state.cases.close()

    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(IntegrityError)
    def lost_race(request: Request, error: IntegrityError) -> JSONResponse:
        # Two requests saved the same case's next version; the product answers this 409 too.
        return JSONResponse({"type": "concurrent-modification"}, status_code=409)

    @app.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/cases/{case_id}/contacts", status_code=201)
    def record_contact(case_id: UUID, contact: Contact, request: Request) -> dict[str, int]:
        cases: Cases = request.app.state.cases
        return {"version": cases.record_contact(case_id, contact.method, contact.summary)}

    return app


def seed(url: str, count: int = CASES) -> list[UUID]:
    """Stores `count` new cases (their table too), 200 to a transaction."""
    cases = Cases(env=environment(url))
    try:
        ids: list[UUID] = []
        for start in range(0, count, 200):
            batch = [Case(number) for number in range(start, min(count, start + 200))]
            cases.save(*batch)
            ids += [case.id for case in batch]
        return ids
    finally:
        cases.close()


def command(port: int, workers: int = 2) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.naive_peer",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def measure(
    url: str, seconds: float, headers: dict[str, str], workers: int = 2, connections: int = 32
) -> dict[str, Any]:
    """P1's equivalent on the naive peer: seed its cases, serve it, record contacts."""
    ids = seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        DATABASE_URL: url,
        "PYTHONPATH": str(ROOT) + os.pathsep + str(ROOT / "src"),
    }
    with served(command(port, workers), env, base + "/health/live") as process:
        contacts = accounted(
            {"api": tree(process.pid), "postgres": named("postgres")},
            lambda: request_load(
                base,
                "/cases",
                seconds,
                method="POST",
                headers={**headers, "Content-Type": "application/json"},
                body=CONTACT,
                paths=[f"/cases/{case_id}/contacts" for case_id in ids],
                connections=connections,
            ),
        )
        if any(code.startswith("5") for code in contacts.statuses):
            contacts.extra["server_log"] = process.log_tail()
    return {
        "cases": len(ids),
        "workers": workers,
        "record_contact": as_dict(contacts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    uvicorn.run(APP, **serving.server_options(args.host, args.port, args.workers))


if __name__ == "__main__":
    main()
