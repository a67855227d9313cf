"""A real `complaints serve` process on a free port, with an SQLite file, for the tests here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import JWT_SECRET

STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss_mb(self) -> float:
        """Resident memory of the server process (VmRSS), in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def live(self) -> bool:
        try:
            response = httpx.get(f"{self.base_url}/health/live", timeout=5)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


@contextmanager
def served(folder: Path) -> Iterator[Served]:
    """Starts the server (cwd `folder`, so no `.env` is read), waits until it is live, and
    always stops it: SIGTERM, then SIGKILL after 10 s."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("COMPLAINTS_")}
    env |= {
        "COMPLAINTS_DATABASE_URL": f"sqlite:///{folder}/complaints.db",
        "COMPLAINTS_JWT_SECRET": JWT_SECRET,
    }
    command = [str(Path(sys.executable).with_name("complaints")), "serve", "--port", str(port)]
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1"],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Served(process, "127.0.0.1", port, log_path)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.live():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not come up:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
