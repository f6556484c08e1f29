"""Configuration of the task server, read once at start-up and validated then."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.local_auth import DEMO_USER_ID, TASK_SERVER_AUDIENCE
from shared.settings import CommonSettings, is_loopback_host, split_csv

from .db import normalize_database_url


class TaskServerSettings(CommonSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL in the plain form providers hand out, "
        "e.g. postgresql://user:pass@host/db?sslmode=require.",
    )
    task_server_host: str = "127.0.0.1"
    task_server_port: int = Field(default=8001, ge=1, le=65535)
    task_server_public_url: str | None = Field(
        default=None,
        description="Public base URL of this server, advertised in the RFC 9728 metadata. "
        "Defaults to http://TASK_SERVER_HOST:TASK_SERVER_PORT.",
    )
    task_server_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra Host header values accepted when not bound to loopback (comma list).",
    )
    migrate_on_start: bool = True
    mcp_stdio_user_id: str = Field(
        default=DEMO_USER_ID,
        min_length=1,
        max_length=255,
        description="In stdio mode there is no token: every call acts as this user.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)

    @field_validator("task_server_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None:
            normalize_database_url(value)  # Raises a ValueError that names the problem, not the URL.
        return value

    @model_validator(mode="after")
    def _local_auth_stays_local(self) -> TaskServerSettings:
        if self.local_auth and not is_loopback_host(self.task_server_host):
            raise ValueError(
                "AUTH_JWKS_URL is unset, so the server would trust the local development key; "
                "refusing to bind to a non-loopback TASK_SERVER_HOST. Configure an identity provider."
            )
        return self

    @property
    def public_url(self) -> str:
        if self.task_server_public_url:
            return self.task_server_public_url.rstrip("/")
        host = self.task_server_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.task_server_port}"

    @property
    def accepted_audience(self) -> list[str]:
        if self.auth_audience:
            return self.auth_audience
        if self.local_auth:
            return [TASK_SERVER_AUDIENCE]
        return [self.resolved_issuer()]

    def sqlalchemy_url(self) -> str:
        if not self.database_url:
            raise ValueError("DATABASE_URL is not set")
        return normalize_database_url(self.database_url)
