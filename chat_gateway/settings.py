"""Configuration of the chat gateway, read once at start-up and validated then."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
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

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return split_csv(value)

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
