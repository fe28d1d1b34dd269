"""Limits and a health probe for the served app.

`BodyLimit` refuses oversized request bodies on Gradio's API before Gradio parses them: event
data is a short message and file references (files go to /gradio_api/upload, which has its own
`max_file_size`), yet a client could post any JSON (a 21 MB "chat history" was accepted).
`/healthz` tells an operator (and the session test) the process is up and how many browser
sessions it holds state for.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

BODY_METHODS = {"POST", "PUT", "PATCH"}


class BodyLimit:
    """ASGI middleware: a body over `limit` bytes on a path under `prefix` (not `exempt`) gets 413.
    A declared Content-Length is checked first; a chunked body is read up to the limit, never
    beyond, then handed on."""

    def __init__(self, app, limit: int, prefix: str = "/", exempt: tuple[str, ...] = ()) -> None:
        self.app, self.limit, self.prefix, self.exempt = app, limit, prefix, tuple(exempt)

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or scope.get("method") not in BODY_METHODS
                or not path.startswith(self.prefix) or path.startswith(self.exempt)):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await self._refuse(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await self._refuse(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send) -> None:
        response = PlainTextResponse(f"Request body too large (over {self.limit} bytes).", status_code=413)
        await response(scope, receive, send)


def health_router(shell) -> APIRouter:
    """GET /healthz -> {"status": "ok", "sessions": N}: read-only, nothing about any shopper."""
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok", "sessions": len(shell.sessions)}

    return router
