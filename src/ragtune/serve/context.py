"""What every route shares: the collections, the keys, the limits, and the caller of the request at hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ragtune.kb.acl import ALL, Access
from ragtune.search.query import Query
from ragtune.serve.collections import Collections
from ragtune.serve.errors import ApiError
from ragtune.serve.keys import OPEN, Authenticator, KeyStore, Principal
from ragtune.serve.settings import ServeSettings
from ragtune.serve.uploads import Jobs

UPLOADS_PATH = "/v1/uploads"


@dataclass
class ServerContext:
    collections: Collections
    auth: Authenticator
    keys: KeyStore | None
    settings: ServeSettings
    jobs: Jobs = field(default_factory=Jobs)

    def body_limit(self, path: str) -> int:
        if path == UPLOADS_PATH:
            return self.settings.max_upload_request_bytes
        return self.settings.max_body_bytes


def caller(request: Request) -> Principal:
    """The principal the guard found for this request (:data:`OPEN` when no keys are configured)."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else OPEN


def access_of(principal: Principal) -> Access:
    """How ``principal`` reads documents: unrestricted with no keys configured, else as its key's groups."""
    if principal.name is None:
        return ALL
    return Access(principal.name, principal.read_groups)


def query_for(
    principal: Principal, text: str, k: Any, mode: Any, at: Any, filters: Any, auto_filter: bool | None = None
) -> Query:
    access = access_of(principal)
    return Query(text, k, mode, at, filters, access.principal, access.groups, auto_filter)


def need(principal: Principal, role: str, action: str) -> None:
    """403 unless ``principal``'s role is at least ``role``."""
    if not principal.may(role):
        raise ApiError(
            403,
            f"the key {principal.name!r} ({principal.role}) may not {action}; it needs the role {role}",
            code="role_forbidden",
        )
