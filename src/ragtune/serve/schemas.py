"""Request bodies. OpenAI's field names and limits; fields ragtune does not use are ignored, not refused."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "developer", "user", "assistant"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Role
    # A string, or OpenAI's content parts ([{"type": "text", "text": ...}]); only text parts are accepted.
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``. ``model`` names a strategy; ``at`` and ``filters`` are ragtune extensions."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    repetition_penalty: float | None = Field(default=None, gt=0, description="as vLLM: > 1 discourages repeats")
    n: int = Field(default=1, ge=1, le=1, description="only one choice is generated")
    at: int | None = Field(default=None, ge=1, description="answer from this KB version (default: latest)")
    filters: dict[str, Any] | None = None
    collection: str | None = Field(default=None, description="the collection (or model='STRATEGY@COLLECTION')")


class SearchRequest(BaseModel):
    """``POST /v1/search``: the same parameters as ``ragtune search``."""

    model_config = ConfigDict(extra="ignore")

    collection: str | None = None
    query: str = Field(min_length=1)
    k: int = Field(default=10, ge=1, le=1000)
    mode: str | None = None
    at: int | None = Field(default=None, ge=1)
    filters: dict[str, Any] | None = None
    auto_filter: bool | None = None  # map a company/year/document type the query names to filters


class AskRequest(BaseModel):
    """``POST /v1/ask``: one question, answered by ``strategy`` (default ``rag-extractive``)."""

    model_config = ConfigDict(extra="ignore")

    collection: str | None = None
    question: str = Field(min_length=1)
    strategy: str | None = None
    k: int | None = Field(default=None, ge=1, le=1000)
    mode: str | None = None
    at: int | None = Field(default=None, ge=1)
    filters: dict[str, Any] | None = None
    auto_filter: bool | None = None


class RollbackRequest(BaseModel):
    """``POST /v1/rollback``: a new version equal to ``version``."""

    model_config = ConfigDict(extra="ignore")

    collection: str | None = None
    version: int = Field(ge=1)


class KeyRequest(BaseModel):
    """``POST /v1/keys``: a new API key (its secret is in the answer, once)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=64)
    role: Literal["reader", "editor", "admin"] = "reader"
    collections: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
