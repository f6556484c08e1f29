"""Fixtures for gateway tests: a JWKS, the task server and a scripted LLM, started once per session, and
gateways started as real processes, configured only through the contract's environment variables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx2
import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.processes import Service, free_port, run_service
from tests.support.tokens import ED, ISSUER, KEYS, JwksServer, sign

TASK_AUDIENCE = "urn:todo-chat:mcp-task-server"
GATEWAY_AUDIENCE = "urn:todo-chat:chat-gateway"

StartGateway = Callable[..., AbstractContextManager[Service]]


def user_token(user_id: str, **claims: Any) -> str:
    """What Better Auth would issue with `jwt.audience` naming both services."""
    return sign(ED, sub=user_id, **{"aud": [GATEWAY_AUDIENCE, TASK_AUDIENCE], **claims})


def auth(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user_token(user_id)}"}


@pytest.fixture(scope="session")
def stack_jwks() -> Iterator[JwksServer]:
    server = JwksServer({"keys": [key.jwk() for key in KEYS.values()]})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    llm = FakeLLM().start()
    yield llm
    llm.stop()


def task_server_env(database_url: str, jwks: JwksServer, port: int, **overrides: str) -> dict[str, str]:
    """A task server configured as a deployment would be: the test's JWKS, its own audience."""
    return {
        "DATABASE_URL": database_url,
        "AUTH_JWKS_URL": jwks.url,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": TASK_AUDIENCE,
        "TASK_SERVER_PORT": str(port),
        "LOG_LEVEL": "INFO",
        **overrides,
    }


def gateway_env(
    jwks: JwksServer, task_server: Service, llm: FakeLLM, port: int, **overrides: str
) -> dict[str, str]:
    """A gateway configured as a deployment would be: the test's JWKS and task server, the scripted LLM."""
    return {
        "AUTH_JWKS_URL": jwks.url,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": GATEWAY_AUDIENCE,
        "MCP_TASK_SERVER_URL": f"{task_server.base_url}/mcp",
        "OPENAI_BASE_URL": llm.base_url,
        "AGENT_MODEL": "scripted",
        "GATEWAY_PORT": str(port),
        "RATE_LIMIT_PER_MINUTE": "10000",
        "LOG_LEVEL": "INFO",
        **overrides,
    }


@pytest.fixture(scope="session")
def task_server(
    database_url: str, stack_jwks: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    port = free_port()
    env = task_server_env(database_url, stack_jwks, port)
    with run_service(
        "mcp_task_server", env, port, tmp_path_factory.mktemp("logs") / "task_server.log"
    ) as service:
        yield service


@pytest.fixture(scope="session")
def start_gateway(
    task_server: Service, stack_jwks: JwksServer, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> StartGateway:
    """`with start_gateway(RATE_LIMIT_PER_MINUTE="2") as gw:` — a gateway process; keyword arguments
    override its environment. By default it uses the scripted LLM over the OpenAI-compatible API."""
    logs = tmp_path_factory.mktemp("gateway-logs")

    def start(**overrides: str) -> AbstractContextManager[Service]:
        port = free_port()
        env = gateway_env(stack_jwks, task_server, fake_llm, port, **overrides)
        return run_service("chat_gateway", env, port, logs / f"gateway-{port}.log")

    return start


@pytest.fixture(scope="session")
def gateway(start_gateway: StartGateway) -> Iterator[Service]:
    with start_gateway() as service:
        yield service


@pytest.fixture(scope="session")
def second_gateway(start_gateway: StartGateway) -> Iterator[Service]:
    with start_gateway() as service:
        yield service


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=120) as client:
        yield client
