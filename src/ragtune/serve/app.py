"""``create_app``: the HTTP API over a set of strategies and (optionally) the knowledge base behind them.

=========================  =====================================================================
``GET  /healthz``          ``{"status": "ok", "version": KB head or null}`` (never needs a key)
``GET  /``, ``/ui/NAME``   the web UI (``ui.py``; static files, never need a key)
``GET  /v1/models``        the strategies, in OpenAI's model-list shape
``POST /v1/chat/completions``  OpenAI-compatible chat; ``model`` names a strategy (see ``chat.py``)
``POST /v1/search``        ``{query, k, mode, at, filters}`` → ``{"version", "results": [passage]}``
``POST /v1/ask``           ``{question, strategy, k, mode, at, filters}`` → ``Answer.as_dict()``
=========================  =====================================================================

With ``api_key`` set, every ``/v1`` route needs ``Authorization: Bearer KEY``. Errors are OpenAI-shaped
(see ``errors.py``). Routes are plain functions: FastAPI runs them in its thread pool, so a slow model
does not stall the event loop, and each thread gets its own SQLite connection from the store.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ragtune import __version__
from ragtune.rag.strategies import DEFAULT_STRATEGY
from ragtune.search.query import Query
from ragtune.serve import chat
from ragtune.serve.errors import ApiError, install_error_handlers
from ragtune.serve.schemas import AskRequest, ChatCompletionRequest, SearchRequest
from ragtune.serve.ui import mount_ui

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.rag.strategies import StrategyProtocol as Strategy

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def create_app(
    strategies: Mapping[str, Strategy], *, kb: KnowledgeBase | None = None, api_key: str | None = None
) -> FastAPI:
    """The API app. ``strategies`` are served as models by name; ``kb`` enables ``/v1/search`` and versions."""
    app = FastAPI(
        title="ragtune",
        version=__version__,
        summary="OpenAI-compatible chat over a versioned knowledge base, one model per strategy.",
    )
    install_error_handlers(app)
    mount_ui(app)  # GET / and /ui/*: the web UI (static; needs no key)
    if api_key:
        app.add_middleware(RequireApiKey, api_key=api_key)
    created = int(time.time())

    def strategy(name: str, param: str) -> Strategy:
        found = strategies.get(name)
        if found is None:
            raise ApiError(
                404,
                f"the model {name!r} does not exist; available: {', '.join(strategies) or '(none)'}",
                param=param,
                code="model_not_found",
            )
        return found

    def knowledge_base() -> KnowledgeBase:
        if kb is None:
            raise ApiError(404, "this server has no knowledge base to search", code="no_knowledge_base")
        return kb

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": kb.head if kb is not None else None}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": "ragtune", "description": s.description}
            for name, s in strategies.items()
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(request: ChatCompletionRequest) -> dict[str, Any] | StreamingResponse:
        chosen = strategy(request.model, "model")
        if request.stream:
            events = chat.stream(chosen, request)
            return StreamingResponse(events, media_type="text/event-stream", headers=_SSE_HEADERS)
        return chat.answer(chosen, request)

    @app.post("/v1/search")
    def search(request: SearchRequest) -> dict[str, Any]:
        found = knowledge_base().retrieve(Query(request.query, request.k, request.mode, request.at, request.filters))
        return {"version": found.version, "results": [p.as_dict() for p in found.passages]}

    @app.post("/v1/ask")
    def ask(request: AskRequest) -> dict[str, Any]:
        name = request.strategy or (DEFAULT_STRATEGY if DEFAULT_STRATEGY in strategies else next(iter(strategies), ""))
        chosen = strategy(name, "strategy")
        retrieval: dict[str, Any] = {k: v for k, v in (("k", request.k), ("mode", request.mode)) if v is not None}
        # A strategy declares the per-call fields it honours (StrategyProtocol.accepts); none when it does not say.
        unsupported = [k for k in retrieval if k not in getattr(chosen, "accepts", frozenset())]
        if unsupported:
            raise ApiError(
                400,
                f"the strategy {name!r} does not take {' or '.join(unsupported)}; it retrieves with its own settings",
                param=unsupported[0],
                code="unsupported_parameter",
            )
        messages = [{"role": "user", "content": request.question}]
        query = Query(request.question, request.k, request.mode, request.at, request.filters)
        result = chosen.answer(messages, query)
        return result.as_dict()

    return app


class RequireApiKey:
    """ASGI middleware: ``/v1`` needs ``Authorization: Bearer KEY``.

    A middleware rather than a dependency, so the key is checked before the body is even parsed.
    """

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/v1" or path.startswith("/v1/")):
            scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.expected):
                message = (
                    "incorrect API key provided"
                    if scheme
                    else "missing API key: send it as 'Authorization: Bearer KEY'"
                )
                error = ApiError(401, message, code="invalid_api_key")
                await error.response(headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)
