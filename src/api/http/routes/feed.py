"""`GET /events/stream`: the live change feed, as Server-Sent Events (docs/API.md).

One event per stored event, in log order, read from the event store's log by the process's one
follower (`api.feed`), never from a read model. Nothing personal is sent, so nothing is written
to the access log.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from pydantic import WithJsonSchema
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.feed import ChangeData, ChangeFeed
from api.http.auth import Principal, Role
from api.http.deps import role
from api.http.problems import FieldError, ProblemError, problem_responses

router = APIRouter(tags=["change feed"])
Reader = Annotated[Principal, role(Role.CASEWORKER, Role.SUPERVISOR, Role.AUDITOR)]

PING_SECONDS = 15.0  # a comment line this often keeps idle connections (and proxies) open
MAX_POSITION = 2**63 - 1
POSITION_PATTERN = r"^[0-9]{1,19}$"
_POSITION = re.compile(POSITION_PATTERN)


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with its `#/$defs/...` references replaced by what they name."""
    if isinstance(schema, list):
        return [_inlined(item, definitions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    reference = schema.get("$ref", "")
    if reference.startswith("#/$defs/"):
        return _inlined(definitions[reference.rpartition("/")[2]], definitions)
    return {key: _inlined(value, definitions) for key, value in schema.items()}


def _change_schema() -> dict[str, Any]:
    schema = ChangeData.model_json_schema()
    inlined: dict[str, Any] = _inlined(schema, schema.pop("$defs", {}))
    return inlined


# Each event of the stream, as a JSON Schema of its fields (`data` holds JSON text).
_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": POSITION_PATTERN},
        "event": {"type": "string", "description": "The event type, e.g. ComplaintLodged"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": _change_schema(),
        },
    },
    "required": ["id", "event", "data"],
}
_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An endless `text/event-stream`: per stored event `id: <position>`, "
        "`event: <event type>` and `data:` a JSON `ChangeData`; a comment line every 15 s.",
        "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}},
    }
}


def _position(value: str, field: str) -> int:
    if _POSITION.fullmatch(value) is None or int(value) > MAX_POSITION:
        message = "A position is a whole number from 0, the id of an event of this stream."
        raise ProblemError(
            422,
            "invalid-position",
            f"{field} is not a position",
            message,
            errors=[FieldError(field=field, message=message)],
        )
    return int(value)


def feed_of(request: Request) -> ChangeFeed:
    feed: ChangeFeed = request.app.state.feed
    return feed


@router.get(
    "/events/stream",
    response_class=EventSourceResponse,
    responses={**_STREAM, **problem_responses(422)},
    summary="A live feed of every stored event, without personal data (Server-Sent Events)",
)
async def stream(
    request: Request,
    _: Reader,
    last_event_id: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "pattern": POSITION_PATTERN}),
        Header(
            alias="Last-Event-ID",
            description="Resume after this position (the `id` of the last event received); "
            "it wins over `after`.",
        ),
    ] = None,
    after: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "pattern": POSITION_PATTERN}),
        Query(
            description="Resume after this position; without it (or Last-Event-ID) the "
            "stream starts at the head: new events only."
        ),
    ] = None,
    complaint_id: Annotated[UUID | None, Query(description="Only this complaint's events.")] = None,
) -> EventSourceResponse:
    feed = feed_of(request)
    if last_event_id is not None:
        start = _position(last_event_id.strip(), "Last-Event-ID")
    elif after is not None:
        start = _position(after, "after")
    else:
        # Fixed before the answer starts: an event recorded once it has started is sent.
        start = await asyncio.to_thread(feed.head)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for change in feed.subscribe(start, complaint_id):
            yield ServerSentEvent(data=change.data, event=change.type, id=str(change.position))

    ping: Any = getattr(request.app.state, "feed_ping_seconds", PING_SECONDS)
    return EventSourceResponse(
        events(),
        ping=ping,
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )
