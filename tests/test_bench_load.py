"""The benchmark's wrk runner (bench/load.py): a refused start is tried again, and any failure
is raised with wrk's own words rather than a bare exit status."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bench.load import free_port, run_wrk, served

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


class _Empty(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def late_server() -> Iterator[int]:
    """A server that starts listening a moment after the load has been started."""
    port = free_port()
    servers: list[ThreadingHTTPServer] = []

    def serve() -> None:
        time.sleep(0.3)
        server = ThreadingHTTPServer(("127.0.0.1", port), _Empty)
        servers.append(server)
        server.serve_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_start_refused_is_tried_again(late_server: int) -> None:
    result = run_wrk(f"http://127.0.0.1:{late_server}/", seconds=1, connections=4)
    assert result.statuses.get("200", 0) > 0
    assert result.tool == "wrk"


def test_a_server_that_never_answers_is_an_error_in_wrks_words() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(RuntimeError, match=r"wrk exited 1 on .*unable to connect"):
        run_wrk(f"http://127.0.0.1:{port}/", seconds=1, connections=4)


# Answers one request (the readiness check), says why it stops, and exits with 3.
ONE_ANSWER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Once(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Once)
server.handle_request()
print("gave up after one answer", file=sys.stderr)
sys.exit(3)
"""


def test_a_load_on_a_server_that_died_says_so_with_the_end_of_its_log() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", ONE_ANSWER, str(port)]
    with (
        pytest.raises(RuntimeError) as raised,
        served(command, {"PATH": "/usr/bin:/bin"}, base + "/health/live"),
    ):
        run_wrk(base + "/", seconds=1, connections=4)
    message = str(raised.value)
    assert "unable to connect" in message
    assert "exited with 3" in message
    assert "gave up after one answer" in message


def test_a_server_that_never_got_ready_says_how_it_ended_with_its_log() -> None:
    port = free_port()
    command = [sys.executable, "-c", "import sys; print('no database', file=sys.stderr); exit(4)"]
    with (
        pytest.raises(RuntimeError) as raised,
        served(command, {"PATH": "/usr/bin:/bin"}, f"http://127.0.0.1:{port}/health/live"),
    ):
        pass
    message = str(raised.value)
    assert "did not answer" in message
    assert "exited with 4" in message
    assert "no database" in message
