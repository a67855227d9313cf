"""`complaints serve --workers N` accepts on a TCP socket, so every answer leaves at once.

Times nothing: it reads TCP_NODELAY on a connection accepted by asyncio (as uvicorn's workers
accept) from the socket uvicorn binds for the product's several workers, and shows with a
protocol-0 socket that the check does catch the defect it guards against.
"""

from __future__ import annotations

import asyncio
import importlib
import socket

import pytest
import uvicorn

from api.cli import serving


def nodelay_of_an_accepted_connection(listener: socket.socket) -> int:
    async def accept_one() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        host, port = listener.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        try:
            return await asyncio.wait_for(accepted, timeout=10)
        finally:
            writer.close()
            server.close()

    return asyncio.run(accept_one())


def workers_socket(port: int = 0) -> socket.socket:
    """The socket uvicorn binds for `serve --workers 2`, from the product's own options."""
    config = uvicorn.Config(serving.APP, **serving.server_options("127.0.0.1", port, 2))
    return config.bind_socket()


def test_connections_accepted_on_the_workers_socket_have_nodelay() -> None:
    assert nodelay_of_an_accepted_connection(workers_socket()) != 0


def test_the_server_parses_http_and_runs_its_loop_in_c() -> None:
    options = serving.server_options("127.0.0.1", 0, 2)
    assert (options["http"], options["loop"]) == (
        "api.cli.bounded_http:BoundedHttpToolsProtocol",
        "uvloop",
    )
    protocol = importlib.import_module("api.cli.bounded_http").BoundedHttpToolsProtocol
    assert protocol.__mro__[1].__name__ == "HttpToolsProtocol"
    importlib.import_module("httptools")  # installed, so the start does not fail


def test_uvloops_accepted_connections_have_nodelay_too() -> None:
    uvloop = importlib.import_module("uvloop")
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        assert nodelay_of_an_accepted_connection(workers_socket()) != 0
    finally:
        asyncio.set_event_loop_policy(policy)


def test_a_socket_bound_with_protocol_0_would_not() -> None:
    # The control: uvicorn's binding before 0.55, so the test above can fail.
    bare = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bare.bind(("127.0.0.1", 0))
    assert nodelay_of_an_accepted_connection(bare) == 0


def test_serve_with_several_workers_hands_them_a_tcp_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: list[socket.socket] = []

    class Supervisor:
        def __init__(self, config: object, sockets: list[socket.socket]) -> None:
            handed.extend(sockets)

        def run(self) -> None:
            pass

    # the module, not the `uvicorn.main` command that the package exports under that name
    monkeypatch.setattr(importlib.import_module("uvicorn.main"), "Multiprocess", Supervisor)
    serving.serve("127.0.0.1", 0, workers=2)
    assert [s.proto for s in handed] == [socket.IPPROTO_TCP]
    assert nodelay_of_an_accepted_connection(handed[0]) != 0


def test_a_port_in_use_stops_start_up_with_exit_status_3() -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(SystemExit) as stopped:
            workers_socket(taken.getsockname()[1])
        assert stopped.value.code == 3
    finally:
        taken.close()
