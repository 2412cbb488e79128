"""``create_app``: the HTTP API over one or more collections (knowledge bases with their strategies).

=================================  ======  ===============================================================
route                              role    answer
=================================  ======  ===============================================================
``GET  /healthz``                  (none)  ``{"status": "ok", "version"}`` (never needs a key)
``GET  /``, ``/ui/NAME``           (none)  the web UI (``ui.py``: static files, never need a key)
``GET  /v1/me``                    reader  ``{"name", "role", "collections", "groups"}``
``GET  /v1/collections``           reader  ``{"data": [{"name", "version", "documents", "chunks"}]}``
``GET  /v1/models``                reader  strategies as OpenAI models (``STRATEGY@COLLECTION`` with several)
``POST /v1/chat/completions``      reader  OpenAI-compatible chat; ``model`` names a strategy (see ``chat.py``)
``POST /v1/search``                reader  ``{collection, query, k, ..., auto_filter}`` → ``{"version", "results"}``
``POST /v1/ask``                   reader  ``{collection, question, strategy, ...}`` → ``Answer.as_dict()``
documents, versions, diff, ...     (see ``routes_kb.py``)
runs, registry, comparisons, keys  (see ``routes_admin.py``)
``/mcp``                           reader  the MCP server (``search`` and ``ask`` tools; see ``mcp_server.py``)
=================================  ======  ===============================================================

Every ``/v1`` route needs ``Authorization: Bearer KEY`` when keys are configured (``guard.py``), and reads
as the key: its collections, and its groups for per-document access control. Errors are OpenAI-shaped
(``errors.py``). Routes are plain functions: FastAPI runs them in its thread pool, so a slow model does not
stall the event loop, and each thread gets its own SQLite connection from the store.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from ragtune import __version__
from ragtune.rag.strategies import DEFAULT_STRATEGY
from ragtune.search.query import Query
from ragtune.serve import chat
from ragtune.serve.collections import Collection, Collections
from ragtune.serve.context import ServerContext, access_of, caller, query_for
from ragtune.serve.errors import ApiError, install_error_handlers
from ragtune.serve.guard import Guard
from ragtune.serve.keys import Authenticator, KeyStore
from ragtune.serve.schemas import AskRequest, ChatCompletionRequest, SearchRequest
from ragtune.serve.settings import ServeSettings
from ragtune.serve.ui import mount_ui

if TYPE_CHECKING:
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.rag.strategies import StrategyProtocol as Strategy

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def create_app(
    strategies: Mapping[str, Strategy] | None = None,
    *,
    kb: KnowledgeBase | None = None,
    api_key: str | None = None,
    collections: Collections | None = None,
    keys: KeyStore | str | Path | None = None,
    settings: ServeSettings | None = None,
    mcp: bool = True,
) -> FastAPI:
    """The API app.

    ``collections`` are served by name; without them, ``strategies`` (and ``kb``, which enables search and the
    knowledge-base routes) are one collection named ``default``. ``keys`` is the key file (or a
    :class:`KeyStore`); ``api_key`` one static admin key. With neither, no key is needed.
    """
    if collections is None:
        collections = Collections.single(strategies or {}, kb)
    store = KeyStore(keys) if isinstance(keys, (str, Path)) else keys
    settings = settings or ServeSettings()
    auth = Authenticator(store, api_key)
    ctx = ServerContext(collections, auth, store, settings)
    app = FastAPI(
        title="ragtune",
        version=__version__,
        summary="OpenAI-compatible chat over versioned knowledge bases, one model per strategy and collection.",
    )
    app.state.ragtune = ctx
    install_error_handlers(app)
    app.add_middleware(Guard, authenticator=auth, body_limit=ctx.body_limit)
    mount_ui(app)  # GET / and /ui/*: the web UI (static; needs no key)
    created = int(time.time())
    multi = len(collections) > 1

    def model_id(collection: Collection, name: str) -> str:
        return f"{name}@{collection.name}" if multi else name

    def strategy(collection: Collection, name: str, param: str) -> Strategy:
        found = collection.strategies.get(name)
        if found is None:
            available = ", ".join(model_id(collection, s) for s in collection.strategies) or "(none)"
            raise ApiError(
                404,
                f"the model {model_id(collection, name)!r} does not exist; available: {available}",
                param=param,
                code="model_not_found",
            )
        return found

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        only = next(iter(collections)) if len(collections) == 1 else None
        version = only.kb.head if only is not None and only.kb is not None else None
        return {"status": "ok", "version": version}

    @app.get("/v1/me")
    def me(request: Request) -> dict[str, Any]:
        return caller(request).as_dict(collections.names)

    @app.get("/v1/collections")
    def list_collections(request: Request) -> dict[str, Any]:
        return {"object": "list", "data": [c.summary() for c in collections.readable(caller(request))]}

    @app.get("/v1/models")
    def models(request: Request, collection: str | None = None) -> dict[str, Any]:
        who = caller(request)
        chosen = [collections.resolve(collection, who)] if collection else collections.readable(who)
        data = [
            {
                "id": model_id(c, name),
                "object": "model",
                "created": created,
                "owned_by": "ragtune",
                "description": s.description,
                "collection": c.name,
            }
            for c in chosen
            for name, s in c.strategies.items()
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(request: ChatCompletionRequest, http: Request) -> dict[str, Any] | StreamingResponse:
        who = caller(http)
        name, at_sign, named = request.model.rpartition("@")
        if not at_sign:
            name, named = request.model, ""
        if named and request.collection and named != request.collection:
            raise ApiError(
                400,
                f"model {request.model!r} names the collection {named!r} but 'collection' is {request.collection!r}",
                param="collection",
                code="invalid_value",
            )
        collection = collections.resolve(named or request.collection, who, param="model" if named else "collection")
        chosen = strategy(collection, name, "model")
        access = access_of(who)
        fields = {"principal": access.principal, "groups": access.groups}
        if request.stream:
            events = chat.stream(chosen, request, fields)
            return StreamingResponse(events, media_type="text/event-stream", headers=_SSE_HEADERS)
        return chat.answer(chosen, request, fields)

    @app.post("/v1/search")
    def search(request: SearchRequest, http: Request) -> dict[str, Any]:
        who = caller(http)
        kb_ = collections.resolve(request.collection, who).require_kb()
        query = query_for(who, request.query, request.k, request.mode, request.at, request.filters, request.auto_filter)
        found = kb_.retrieve(query)
        out: dict[str, Any] = {"version": found.version, "results": [p.as_dict() for p in found.passages]}
        if found.auto_filters:
            out["auto_filters"] = found.auto_filters
        return out

    @app.post("/v1/ask")
    def ask(request: AskRequest, http: Request) -> dict[str, Any]:
        who = caller(http)
        collection = collections.resolve(request.collection, who)
        available = collection.strategies
        name = request.strategy or (DEFAULT_STRATEGY if DEFAULT_STRATEGY in available else next(iter(available), ""))
        chosen = strategy(collection, name, "strategy")
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
        query: Query = query_for(
            who, request.question, request.k, request.mode, request.at, request.filters, request.auto_filter
        )
        result = chosen.answer(messages, query)
        return result.as_dict()

    from ragtune.serve import routes_admin, routes_kb

    routes_kb.add_routes(app, ctx)
    routes_admin.add_routes(app, ctx)
    if mcp:
        from ragtune.serve.mcp_server import mount_mcp

        mount_mcp(app, ctx)
    return app
