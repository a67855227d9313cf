"""How `complaints serve` listens: one process, or several workers sharing one socket.

uvicorn's multi-worker path bound its shared socket with protocol 0 before 0.55, and asyncio
sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP: every keep-alive answer after
the first then waited ~40 ms for Nagle and delayed ACKs (uvicorn issue #3149). uvicorn 0.55
binds it as TCP (`Config.bind_socket`), so the fix is that floor in pyproject.toml, and
`tests/test_serving.py` holds the socket it binds to it.

HTTP is parsed by httptools and the event loop is uvloop's, both in C, named outright so that a
missing one fails the start rather than falling back quietly to h11 and asyncio's loop, which
cost a tenth of a command's time and half of /health/live's (bench/, `make profile`). httptools
bounds no request head, as h11 did: `api.cli.bounded_http` puts the bound back.
"""

from __future__ import annotations

from typing import Any

import uvicorn

APP = "api.app:create_app_from_environment"


def server_options(host: str, port: int, workers: int) -> dict[str, Any]:
    return {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "http": "api.cli.bounded_http:BoundedHttpToolsProtocol",
        "loop": "uvloop",
        "proxy_headers": True,
        "access_log": False,
    }


def serve(host: str, port: int, workers: int) -> None:
    uvicorn.run(APP, **server_options(host, port, workers))
