"""`/docs` and `/redoc` work with no internet: every asset comes from the server itself.

The assets are fetched one by one from the server, and the page is opened in a real browser
(headless Chromium) whose every host but 127.0.0.1 fails to resolve, so that a script or style
sheet loaded from a CDN would leave the page blank. The browser test skips when Chromium is not
installed, except under COMPLAINTS_REQUIRE_BROWSER=1 (as `.ci/run` sets, having installed it):
see tests/browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.browser import assets_of, rendered
from tests.ops_support import Server, cli_env

PAGES = ["/docs", "/redoc"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("docs")
    served = Server(cli_env(f"sqlite:///{folder}/complaints.db"), folder)
    try:
        served.wait_live()
        yield served
    finally:
        served.stop()


@pytest.mark.parametrize("page", PAGES)
def test_every_asset_of_the_page_comes_from_the_server(server: Server, page: str) -> None:
    # Given the page as served
    response = httpx.get(server.url + page, timeout=10)
    assert response.status_code == 200, response.text
    addresses = assets_of(response.text)
    assert any(a.endswith(".js") for a in addresses), addresses
    for address in addresses:
        # then each thing it loads is on this server, and this server has it
        absolute = urljoin(server.url + page, address)
        assert urlsplit(absolute).netloc == urlsplit(server.url).netloc, address
        asset = httpx.get(absolute, timeout=10)
        assert asset.status_code == 200, address
        assert asset.content, address


def test_swagger_ui_renders_every_operation_offline(server: Server, tmp_path: Path) -> None:
    # Given a browser that cannot reach any host but this one, when it opens /docs
    dom = rendered(server.url + "/docs", tmp_path)
    # then Swagger UI has drawn the operations from /openapi.json
    assert 'class="opblock opblock-post' in dom, dom[-2000:]
    for summary in ("Lodge a complaint", "Assign or reassign an investigating officer"):
        assert summary in dom


def test_redoc_renders_offline(server: Server, tmp_path: Path) -> None:
    dom = rendered(server.url + "/redoc", tmp_path)
    assert "Lodge a complaint" in dom, dom[-2000:]
