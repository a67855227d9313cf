"""uvicorn's httptools protocol with a bound on a request's head, as h11 had.

httptools (llhttp) gathers a header of any length before the application sees it, so a client
could hold megabytes of one connection's memory in a single header line; h11 refused any head
over 16 KiB. Here the bytes received while a head is being read are counted, and past
`MAX_HEAD_BYTES` (256 KiB) the answer is 431 problem details and the connection is closed,
before the head is complete. The application's own limits (`api.http.limits`: the query, the
headers, the token) stay the finer ones; this is only the outer wall, above them all together.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.http.auth import MAX_TOKEN_BYTES
from api.http.limits import MAX_HEADER_BYTES, MAX_QUERY_BYTES
from api.http.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE

# Far above the request line, the query, the token and the other headers at their limits
# together (about 32 KiB): a chunk that ends one pipelined request and begins the next counts
# whole, and must not be taken for a long head. Still a bound, where httptools has none.
MAX_HEAD_BYTES = 8 * (MAX_QUERY_BYTES + MAX_TOKEN_BYTES + MAX_HEADER_BYTES)


def _too_large() -> bytes:
    body = json.dumps(
        {
            "type": PROBLEM_BASE + "headers-too-large",
            "title": "The headers are too large",
            "status": 431,
            "detail": f"A request's line and headers are limited to {MAX_HEAD_BYTES} bytes.",
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


TOO_LARGE = _too_large()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # a connection starts with a request's head
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted once parsed, so that a head completed in this chunk (its body after it, of
        # any size the body limit allows) is never mistaken for a long one.
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.transport.write(TOO_LARGE)
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True  # what comes next on this connection is the next request's head
        super().on_message_complete()
