"""Settings both services share: auth, logging and the local data folder.

Each service subclasses `CommonSettings`. The environment variables are the contract documented in the
README's configuration table and in `.env.example` (tests/test_configuration_docs.py keeps all three in
step), so none of them carries a prefix. A variable set in the environment wins over `.env`.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def split_csv(value: object) -> object:
    """Accept `a,b` from the environment as well as a real list."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def is_loopback_host(host: str) -> bool:
    """True when binding to `host` keeps a service reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host (and, if any, a valid port)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Each service names the audience its local development tokens carry and the setting it binds to.
    LOCAL_AUDIENCE: ClassVar[str] = ""
    HOST_SETTING: ClassVar[str] = ""

    auth_jwks_url: str | None = Field(
        default=None,
        description="JWKS of the identity provider, e.g. https://app.example.com/api/auth/jwks. "
        "Unset: local development mode, where a key in DATA_DIR signs tokens for a demo user.",
    )
    auth_issuer: str | None = Field(
        default=None,
        description="Expected `iss`, compared exactly. Defaults to the origin of AUTH_JWKS_URL (scheme, host "
        "and port; any path dropped), as Better Auth's default `iss` is the origin of its baseURL.",
    )
    auth_audience: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Accepted `aud` values (comma list). Defaults to the issuer, as Better Auth does.",
    )
    log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per log line, audit events (authentication and authorisation "
        "failures, rate limits, bulk confirmations, undos) with their fields at the top level.",
    )
    log_sensitive: bool = Field(
        default=False,
        description="Only to debug a deployment: let tokens, chat text, task titles and SQL parameters into "
        "the log (libraries' DEBUG payloads, query strings, statement values). Never in production.",
    )
    shutdown_drain_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="After SIGTERM, how long /readyz answers 503 `draining` while requests are still "
        "served, so a load balancer can stop sending traffic; 0 stops at once.",
    )
    data_dir: Path = Field(
        default=Path(".data"),
        description="Local state for development: the local signing key and the embedded PostgreSQL.",
    )

    @field_validator("auth_audience", mode="before")
    @classmethod
    def _split_audience(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("auth_jwks_url")
    @classmethod
    def _check_jwks_url(cls, value: str | None) -> str | None:
        """Fails start-up when the value cannot be a URL at all. Whether it answers is not checked here:
        a provider that is down at start-up is an outage, which /readyz reports, not a configuration error."""
        if value is None or not value.strip():
            return None
        if not is_http_url(value.strip()):
            raise ValueError(
                "must be the http(s) URL of the identity provider's JWKS, "
                "e.g. https://app.example.com/api/auth/jwks (unset it for local development)"
            )
        return value.strip()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def bind_host(self) -> str:
        raise NotImplementedError

    @model_validator(mode="after")
    def _local_auth_stays_local(self) -> CommonSettings:
        if self.HOST_SETTING and self.local_auth and not is_loopback_host(self.bind_host):
            raise ValueError(
                "AUTH_JWKS_URL is unset, so the service would trust the local development key; refusing to "
                f"bind to a non-loopback {self.HOST_SETTING}. Configure an identity provider."
            )
        return self

    @property
    def accepted_audience(self) -> list[str]:
        """AUTH_AUDIENCE; else the local development audience; else the issuer (Better Auth's default)."""
        if self.auth_audience:
            return self.auth_audience
        if self.local_auth:
            return [self.LOCAL_AUDIENCE]
        return [self.resolved_issuer()]

    @property
    def local_auth(self) -> bool:
        """No identity provider configured: trust the local development key instead."""
        return not self.auth_jwks_url

    def resolved_issuer(self) -> str:
        """The issuer to require outside local development mode (README "Configuration", docs/operations.md
        "Identity"). Better Auth signs with `iss` = the origin of its baseURL (scheme, host and port: any
        path is dropped), which is the origin of the JWKS URL when that is the public one. Behind an
        internal JWKS address, or with `jwt.issuer` set in Better Auth, set AUTH_ISSUER."""
        if self.auth_issuer:
            return self.auth_issuer
        assert self.auth_jwks_url is not None
        parts = urlsplit(self.auth_jwks_url)
        return f"{parts.scheme}://{parts.netloc}"


SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def load_or_exit(settings_type: type[SettingsT], program: str) -> SettingsT:
    """Read the settings, or exit with status 2 naming each bad variable and the rule it breaks.
    Values are never echoed: a bad DATABASE_URL still carries a password."""
    try:
        return settings_type()
    except ValidationError as e:
        for error in e.errors(include_input=False, include_url=False):
            name = ".".join(str(part) for part in error["loc"]).upper() or "configuration"
            message = error["msg"].removeprefix("Value error, ")
            print(f"{program}: {name}: {message}", file=sys.stderr)
        raise SystemExit(2) from None
