"""Each room of the code imports only what it may: the rule of every room, enforced.

- `domain`: nothing outward (no api, no projections, no web or database stack);
- `projections`: no HTTP and no event-store adapter (nothing of `api`, no web stack);
- `api.http`: no database driver (the HTTP layer maps; `api.eventstore.outages` knows drivers);
- `api.eventstore`, `api.integrity` and `api.read_models`: no web framework and nothing of
  `api.http` (so none of them can answer with an HTTP status: they raise their own errors);
- `api.cli`: no web framework (it starts uvicorn by the app's import path).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
WEB = {"fastapi", "starlette", "fastapi_offline"}
DRIVERS = {"psycopg", "psycopg_pool", "sqlite3"}

# room (a package under src) -> the top-level modules or packages it must not import
FORBIDDEN: dict[str, set[str]] = {
    "domain": {"api", "projections", "uvicorn", *WEB, *DRIVERS},
    "projections": {"api", "uvicorn", *WEB},
    "api.http": DRIVERS,
    "api.eventstore": {"api.http", *WEB},
    "api.integrity": {"api.http", *WEB},
    "api.read_models": {"api.http", *WEB},
    "api.cli": WEB,
}


def imported_modules(source: str, module: str) -> set[str]:
    """Every module that `source` (the text of the dotted `module`) imports, made absolute."""
    package = module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if node.module is None:
                # `from .. import x` imports the module x of that package
                found.update(".".join(filter(None, [name, alias.name])) for alias in node.names)
            else:
                found.add(name)
    return found


def forbidden_imports(source: str, module: str, room: str) -> set[str]:
    banned = FORBIDDEN[room]
    return {
        name
        for name in imported_modules(source, module)
        if any(name == b or name.startswith(b + ".") for b in banned)
    }


def modules_of(room: str) -> dict[str, str]:
    """A room is a package (every module below it) or a single module."""
    folder = SRC.joinpath(*room.split("."))
    paths = sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
    return {
        ".".join(path.relative_to(SRC).with_suffix("").parts): path.read_text(encoding="utf-8")
        for path in paths
        if path.is_file()
    }


def offenders(room: str, modules: dict[str, str]) -> dict[str, list[str]]:
    return {
        module: sorted(forbidden_imports(source, module, room))
        for module, source in modules.items()
        if forbidden_imports(source, module, room)
    }


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_no_room_imports_what_it_must_not(room: str) -> None:
    modules = modules_of(room)
    assert modules, f"no modules found for {room}"
    assert offenders(room, modules) == {}


def test_the_walk_sees_every_room_and_its_modules() -> None:
    assert {"domain.complaint", "domain.rules", "domain.service"} <= set(modules_of("domain"))
    assert "api.http.routes.commands" in modules_of("api.http")
    assert "api.eventstore.recorders" in modules_of("api.eventstore")
    assert "projections.case_list.queries" in modules_of("projections")


def test_each_room_does_import_what_it_is_built_on() -> None:
    # Positive controls: the walk finds real imports, so an empty set above means something
    def everything(room: str) -> set[str]:
        return set().union(*(imported_modules(s, m) for m, s in modules_of(room).items()))

    assert {"eventsourcing.domain", "pydantic", "domain.rules"} <= everything("domain")
    assert "fastapi" in everything("api.http")
    assert "psycopg" in everything("api.eventstore")


@pytest.mark.parametrize(
    ("room", "source", "found"),
    [
        ("domain", "import fastapi", {"fastapi"}),
        ("domain", "from starlette.requests import Request", {"starlette.requests"}),
        ("domain", "import psycopg.rows", {"psycopg.rows"}),
        ("domain", "from psycopg_pool import ConnectionPool", {"psycopg_pool"}),
        ("domain", "from api.settings import Settings", {"api.settings"}),
        ("domain", "from ..api import app", {"api"}),
        ("domain", "from .. import api", {"api"}),
        ("domain", "def f():\n    import uvicorn\n", {"uvicorn"}),
        ("domain", "from . import rules\nfrom .values import Status", set()),
        ("projections", "from api.http.auth import Role", {"api.http.auth"}),
        ("projections", "from api.eventstore.recorders import X", {"api.eventstore.recorders"}),
        ("projections", "import psycopg", set()),
        ("api.http", "import sqlite3", {"sqlite3"}),
        ("api.http", "from psycopg import errors", {"psycopg"}),
        ("api.http", "from api.eventstore.outages import STORE_OUTAGES", set()),
        ("api.eventstore", "from fastapi import Request", {"fastapi"}),
        ("api.eventstore", "from api.http.problems import ProblemError", {"api.http.problems"}),
        ("api.read_models", "from api.http import problems", {"api.http"}),
        ("api.integrity", "from starlette.types import Scope", {"starlette.types"}),
        ("api.cli", "from fastapi import FastAPI", {"fastapi"}),
        ("api.cli", "import uvicorn", set()),
    ],
)
def test_the_check_catches_forbidden_imports(room: str, source: str, found: set[str]) -> None:
    module = f"{room}.example"
    assert forbidden_imports(source, module, room) == found
