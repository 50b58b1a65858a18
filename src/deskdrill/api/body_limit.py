"""Request bodies above a size are refused (413) before they are read: a form or a
scenario upload is parsed only after its size is known to be sensible, whoever sends it.

A body that declares its length is refused from the header; one sent in chunks is
refused once it passes the limit (the app then sees the connection's end)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A scenario file is at most 1 MiB; as JSON text (the API's "yaml" field) each Chinese
# character may take six bytes. Nothing else deskdrill takes comes near.
MAX_BODY = 8 * 1024 * 1024


class TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, most: int = MAX_BODY) -> None:
        self.app = app
        self.most = most

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.most:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.most:
                    raise TooLarge
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": "too_large",
                "detail": f"the request is over {self.most // (1024 * 1024)} MiB, "
                "the most deskdrill takes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
