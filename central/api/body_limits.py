"""Bounds on every JSON request body, checked before anything parses it: size (413) and nesting depth (400).

A 100,000-deep body would otherwise cost the parser its stack, and an endless one the process its memory; both
answer a clear :class:`parking.wire.ErrorBody` instead, before a route or a validator sees them.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parking.json_bounds import json_depth_over
from parking.wire import ErrorBody

MAX_BODY_BYTES = 32 * 1024 * 1024  # a full ingest batch of 5000 records is a few MB
MAX_DEPTH = 64  # objects and arrays; a journal payload may nest 16 inside a record inside a batch


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    content = json.dumps(ErrorBody(code=code, message=message).model_dump(mode="json")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": content})  # fmt: skip


class JsonBodyLimit:
    """ASGI middleware: a JSON body over ``max_bytes`` answers 413 ``request.too_large``, one nested deeper than
    ``max_depth`` 400 ``request.too_deep``; other bodies pass untouched."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").lower()
        if content_type and b"json" not in content_type:  # FastAPI reads a body without a type as JSON too
            await self.app(scope, receive, send)
            return
        too_large = f"the body is over {self.max_bytes} bytes"
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, 413, "request.too_large", too_large)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(send, 413, "request.too_large", too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_depth_over(body, self.max_depth):
            await _refuse(send, 400, "request.too_deep", f"the JSON nests deeper than {self.max_depth} levels")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
