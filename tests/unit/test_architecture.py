"""The domain stands alone: it imports nothing from the API, the projections or the web/db stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
DOMAIN = SRC / "domain"
FORBIDDEN = {"api", "projections", "fastapi", "psycopg", "psycopg_pool", "starlette", "uvicorn"}


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


def forbidden_imports(source: str, module: str) -> set[str]:
    return {
        name
        for name in imported_modules(source, module)
        if name.split(".")[0] in FORBIDDEN or name.split(".")[0].startswith("psycopg")
    }


def domain_modules() -> dict[str, str]:
    return {
        ".".join(path.relative_to(SRC).with_suffix("").parts): path.read_text(encoding="utf-8")
        for path in sorted(DOMAIN.rglob("*.py"))
    }


def test_the_walk_sees_every_domain_module() -> None:
    assert {
        "domain.__init__",
        "domain.complaint",
        "domain.errors",
        "domain.json_mapper",
        "domain.rules",
        "domain.service",
        "domain.values",
    } <= set(domain_modules())


def test_the_domain_imports_nothing_from_the_outer_layers() -> None:
    offenders = {
        module: sorted(forbidden_imports(source, module))
        for module, source in domain_modules().items()
        if forbidden_imports(source, module)
    }
    assert offenders == {}


def test_the_domain_does_import_what_it_is_built_on() -> None:
    # A positive control: the walk does find the domain's real imports
    everything = set().union(
        *(imported_modules(source, module) for module, source in domain_modules().items())
    )
    assert {"eventsourcing.domain", "pydantic", "domain.rules"} <= everything


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import fastapi", {"fastapi"}),
        ("from starlette.requests import Request", {"starlette.requests"}),
        ("import psycopg.rows", {"psycopg.rows"}),
        ("from psycopg_pool import ConnectionPool", {"psycopg_pool"}),
        ("from api.settings import Settings", {"api.settings"}),
        ("from projections import caseload", {"projections"}),
        ("from ..api import app", {"api"}),
        ("from .. import api", {"api"}),
        ("from ..projections.caseload import X", {"projections.caseload"}),
        ("def f():\n    import uvicorn\n", {"uvicorn"}),
        ("from . import rules\nfrom .values import Status", set()),
        ("import eventsourcing.domain\nimport pydantic", set()),
    ],
)
def test_the_check_catches_forbidden_imports(source: str, found: set[str]) -> None:
    assert forbidden_imports(source, "domain.complaint") == found
