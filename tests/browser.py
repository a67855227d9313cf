"""Headless Chromium for the tests of the pages the product serves (/docs, /redoc, /dashboard).

The browser resolves no host but 127.0.0.1, so a page that loads anything from elsewhere (a CDN's
script, a web font) fails visibly. Tests using it skip when Chromium is not installed, except
under COMPLAINTS_REQUIRE_BROWSER=1 (as `.ci/run` sets, having installed it), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

REQUIRE_BROWSER = os.environ.get("COMPLAINTS_REQUIRE_BROWSER") == "1"
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
# What Chromium writes to stderr (with --enable-logging=stderr) for each console message of a
# page, whatever its level: `[…:INFO:CONSOLE:12] "Uncaught TypeError: …", source: … (12)`.
_CONSOLE = re.compile(r":CONSOLE(?::\d+|\(\d+\))\] (.*)$")


def chromium() -> str:
    """Chromium's executable; skips the test (fails it under COMPLAINTS_REQUIRE_BROWSER=1)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class Rendered:
    dom: str  # the page's DOM after its scripts ran
    console: list[str]  # every console message of the page (errors, CSP refusals, logs)


def render(
    url: str,
    folder: Path,
    *,
    screenshot: Path | None = None,
    window: tuple[int, int] = (1280, 2000),
    budget_ms: int = 15000,
) -> Rendered:
    """Opens `url` in a browser that can reach only 127.0.0.1, lets its scripts and requests run
    for `budget_ms` of virtual time, and returns the DOM and the console; with `screenshot`, it
    also saves a PNG of the `window` there."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=folder)
    extra = []
    if screenshot is not None:
        extra = [f"--screenshot={screenshot}", f"--window-size={window[0]},{window[1]}"]
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            OFFLINE,
            "--enable-logging=stderr",
            "--v=0",
            f"--virtual-time-budget={budget_ms}",
            *extra,
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [m.group(1) for m in map(_CONSOLE.search, result.stderr.splitlines()) if m]
    return Rendered(dom=result.stdout, console=console)


def rendered(url: str, folder: Path) -> str:
    """The page's DOM after its scripts ran, in a browser that can reach only 127.0.0.1."""
    return render(url, folder).dom


class _Assets(HTMLParser):
    """The addresses a page loads: scripts, style sheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attribute in ("src", "href"):
            value = named.get(attribute)
            if value and (tag != "a"):
                self.addresses.append(value)


def assets_of(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.addresses
