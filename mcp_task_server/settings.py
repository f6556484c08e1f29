"""Configuration of the task server, read once at start-up and validated then."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from shared.local_auth import DEMO_USER_ID, TASK_SERVER_AUDIENCE
from shared.settings import CommonSettings, split_csv

from .db import normalize_database_url


class TaskServerSettings(CommonSettings):
    LOCAL_AUDIENCE = TASK_SERVER_AUDIENCE
    HOST_SETTING = "TASK_SERVER_HOST"

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
    trash_retention_days: float = Field(
        default=30, gt=0, le=3650, description="Deleted tasks stay restorable this long, then are purged."
    )
    activity_retention_days: float = Field(
        default=90, gt=0, le=3650, description="How long the activity log (and undo) reaches back."
    )
    purge_interval_seconds: float = Field(
        default=3600,
        gt=0,
        le=86400,
        description="How often each replica tries the purge (one runs at a time).",
    )
    database_direct_url: str | None = Field(
        default=None,
        description="A direct (unpooled) URL to the same database, for migrations when DATABASE_URL goes "
        "through a transaction-mode pooler (Neon's pooled endpoint, PgBouncer). Unset: DATABASE_URL.",
    )
    database_pooled: bool | None = Field(
        default=None,
        description="DATABASE_URL goes through a transaction-mode pooler: no startup options, no "
        "server-side prepared statements, the statement timeout kept as the role's default. Unset: true "
        "when the host name contains '-pooler' (Neon's pooled endpoints).",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)

    @field_validator("task_server_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("database_url", "database_direct_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None:
            normalize_database_url(value)  # Raises a ValueError that names the problem, not the URL.
        return value

    @property
    def bind_host(self) -> str:
        return self.task_server_host

    @property
    def public_url(self) -> str:
        if self.task_server_public_url:
            return self.task_server_public_url.rstrip("/")
        host = self.task_server_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.task_server_port}"

    def sqlalchemy_url(self) -> str:
        if not self.database_url:
            raise ValueError("DATABASE_URL is not set")
        return normalize_database_url(self.database_url)

    def migration_url(self) -> str:
        """Where migrations run: the direct URL when there is one. Alembic's advisory lock is held by a
        session, which a transaction-mode pooler does not keep from one statement to the next."""
        if self.database_direct_url:
            return normalize_database_url(self.database_direct_url)
        return self.sqlalchemy_url()

    @property
    def pooled(self) -> bool:
        if self.database_pooled is not None:
            return self.database_pooled
        host = urlsplit(self.database_url or "").hostname or ""
        return "-pooler" in host
