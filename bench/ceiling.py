"""The bare HTTP ceiling: the smallest ASGI app, served exactly as the product is served.

`python -m bench.ceiling --port N --workers 2` runs `uvicorn.run` with the product's own
`api.cli.serving.server_options` (the same server, the same options, the same worker count; only
the application differs), so whatever the server costs, the ceiling costs too. `measure` loads it
at 32 connections (throughput and p50) and over one connection (sequential), the limits every
product figure is divided by. Sequential requests to this app answer in well under a
millisecond: a p50 near 40 ms there is Nagle's algorithm meeting delayed ACKs (the defect
`tests/test_serving.py` guards against), not a figure.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.cli import serving
from bench.cpu import accounted, tree
from bench.load import as_dict, free_port, request_load, served

ROOT = Path(__file__).resolve().parent.parent
APP = "bench.ceiling:create_app"
SEQUENTIAL_FLOOR_PER_S = 1000.0  # below this, one connection is waiting on something: Nagle?

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every HTTP request 200 with `{}`; completes the lifespan protocol."""
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def create_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The factory uvicorn calls, as it calls the product's (`factory=True`)."""
    return app


def server_configuration(workers: int = 2) -> dict[str, Any]:
    """What serves the ceiling (and the product): options, and uvicorn's resolved choices."""
    options = serving.server_options("127.0.0.1", 0, workers)
    config = uvicorn.Config(APP, **options)
    config.load()  # resolves "auto": the HTTP implementation and event loop each worker uses
    protocol, loop = config.http_protocol_class, config.get_loop_factory()
    return {
        "server": f"uvicorn {uvicorn.__version__}",
        "options": {k: v for k, v in options.items() if k not in ("host", "port")},
        "http": f"{protocol.__module__}.{protocol.__qualname__}",
        "loop": "default" if loop is None else f"{loop.__module__}.{loop.__qualname__}",
    }


def command(port: int, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "bench.ceiling", "--port", str(port), "--workers", str(workers)]


def measure(seconds: float, headers: dict[str, str], workers: int = 2) -> dict[str, Any]:
    """The ceiling at 32 connections and over one connection, on a fresh server."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + str(ROOT / "src")}
    with served(command(port, workers), env, base + "/health/live") as process:
        at_32 = accounted(
            {"api": tree(process.pid)},
            lambda: request_load(base, "/health/live", seconds, headers=headers, connections=32),
        )
        sequential = request_load(base, "/health/live", seconds, headers=headers, connections=1)
    return {
        "served_as": server_configuration(workers),
        "workers": workers,
        "at_32": as_dict(at_32),
        "sequential": as_dict(sequential),
        "sequential_sane": sequential.per_second >= SEQUENTIAL_FLOOR_PER_S,
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
