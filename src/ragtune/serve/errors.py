"""Every error leaves the server in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``.

Clients written for OpenAI (its SDKs among them) read the message from there. No response ever carries a
stack trace: unexpected exceptions are logged here and answered with a short 500.

=====================================  ======  =======================  =====================
cause                                  status  type                     code
=====================================  ======  =======================  =====================
malformed JSON, a field out of range   400     invalid_request_error    invalid_value / ...
missing or wrong API key               401     invalid_request_error    invalid_api_key
unknown ``model`` (strategy)           404     invalid_request_error    model_not_found
unknown KB version or document         404     invalid_request_error    not_found
bad search mode or filter              400     invalid_request_error    invalid_value
the language model failed              502     api_error                model_error
any other failure                      500     server_error             internal_error
=====================================  ======  =======================  =====================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragtune.errors import ModelError, NotFoundError, RagtuneError, SearchError

log = logging.getLogger("ragtune.serve")
INTERNAL_ERROR = "internal server error (details are in the server log)"


class ApiError(Exception):
    """An error to answer with, raised inside a route."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, param=self.param, code=self.code)

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def error_body(
    message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def from_ragtune_error(exc: RagtuneError) -> ApiError:
    """The HTTP answer for an error the library raised on purpose (its message is meant for users)."""
    if isinstance(exc, NotFoundError):
        return ApiError(404, str(exc), code="not_found")
    if isinstance(exc, SearchError):
        return ApiError(400, str(exc), code="invalid_value")
    if isinstance(exc, ModelError):
        return ApiError(502, str(exc), type="api_error", code="model_error")
    return ApiError(500, str(exc), type="server_error", code=type(exc).__name__)


def _validation_error(exc: RequestValidationError) -> ApiError:
    errors = exc.errors()
    if not errors:
        return ApiError(400, "invalid request", code="invalid_request")
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    kind = str(first.get("type", ""))
    param = ".".join(loc) or None
    if kind == "json_invalid":
        return ApiError(400, "the request body is not valid JSON", code="invalid_json")
    if kind == "missing" and not loc:
        return ApiError(400, "the request needs a JSON body", code="missing_body")
    if kind == "missing":
        return ApiError(400, f"missing required parameter: {param!r}", param=param, code="missing_required_parameter")
    if not loc:
        return ApiError(400, f"the request body must be a JSON object ({first.get('msg', '')})", code="invalid_type")
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return ApiError(
        400, f"invalid value for {param!r}: {first.get('msg', kind)}{more}", param=param, code="invalid_value"
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation_error(exc).response()

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        code = {404: "unknown_url", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(error_body(message, code=code), status_code=exc.status_code, headers=exc.headers)

    async def on_ragtune_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagtuneError)
        error = from_ragtune_error(exc)
        if error.status >= 500:
            log.warning("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return error.response()

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this response, so the server logs the traceback; one line here is enough.
        log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return JSONResponse(
            error_body(
                "internal server error (details are in the server log)", type="server_error", code="internal_error"
            ),
            status_code=500,
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RagtuneError, on_ragtune_error)
    app.add_exception_handler(Exception, on_unexpected)
