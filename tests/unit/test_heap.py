"""The collector's settings (`api.heap`): start-up's objects frozen and passes spaced out in
a process that serves or projects, never in one that builds many apps; cycles still freed.

Each check runs in a process of its own: freezing this one would keep every test's objects."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.heap import MIDDLE_EVERY, OLD_EVERY, YOUNG_EVERY
from api.settings import Settings
from tests.support import JWT_SECRET

SRC = Path(__file__).resolve().parents[2] / "src"


def run(code: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC), **(env or {})},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_settle_freezes_what_is_alive_and_spaces_out_the_passes_yet_frees_cycles() -> None:
    found = run(
        "import gc, json, weakref\n"
        "from api import heap\n"
        "heap.settle()\n"
        "class Node: pass\n"
        "freed = []\n"
        "for n in range(200_000):\n"  # cycles only the collector can free, four allocations each
        "    a, b = Node(), Node()\n"
        "    a.other, b.other = b, a\n"
        "    if n % 1000 == 0: weakref.finalize(a, freed.append, n)\n"
        "print(json.dumps({'threshold': gc.get_threshold(), 'frozen': gc.get_freeze_count(),\n"
        "                  'freed': len(freed)}))\n"
    )
    assert found["threshold"] == [YOUNG_EVERY, MIDDLE_EVERY, OLD_EVERY]
    assert found["frozen"] > 1_000  # what the imports built
    assert found["freed"] >= 100  # of 200 watched: passes still come


def test_after_settle_full_passes_still_come_and_garbage_stays_bounded() -> None:
    # Cycles that live a while (a window of 5,000 in flight, as requests are) outlive young
    # passes: only passes over the older generations free them.
    found = run(
        "import gc, json\n"
        "from api import heap\n"
        "heap.settle()\n"
        "full = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and info['generation'] == 2\n"
        "                    and full.append(1))\n"
        "class Node: pass\n"
        "window, most, n = [], 0, 0\n"
        "while not full and n < 8_000_000:\n"
        "    a, b = Node(), Node()\n"
        "    a.other, b.other = b, a\n"
        "    window.append(a)\n"
        "    if len(window) > 5_000: window.pop(0)\n"
        "    if n % 100_000 == 0: most = max(most, len(gc.get_objects()))\n"
        "    n += 1\n"
        "print(json.dumps({'full_passes': len(full), 'cycles_made': n, 'most_tracked': most}))\n"
    )
    assert found["full_passes"] == 1, found  # within some 5,000,000 allocations
    assert found["cycles_made"] < 5_000_000, found
    assert found["most_tracked"] < 600_000, found  # 10,000 objects alive at any one time


def test_the_served_app_settles_its_heap_once_started(tmp_path: Path) -> None:
    env = {
        "COMPLAINTS_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "COMPLAINTS_JWT_SECRET": JWT_SECRET,
    }
    found = run(
        "import gc, json\n"
        "from fastapi.testclient import TestClient\n"
        "from api.app import create_app_from_environment\n"
        "before = gc.get_threshold()\n"
        "with TestClient(create_app_from_environment()) as client:\n"
        "    assert client.get('/health/live').status_code == 200\n"
        "    print(json.dumps({'before': before, 'after': gc.get_threshold(),\n"
        "                      'frozen': gc.get_freeze_count()}))\n",
        env,
    )
    assert found["before"] == [700, 10, 10]
    assert found["after"] == [YOUNG_EVERY, MIDDLE_EVERY, OLD_EVERY]
    assert found["frozen"] > 10_000  # the app, its routes and models


def test_an_app_built_in_a_test_leaves_the_collector_as_it_was(tmp_path: Path) -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 't.db'}")
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET)) as client:
        assert client.get("/health/live").status_code == 200
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
