"""Request body size limit: an oversize body is 413 problem details, read no further."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE

# Request heads: uvicorn only bounds a head that arrives in pieces, so we bound it here too.
MAX_QUERY_BYTES = 8192
MAX_HEADER_BYTES = 16384


class BodySizeLimit:
    """Refuses by Content-Length up front, and counts the bytes of bodies sent without one."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await self._refuse(
                send,
                414,
                "uri-too-long",
                "The query string is too long",
                f"Query strings are limited to {MAX_QUERY_BYTES} bytes.",
            )
            return
        # Authorization is left out: an oversize token is the authenticator's to refuse (401).
        head = sum(len(k) + len(v) for k, v in scope["headers"] if k != b"authorization")
        if head > MAX_HEADER_BYTES:
            await self._refuse(
                send,
                431,
                "headers-too-large",
                "The headers are too large",
                f"Request headers are limited to {MAX_HEADER_BYTES} bytes.",
            )
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing to the handlers.
                    raise HTTPException(
                        413, f"Request bodies are limited to {self.max_bytes} bytes."
                    )
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as error:
            if error.status_code != 413 or started:
                raise
            await self._refuse(send)

    async def _refuse(
        self,
        send: Send,
        status: int = 413,
        slug: str = "body-too-large",
        title: str = "The body is too large",
        detail: str = "",
    ) -> None:
        body = json.dumps(
            {
                "type": PROBLEM_BASE + slug,
                "title": title,
                "status": status,
                "detail": detail or f"Request bodies are limited to {self.max_bytes} bytes.",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
