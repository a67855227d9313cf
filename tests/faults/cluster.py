"""A private PostgreSQL cluster that a test may stop and start (never the shared server).

initdb and postgres refuse to run as root, so under root they run as the `postgres` OS user
(`runuser`), in a temporary folder that user owns. The cluster keeps PostgreSQL's durable
defaults (fsync on), listens on 127.0.0.1 only, on a free port, and trusts local connections.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

PG_ROOT = Path("/usr/lib/postgresql")
PG_CTL_TIMEOUT = 60


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def find_bindir() -> Path | None:
    """The newest PostgreSQL server binaries installed (COMPLAINTS_TEST_PG_BINDIR overrides)."""
    override = os.environ.get("COMPLAINTS_TEST_PG_BINDIR")
    candidates = (
        [Path(override)] if override else sorted(PG_ROOT.glob("*/bin"), key=_version, reverse=True)
    )
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateCluster:
    """One throw-away cluster: `create()`, then `stop()`/`start()` at will, `destroy()` last."""

    def __init__(self, bindir: Path, database: str = "complaints") -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="complaints-faults-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log_path = self.root / "postgres.log"
        self.port = free_port()
        self.database = database
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=PG_CTL_TIMEOUT + 30,
            check=False,
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            raise RuntimeError(
                f"{what} failed ({result.returncode}): {result.stdout}\n{result.stderr}\n"
                f"{self.log()}"
            )

    def create(self) -> None:
        self.sockets.mkdir()
        if os.geteuid() == 0:
            for path in (self.root, self.sockets):
                shutil.chown(path, "postgres", "postgres")
        self._check(
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--locale=C",
            ),
            "initdb",
        )  # fmt: skip
        self.start()
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._check(
            self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options,
                "-w", "-t", str(PG_CTL_TIMEOUT), "start",
            ),
            "pg_ctl start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._check(
            self._run(
                "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(PG_CTL_TIMEOUT),
                "stop",
            ),
            "pg_ctl stop",
        )  # fmt: skip

    def running(self) -> bool:
        if not (self.data / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stops the cluster if it runs (fast, then immediate) and removes every file."""
        try:
            if self.running():
                try:
                    self.stop("fast")
                except RuntimeError:
                    self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
