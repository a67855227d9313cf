"""How `complaints serve` listens: one process, or several workers sharing one socket.

uvicorn's own multi-worker path has bound its shared socket with protocol 0 in some releases, and
asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP: every keep-alive answer
after the first then waited ~40 ms for Nagle and delayed ACKs (uvicorn issue #3149). So the
shared socket is bound here, as TCP, whatever uvicorn's release does.
"""

from __future__ import annotations

import logging
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "api.app:create_app_from_environment"
STARTUP_FAILURE = 3  # uvicorn's own exit status for a server that could not start
log = logging.getLogger("uvicorn.error")


def server_config(host: str, port: int, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        access_log=False,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket every worker accepts on: TCP by protocol, so accepted sockets get NODELAY."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:  # a port in use: said in one line, as uvicorn says it
        sock.close()
        log.error("cannot listen on %s: %s", _address(host, port), error)
        sys.exit(STARTUP_FAILURE)
    sock.set_inheritable(True)  # the workers are spawned processes
    return sock


def _address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(host: str, port: int, workers: int) -> None:
    config = server_config(host, port, workers)
    if workers == 1:
        uvicorn.Server(config).run()  # uvicorn binds through asyncio, which asks for TCP itself
        return
    sock = listening_socket(host, port)
    bound = sock.getsockname()[1]
    log.info("Uvicorn running on %s with %d workers", _address(host, bound), workers)
    Multiprocess(config, sockets=[sock]).run()
