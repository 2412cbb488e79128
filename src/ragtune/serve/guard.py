"""The ASGI middleware in front of every route: who is calling (API keys), and how much they may send.

- ``/v1/*`` and ``/mcp*`` need ``Authorization: Bearer KEY`` when keys are configured (401 otherwise, in
  OpenAI's error shape); ``/``, the UI's static files and ``/healthz`` never do. The caller's
  :class:`~ragtune.serve.keys.Principal` is put in ``request.state.principal`` for the routes.
- A request body larger than its limit is answered 413 before the route runs: from ``Content-Length`` when
  sent, else (chunked bodies) by reading at most the limit + 1 bytes and replaying them to the route.

A middleware rather than a dependency, so a key is checked before the body is even read. A key seen for the
first time is verified with argon2 in a worker thread, so the event loop is never held by it.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragtune.serve.errors import ApiError
from ragtune.serve.keys import OPEN, Authenticator, Principal

PROTECTED = ("/v1", "/mcp")


def protected(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PROTECTED)


class Guard:
    def __init__(self, app: ASGIApp, authenticator: Authenticator, body_limit: Callable[[str], int]) -> None:
        self.app = app
        self.auth = authenticator
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = Headers(scope=scope)
        principal: Principal | None = OPEN
        if protected(path) and self.auth.configured:
            principal = await self._principal(headers.get("authorization", ""))
            if principal is None:
                scheme = headers.get("authorization", "").partition(" ")[0]
                message = (
                    "incorrect API key provided"
                    if scheme
                    else "missing API key: send it as 'Authorization: Bearer KEY'"
                )
                error = ApiError(401, message, code="invalid_api_key")
                await error.response(headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        scope.setdefault("state", {})["principal"] = principal

        limit = self.body_limit(path)
        length = headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                await ApiError(400, "invalid Content-Length", code="invalid_request").response()(scope, receive, send)
                return
            if too_big:
                await _too_large(limit)(scope, receive, send)
                return
            await self.app(scope, _capped(receive, limit), send)
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, more = bytearray(), True
            while more:
                event = await receive()
                if event["type"] != "http.request":
                    break  # disconnected: nothing to answer
                body += event.get("body", b"")
                more = event.get("more_body", False)
                if len(body) > limit:
                    await _too_large(limit)(scope, receive, send)
                    return
            await self.app(scope, _replay(bytes(body), receive), send)
            return
        await self.app(scope, receive, send)

    async def _principal(self, authorization: str) -> Principal | None:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        found, settled = self.auth.fast(token)
        if settled:
            return found
        return await anyio.to_thread.run_sync(self.auth.slow, token)


def _too_large(limit: int) -> JSONResponse:
    mb = limit / (1024 * 1024)
    return ApiError(413, f"the request body is larger than the {mb:g} MB limit", code="request_too_large").response(
        headers={"Connection": "close"}
    )


def _capped(receive: Receive, limit: int) -> Receive:
    """A body that declared its length is cut at the limit (a client sending more than it declared)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return wrapped


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped
