"""Hot reads served without FastAPI's routing and dependency solving, in front of their
documented routes.

Reading one complaint under P4's load, a fifth of an API worker's time went to FastAPI finding
the route among the included routers, solving its dependencies (the caller, the service, the
query) and wrapping the call (py-spy, `bench/results/profile-P4.txt`). A plain route answers
only the common case, a GET with no query string whose path parameter is in its canonical
spelling, by calling what the documented route calls; anything else (a query, an id spelt
another way, HEAD) falls through to the documented route, which keeps the OpenAPI document,
the validation and its 422s. The middleware and the exception handlers are the same for both.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class PlainRoute(Route):
    """`path` as its documented route spells it (so metrics and logs name one route), served
    by `endpoint` for a plain GET whose path parameters each match their pattern in `canonical`."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[[Request], Awaitable[Response]],
        *,
        canonical: dict[str, re.Pattern[str]],
    ) -> None:
        super().__init__(path, endpoint, methods=["GET"], include_in_schema=False)
        self.canonical = canonical

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("query_string"):
            return Match.NONE, {}
        match, child_scope = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        params = child_scope["path_params"]
        if not all(pattern.fullmatch(params[name]) for name, pattern in self.canonical.items()):
            return Match.NONE, {}
        child_scope["route"] = self  # as FastAPI's routes do: the request observer labels by it
        return match, child_scope
