"""`GET /dashboard`: the analysts' page of statistics, with its script and style sheet.

The page needs no token to be served; its calls to `/statistics/learning` and
`/statistics/timeliness` carry the analyst's token in the Authorization header, read from the
URL fragment (`#token=<jwt>`, which no browser sends to a server) or typed into the page. Every
file comes from this package, under a Content-Security-Policy that lets the page load and call
nothing but this server, and none of them is in the OpenAPI document (they are not the API).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(tags=["dashboard"])

# Scripts, styles and calls from this server only; no inline script or style, no frames, no
# forms posted anywhere, no <base>. Images: the SVG is drawn inline, so nothing is loaded.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
_PACKAGE = files("api.http.dashboard")
# (path, file, media type): read once, when the module is imported.
_FILES = {
    "/dashboard": ("dashboard.html", "text/html; charset=utf-8"),
    "/dashboard/app.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/dashboard/app.css": ("dashboard.css", "text/css; charset=utf-8"),
}


def _serve(path: str, name: str, media_type: str) -> None:
    body = (_PACKAGE / name).read_bytes()

    def endpoint() -> Response:
        return Response(body, media_type=media_type, headers=SECURITY_HEADERS)

    endpoint.__name__ = endpoint.__qualname__ = "dashboard_" + name.replace(".", "_")
    router.get(path, include_in_schema=False, response_class=Response)(endpoint)


for _path, (_name, _media_type) in _FILES.items():
    _serve(_path, _name, _media_type)
