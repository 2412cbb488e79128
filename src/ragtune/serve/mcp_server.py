"""The collections as Model Context Protocol tools, for agent clients (the official ``mcp`` SDK).

One tool set serves every collection; each tool takes a ``collection`` argument (optional when one is
served):

- ``collections()``: the collections the caller may use, with their version and size;
- ``search(query, collection, k)``: the ``k`` best passages (text, source, heading, score);
- ``ask(question, collection, strategy)``: a cited answer (text, citations, the version it came from).

Over HTTP the tools are mounted by ``ragtune serve`` at ``/mcp`` (streamable HTTP, stateless, JSON
responses) behind the same ``Authorization: Bearer KEY`` as ``/v1`` and read as that key (its collections,
its groups). Over stdio (``ragtune mcp``) they read as the key given with ``--key``/``RAGTUNE_API_KEY``, or as
the local user (everything) without one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ragtune import __version__
from ragtune.errors import RagtuneError
from ragtune.rag.strategies import DEFAULT_STRATEGY
from ragtune.serve.context import ServerContext, query_for
from ragtune.serve.errors import ApiError
from ragtune.serve.keys import OPEN, Principal

if TYPE_CHECKING:
    from fastapi import FastAPI

MCP_PATH = "/mcp"
INSTRUCTIONS = (
    "Search and ask ragtune knowledge bases. Call `collections` to see which collections you may use, then "
    "`search` for passages or `ask` for an answer that cites its sources as [n]."
)


def build_mcp(ctx: ServerContext, default: Principal = OPEN) -> MCPServer:
    """The MCP server over ``ctx``'s collections. ``default``: who a call without an HTTP request (stdio) is."""
    server: MCPServer = MCPServer("ragtune", version=__version__, instructions=INSTRUCTIONS)
    collections = ctx.collections

    def who(context: Context) -> Principal:
        request = context.request_context.request
        state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
        found = state.get("principal") if isinstance(state, dict) else None
        return found if isinstance(found, Principal) else default

    def fail(exc: Exception) -> ToolError:
        message = exc.message if isinstance(exc, ApiError) else str(exc)
        return ToolError(message)

    @server.tool(
        name="collections", description="The collections (knowledge bases) you may search, with their version and size."
    )
    def list_collections(context: Context) -> dict[str, Any]:
        return {"collections": [c.summary() for c in collections.readable(who(context))]}

    @server.tool(
        name="search",
        description="The k best passages for a query in a collection (hybrid keyword + vector search). "
        "`collection` may be left out when only one is served.",
    )
    def search(query: str, context: Context, collection: str | None = None, k: int = 5) -> dict[str, Any]:
        caller = who(context)
        try:
            kb = collections.resolve(collection, caller).require_kb()
            found = kb.retrieve(query_for(caller, query, max(1, min(int(k), 50)), None, None, None))
        except (ApiError, RagtuneError) as exc:
            raise fail(exc) from None
        keep = ("doc_id", "title", "source", "heading_path", "page", "text", "score")
        return {"version": found.version, "results": [{f: p.as_dict().get(f) for f in keep} for p in found.passages]}

    @server.tool(
        name="ask",
        description="Answer a question from a collection, citing passages as [n]; `strategy` names how "
        "(default rag-extractive; the server's models are listed at /v1/models).",
    )
    def ask(
        question: str, context: Context, collection: str | None = None, strategy: str | None = None
    ) -> dict[str, Any]:
        caller = who(context)
        try:
            coll = collections.resolve(collection, caller)
            name = strategy or (
                DEFAULT_STRATEGY if DEFAULT_STRATEGY in coll.strategies else next(iter(coll.strategies))
            )
            chosen = coll.strategies.get(name)
            if chosen is None:
                raise ApiError(404, f"no strategy {name!r}; available: {', '.join(coll.strategies)}")
            answer = chosen.answer(
                [{"role": "user", "content": question}], query_for(caller, question, None, None, None, None)
            )
        except (ApiError, RagtuneError) as exc:
            raise fail(exc) from None
        data = answer.as_dict()
        return {k: data.get(k) for k in ("answer", "answered", "citations", "version")}

    return server


def mount_mcp(app: FastAPI, ctx: ServerContext) -> None:
    """Serve the MCP tools at ``/mcp`` in ``app`` (the guard in front checks keys as for ``/v1``)."""
    from mcp.server.transport_security import TransportSecuritySettings

    server = build_mcp(ctx)
    # With keys, a request needs the bearer key anyway (a DNS-rebinding page cannot send it); without keys
    # the server is loopback-only, and the SDK's Host/Origin check keeps other sites' pages out.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False) if ctx.auth.configured else None
    sub = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=security,
        max_request_body_size=ctx.settings.max_body_bytes,
    )
    for route in sub.routes:
        app.router.routes.append(route)
    previous = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with server.session_manager.run(), previous(a) as state:
            yield state

    app.router.lifespan_context = lifespan
