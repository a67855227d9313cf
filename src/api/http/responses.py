"""Answers given as JSON by the route itself, once validated.

A route that returns a model has FastAPI dump it, validate the dump against the route's
response model again and serialise that; for a sync route the validation runs in the thread
pool, a second hand-off per request after the route's own. Under P4's load that was a tenth of
a worker's time (`bench/profile.py --workload complaint`). A route whose answer is already its
response model returns `json_answer(...)` instead; `response_model` still documents it.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel

JSON = "application/json"


def json_answer(
    answer: BaseModel | bytes,
    response: Response | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`answer`'s JSON (by alias, as FastAPI writes it; bytes are taken as its JSON already), with
    `headers` and those a route set on its `response` parameter, which FastAPI adds only to
    answers it builds itself."""
    body = answer if isinstance(answer, bytes) else json_of(answer)
    out = Response(body, status_code=status_code, headers=headers, media_type=JSON)
    if response is not None:
        out.headers.raw.extend(response.headers.raw)
    return out


def json_of(answer: BaseModel) -> bytes:
    return answer.__pydantic_serializer__.to_json(answer, by_alias=True)
