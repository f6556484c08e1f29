"""A real Better Auth server as the identity provider, and the task server and a gateway configured for it
exactly as docs/operations.md ("Identity") tells an operator to: only the contract's environment
variables, pointing at Better Auth's JWKS, issuer and the audiences it puts in every token.

The services' audiences are their public URLs (for the task server, the MCP resource URL it advertises
in its RFC 9728 metadata), so the ports are chosen before Better Auth starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest

from tests.support.better_auth import Audiences, BetterAuth, SignedIn, missing_reason, run_better_auth
from tests.support.fake_llm import FakeLLM
from tests.support.processes import Service, free_port, run_service


@dataclass(frozen=True)
class Ports:
    gateway: int
    task_server: int


@pytest.fixture(scope="session", autouse=True)
def _better_auth_installed() -> None:
    """Skip these tests where Node or better-auth is missing, but never in CI, where that is a broken
    install that would otherwise pass silently."""
    reason = missing_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in {"1", "true"}:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def ports() -> Ports:
    return Ports(gateway=free_port(), task_server=free_port())


@pytest.fixture(scope="session")
def audiences(ports: Ports) -> Audiences:
    return Audiences(
        gateway=f"http://127.0.0.1:{ports.gateway}",
        task_server=f"http://127.0.0.1:{ports.task_server}/mcp",
    )


@pytest.fixture(scope="session")
def better_auth(audiences: Audiences, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BetterAuth]:
    log = tmp_path_factory.mktemp("better-auth") / "better_auth.log"
    with run_better_auth(port=free_port(), audience=audiences.both(), log_path=log) as provider:
        yield provider


@pytest.fixture(scope="session")
def foreign_better_auth(
    better_auth: BetterAuth, audiences: Audiences, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BetterAuth]:
    """Another Better Auth claiming to be the same app (same URL, so the same `iss`, and the same
    audiences) but with its own keys: its tokens differ from the real ones only in their signature."""
    log = tmp_path_factory.mktemp("foreign-better-auth") / "better_auth.log"
    with run_better_auth(
        port=free_port(), audience=audiences.both(), log_path=log, url=better_auth.url
    ) as provider:
        yield provider


@pytest.fixture(scope="session")
def interop_task_server(
    database_url: str,
    better_auth: BetterAuth,
    ports: Ports,
    audiences: Audiences,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    env = {
        "DATABASE_URL": database_url,
        "AUTH_JWKS_URL": better_auth.jwks_url,
        "AUTH_ISSUER": better_auth.url,
        "AUTH_AUDIENCE": audiences.task_server,
        "TASK_SERVER_PORT": str(ports.task_server),
    }
    log = tmp_path_factory.mktemp("interop-logs") / "task_server.log"
    with run_service("mcp_task_server", env, ports.task_server, log) as service:
        yield service


@pytest.fixture(scope="session")
def interop_gateway(
    interop_task_server: Service,
    better_auth: BetterAuth,
    fake_llm: FakeLLM,
    ports: Ports,
    audiences: Audiences,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    env = {
        "AUTH_JWKS_URL": better_auth.jwks_url,
        "AUTH_ISSUER": better_auth.url,
        "AUTH_AUDIENCE": audiences.gateway,
        "MCP_TASK_SERVER_URL": f"{interop_task_server.base_url}/mcp",
        # The frontend runs where Better Auth does, so its origin is the one a browser sends.
        "CORS_ALLOW_ORIGINS": better_auth.url,
        "OPENAI_BASE_URL": fake_llm.base_url,
        "AGENT_MODEL": "scripted",
        "GATEWAY_PORT": str(ports.gateway),
    }
    log = tmp_path_factory.mktemp("interop-logs") / "gateway.log"
    with run_service("chat_gateway", env, ports.gateway, log) as service:
        yield service


@pytest.fixture
def amy(better_auth: BetterAuth, http: httpx2.Client) -> SignedIn:
    return better_auth.sign_in(http, "Amy")


@pytest.fixture
def ben(better_auth: BetterAuth, http: httpx2.Client) -> SignedIn:
    return better_auth.sign_in(http, "Ben")
