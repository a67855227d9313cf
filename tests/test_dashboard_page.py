"""`GET /dashboard`, the analysts' page (docs/API.md), in a real browser against a seeded server.

One `complaints serve` on SQLite is seeded with 300 complaints in three batches of 100, received
in February, May and September 2025. Headless Chromium, resolving no host but 127.0.0.1, opens
the page with an analyst's token in the URL fragment (and a date range, when one is chosen); the
figures it shows (every element with a `data-figure` key) must be the API's own, read with the
same token, and the console must stay silent: no error, no refusal by the Content-Security-Policy.
A screenshot of each view is kept (in COMPLAINTS_TEST_ARTEFACTS when set, else in the test's
tmp_path) and its path printed. The browser tests skip without Chromium, except under
COMPLAINTS_REQUIRE_BROWSER=1 (tests/browser.py).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from api.http.auth import mint_token
from tests.browser import Rendered, assets_of, render
from tests.ops_support import Server, cli_env, run_cli
from tests.support import JWT_SECRET

# (seed, last day of receipt): 100 complaints each, on the working days up to that day.
BATCHES = [(1, "2025-02-28"), (2, "2025-05-30"), (3, "2025-09-30")]
ANALYST = "ana-dashboard"
# The one absolute address the script holds: the SVG namespace, a name that is never fetched.
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_POSITION = re.compile(r"the log is at position (\d+)")


@dataclass
class Seeded:
    server: Server
    token: str
    head: int

    def statistics(self, name: str, **params: str) -> dict[str, Any]:
        """The API's answer, once its read model has processed every seeded event."""
        response = httpx.get(
            f"{self.server.url}/statistics/{name}",
            params={**params, "min_position": str(self.head), "wait_ms": "10000"},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=20,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    folder = tmp_path_factory.mktemp("dashboard")
    env = cli_env(f"sqlite:///{folder}/complaints.db")
    head = 0
    for seed, until in BATCHES:
        args = ["seed", "--cases", "100", "--seed", str(seed), "--until", until]
        result = run_cli(args, env, folder)
        assert result.returncode == 0, result.stderr[-3000:]
        found = _POSITION.search(result.stdout + result.stderr)
        assert found, result.stdout
        head = int(found.group(1))
    token = mint_token(JWT_SECRET, sub=ANALYST, name="Analyst", roles=["analyst"], ttl=3600)
    server = Server(env, folder)
    try:
        server.wait_live()
        yield Seeded(server, token, head)
    finally:
        server.stop()


# ---- what the page shows -------------------------------------------------------------------


class _Page(HTMLParser):
    """Each element's attributes and own text, by id; and every `data-figure` with its text."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.figures: dict[str, str] = {}
        self.dimensions: list[str] = []
        self.months: list[str] = []
        self._open: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {key: value or "" for key, value in attrs} | {"_text": ""}
        if "id" in named:
            self.by_id[named["id"]] = named
        if "data-dimension" in named:
            self.dimensions.append(named["data-dimension"])
        if "data-month" in named:
            self.months.append(named["data-month"])
        self._open.append(named)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            closed = self._open.pop()
            if "data-figure" in closed:
                self.figures[closed["data-figure"]] = closed["_text"].strip()

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1]["_text"] += data


def page_of(rendered: Rendered) -> _Page:
    page = _Page()
    page.feed(rendered.dom)
    return page


def shown(text: str) -> float | None:
    """A figure as the page writes it: `1,234`, `13.99`, or an en dash for none."""
    return None if text == "\N{EN DASH}" else float(text.replace(",", ""))


def expected(learning: dict[str, Any], timeliness: dict[str, Any]) -> dict[str, float | None]:
    """Every figure the page must show but the months: the API's, keyed as the page keys them."""
    figures: dict[str, float | None] = {"total": learning["total"], "late": learning["late"]}
    for dimension in dimensions_of(learning):
        for value, count in learning[dimension].items():
            figures[f"learning:{dimension}:{value}"] = count
    for measure, duration in timeliness.items():
        if not isinstance(duration, dict):
            continue  # `from`, `to`
        figures[f"timeliness:{measure}:count"] = duration["count"]
        for unit in ("working_days", "calendar_days"):
            for stat, value in duration[unit].items():
                figures[f"timeliness:{measure}:{unit}:{stat}"] = value
    return figures


def dimensions_of(learning: dict[str, Any]) -> list[str]:
    """The learning answer's dimensions (every value that maps values to counts) but `month`."""
    return [key for key, value in learning.items() if isinstance(value, dict) and key != "month"]


def months_between(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def artefact(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("COMPLAINTS_TEST_ARTEFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def open_dashboard(seeded: Seeded, tmp_path: Path, fragment: str, screenshot: str) -> _Page:
    """The page as the browser left it: ready, with no console message and no error shown."""
    picture = artefact(tmp_path, screenshot)
    rendered = render(f"{seeded.server.url}/dashboard#{fragment}", tmp_path, screenshot=picture)
    print(f"screenshot of the dashboard: {picture}")
    assert rendered.console == [], rendered.console
    page = page_of(rendered)
    assert page.by_id["errors"]["_text"] == "", page.by_id["errors"]
    assert "hidden" in page.by_id["errors"]
    assert picture.read_bytes().startswith(b"\x89PNG"), picture
    assert picture.stat().st_size > 10_000, "the screenshot is blank"
    return page


def check_figures(page: _Page, learning: dict[str, Any], timeliness: dict[str, Any]) -> None:
    status = page.by_id["status"]
    assert status["data-state"] == "ready", status
    assert "hidden" not in page.by_id["figures"]
    figures = {key: shown(text) for key, text in page.figures.items()}
    months = {key.removeprefix("month:"): figures.pop(key) for key in list(figures)
              if key.startswith("month:")}  # fmt: skip
    # every figure but the months is the API's, and nothing else is shown
    assert figures == expected(learning, timeliness)
    # a bar for each dimension, even one with no complaints in the range
    assert page.dimensions == dimensions_of(learning)
    # every month from the first to the last with complaints, the ones between at 0
    counted = sorted(learning["month"])
    assert page.months == months_between(counted[0], counted[-1])
    assert list(months) == page.months
    assert months == {month: learning["month"].get(month, 0) for month in page.months}


# ---- in the browser ------------------------------------------------------------------------


def test_the_page_shows_the_apis_figures_for_every_complaint(
    seeded: Seeded, tmp_path: Path
) -> None:
    # Given the API's figures for every complaint lodged
    learning = seeded.statistics("learning")
    timeliness = seeded.statistics("timeliness")
    assert learning["total"] == 300
    assert learning["month"] == {"2025-02": 100, "2025-05": 100, "2025-09": 100}
    # when the analyst opens the page with their token in the fragment
    logged = len(seeded.server.log())
    page = open_dashboard(seeded, tmp_path, f"token={seeded.token}", "dashboard.png")
    # then it shows the same figures, for every complaint
    check_figures(page, learning, timeliness)
    assert page.by_id["total"]["_text"] == "300"
    assert page.by_id["range"]["data-from"] == page.by_id["range"]["data-to"] == ""
    # and the token has left the address bar: the page's own link to this view has none
    assert page.by_id["permalink"]["href"] == f"{seeded.server.url}/dashboard"
    # and its requests carried the token in the Authorization header, which names the actor
    lines = seeded.server.log()[logged:].splitlines()
    requests = [json.loads(line) for line in lines if line.startswith('{"request_id"')]
    made = {(line["route"], line["status"], line["actor"]) for line in requests}
    for name in ("learning", "timeliness"):
        assert (f"/statistics/{name}", 200, ANALYST) in made, requests


def test_the_page_shows_the_apis_figures_for_a_chosen_range(seeded: Seeded, tmp_path: Path) -> None:
    # Given a range holding only the May batch, and the API's figures for it
    learning = seeded.statistics("learning", **{"from": "2025-03-01", "to": "2025-06-30"})
    timeliness = seeded.statistics("timeliness", **{"from": "2025-03-01", "to": "2025-06-30"})
    assert learning["total"] == 100
    # when the page is opened with that range in the fragment, after the token
    fragment = f"token={seeded.token}&from=2025-03-01&to=2025-06-30"
    page = open_dashboard(seeded, tmp_path, fragment, "dashboard-range.png")
    # then it shows the API's figures for that range
    check_figures(page, learning, timeliness)
    assert page.months == ["2025-05"]
    assert page.by_id["range"]["data-from"] == "2025-03-01"
    assert page.by_id["range"]["data-to"] == "2025-06-30"
    # the address keeps the range but not the token, and the CSV links are for that range
    assert page.by_id["permalink"]["href"] == (
        f"{seeded.server.url}/dashboard#from=2025-03-01&to=2025-06-30"
    )
    for name in ("learning", "timeliness"):
        link = page.by_id[f"csv-{name}"]["href"]
        assert link == f"/statistics/{name}?from=2025-03-01&to=2025-06-30"


def test_without_a_token_the_page_asks_for_one(seeded: Seeded, tmp_path: Path) -> None:
    page = open_dashboard(seeded, tmp_path, "", "dashboard-no-token.png")
    assert page.by_id["status"]["data-state"] == "need-token"
    assert "hidden" not in page.by_id["token-form"]
    assert "hidden" in page.by_id["figures"]
    assert page.figures == {}


def test_a_refused_token_is_said_so_on_the_page(seeded: Seeded, tmp_path: Path) -> None:
    page = open_dashboard(seeded, tmp_path, "token=not-a-token", "dashboard-refused.png")
    assert page.by_id["status"]["data-state"] == "need-token"
    assert "The token was refused" in page.by_id["status"]["_text"]
    assert "hidden" not in page.by_id["token-form"]
    assert "hidden" in page.by_id["figures"]


# ---- over plain HTTP -----------------------------------------------------------------------


def _served(seeded: Seeded) -> dict[str, httpx.Response]:
    """The page and everything it loads, fetched with no token."""
    page = httpx.get(f"{seeded.server.url}/dashboard", timeout=10)
    assert page.status_code == 200, page.text
    served = {"/dashboard": page}
    for address in assets_of(page.text):
        absolute = urljoin(f"{seeded.server.url}/dashboard", address)
        # each thing it loads is on this server
        assert urlsplit(absolute).netloc == urlsplit(seeded.server.url).netloc, address
        served[urlsplit(absolute).path] = httpx.get(absolute, timeout=10)
    return served


def test_the_page_and_its_assets_are_served_under_a_strict_policy(seeded: Seeded) -> None:
    served = _served(seeded)
    assert set(served) == {"/dashboard", "/dashboard/app.js", "/dashboard/app.css"}
    kinds = {"/dashboard": "text/html", "/dashboard/app.js": "text/javascript"}
    for path, response in served.items():
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(kinds.get(path, "text/css")), path
        assert response.headers["x-content-type-options"] == "nosniff", path
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["content-security-policy"].split(";")
        )
        assert policy["default-src"] == "'none'", path
        for directive in ("script-src", "style-src", "connect-src"):
            assert policy[directive] == "'self'", (path, directive)
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["base-uri"] == "'none'", path


def test_nothing_is_loaded_from_outside_the_server(seeded: Seeded) -> None:
    for path, response in _served(seeded).items():
        text = response.text.replace(SVG_NAMESPACE, "")
        assert not re.search(r"https?://", text), path
        assert not re.search(r"""(src|href)=["']//""", text), path  # protocol-relative
        assert "@import" not in text, path
        assert "url(" not in text, path
    html = _served(seeded)["/dashboard"].text
    # no inline code, which the policy would refuse
    assert "<script>" not in html
    assert "style=" not in html


def test_the_dashboard_is_not_in_the_openapi_document(seeded: Seeded) -> None:
    document = httpx.get(f"{seeded.server.url}/openapi.json", timeout=10).json()
    assert not [path for path in document["paths"] if path.startswith("/dashboard")]
