"""Configuration of the chat gateway, read once at start-up and validated then."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from shared.local_auth import GATEWAY_AUDIENCE
from shared.settings import CommonSettings, split_csv

BUILTIN_MODEL = "builtin"
DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"


class GatewaySettings(CommonSettings):
    LOCAL_AUDIENCE = GATEWAY_AUDIENCE
    HOST_SETTING = "GATEWAY_HOST"

    mcp_task_server_url: str = Field(
        default="http://127.0.0.1:8001/mcp", description="The task server's MCP endpoint."
    )
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    agent_model: str | None = Field(
        default=None,
        description='"builtin" (offline), or a model name for the OpenAI (or compatible) API. '
        'Default: "builtin" without OPENAI_API_KEY, else ' + DEFAULT_OPENAI_MODEL + ".",
    )
    openai_api_key: str | None = Field(default=None, repr=False)
    openai_base_url: str | None = Field(
        default=None, description="An OpenAI-compatible endpoint (Ollama, vLLM, LiteLLM proxy)."
    )
    agent_tracing: bool = Field(default=False, description="Export Agents SDK traces to OpenAI.")
    # What every model call is sent (the builtin model ignores them). Unset means "not sent": the server's
    # own default applies, which is what hosted OpenAI models want for all but the token limit.
    model_max_tokens: int = Field(
        default=1024,
        ge=16,
        le=131_072,
        description="The longest reply, in tokens, on every model call; a reply cut off there is reported "
        "as `model_error`, never stored as if complete.",
    )
    model_temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature.")
    model_tool_choice: Literal["auto", "required", "none"] | None = Field(
        default=None,
        description="Sent as `tool_choice`. llama-cpp-python drops the tools unless it is sent: use `auto`.",
    )
    model_parallel_tool_calls: bool | None = Field(
        default=None, description="Sent as `parallel_tool_calls` (some local servers reject it: leave unset)."
    )
    model_stream: bool = Field(
        default=True,
        description="Stream from the model (so a turn that stops also stops the generation). `false` for "
        "servers that cannot stream tool calls, such as llama-cpp-python with `tool_choice`.",
    )
    model_context_tokens: int = Field(
        default=16_384,
        ge=1024,
        le=2_000_000,
        description="The model's context window in tokens. What is sent (instructions, tool schemas, "
        "history, the message) is kept within it minus MODEL_MAX_TOKENS, by an estimate, oldest first.",
    )
    agent_max_turns: int = Field(default=8, ge=1, le=50, description="Model calls allowed in one chat turn.")
    turn_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    task_server_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    history_limit: int = Field(default=20, ge=1, le=200, description="Past messages given to the model.")
    message_max_chars: int = Field(default=4000, ge=1, le=32_000)
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rate_limit_per_minute: int = Field(
        default=30, ge=0, description="Chat turns per user per minute; 0 = off."
    )
    rate_limit_storage_url: str | None = Field(
        default=None, repr=False, description="redis://host:6379/0 to share the limit across replicas."
    )

    web_auth_url: str | None = Field(
        default=None,
        description="The Better Auth base URL (e.g. https://app.example.com) that the web page at / signs "
        "users in with, by email and password (its bearer and jwt plugins), when AUTH_JWKS_URL is set. "
        "Unset: the page asks for a pasted token. Better Auth must trust the gateway's origin "
        "(trustedOrigins) and, on another origin, allow it by CORS and expose `set-auth-token`. Ignored in "
        "local development mode, where the page signs in as the demo user.",
    )

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("web_auth_url")
    @classmethod
    def _web_auth_origin(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL such as https://app.example.com, without a query")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _reply_fits_context(self) -> GatewaySettings:
        if self.model_max_tokens * 2 > self.model_context_tokens:
            raise ValueError(
                f"MODEL_MAX_TOKENS ({self.model_max_tokens}) must be at most half of MODEL_CONTEXT_TOKENS "
                f"({self.model_context_tokens}): the rest holds the instructions, tools and history."
            )
        return self

    @property
    def model_name(self) -> str:
        if self.agent_model:
            return self.agent_model
        return DEFAULT_OPENAI_MODEL if (self.openai_api_key or self.openai_base_url) else BUILTIN_MODEL

    @property
    def bind_host(self) -> str:
        return self.gateway_host

    @property
    def public_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}"
