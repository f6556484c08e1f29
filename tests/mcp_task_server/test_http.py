"""The task server as a real process over streamable HTTP, with real signed JWTs.

The test serves a JWKS on loopback; the server is configured exactly as a deployment would be, with
only the contract's environment variables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import jwt
import psycopg
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from devtools.postgres import with_database
from tests.support.processes import Service, free_port, post_tool_call, run_service
from tests.support.tokens import (
    AUDIENCE,
    ED,
    ISSUER,
    KEYS,
    JwksServer,
    SigningKey,
    claims,
    forge,
    hs256,
    sign,
)

from .helpers import call_error, call_ok

# Trust auth ignores the password, so it can stand in for a real secret that must never be logged.
DB_PASSWORD = "pw-that-must-not-leak"


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    server = JwksServer({"keys": [key.jwk() for key in KEYS.values()]})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(
    database_url: str, jwks: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    port = free_port()
    url_with_password = database_url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
    assert DB_PASSWORD in url_with_password
    env = {
        "DATABASE_URL": url_with_password,
        "AUTH_JWKS_URL": jwks.url,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "TASK_SERVER_PORT": str(port),
        "DATA_DIR": str(tmp_path_factory.mktemp("server-data")),
        "LOG_LEVEL": "DEBUG",
    }
    with run_service(
        "mcp_task_server", env, port, tmp_path_factory.mktemp("logs") / "task_server.log"
    ) as service:
        yield service


def mcp_client(server: Service, token: str) -> Client[Any]:
    return Client(
        StreamableHttpTransport(f"{server.base_url}/mcp", headers={"Authorization": f"Bearer {token}"})
    )


def owners(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT user_id, title FROM tasks ORDER BY id").fetchall()]


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
async def test_each_supported_algorithm_acts_as_the_tokens_subject(
    server: Service, clean_db: str, alg: str
) -> None:
    async with mcp_client(server, sign(KEYS[alg], sub=f"user-{alg}")) as client:
        added = await call_ok(client, "add_task", title=f"signed with {alg}")
        listed = await call_ok(client, "list_tasks")
    assert [t["id"] for t in listed["tasks"]] == [added["task_id"]]
    assert owners(clean_db) == [(f"user-{alg}", f"signed with {alg}")]


async def test_audience_may_be_a_list(server: Service, clean_db: str) -> None:
    token = sign(ED, sub="listed", aud=["urn:todo-chat:chat-gateway", AUDIENCE])
    async with mcp_client(server, token) as client:
        await call_ok(client, "add_task", title="x")
    assert owners(clean_db) == [("listed", "x")]


async def test_two_users_over_http_cannot_reach_each_other(server: Service, clean_db: str) -> None:
    async with mcp_client(server, sign(ED, sub="ann")) as ann, mcp_client(server, sign(ED, sub="ben")) as ben:
        task_id = (await call_ok(ann, "add_task", title="ann's"))["task_id"]
        assert (await call_ok(ben, "list_tasks"))["tasks"] == []
        assert (await call_error(ben, "delete_task", task_id=task_id))[0] == "not_found"
        assert (await call_error(ben, "complete_task", task_id=task_id))[0] == "not_found"
    assert owners(clean_db) == [("ann", "ann's")]


async def test_concurrent_calls_from_many_users_stay_separate(server: Service, clean_db: str) -> None:
    users = [f"concurrent-{n}" for n in range(8)]

    async def work(user: str) -> list[str]:
        async with mcp_client(server, sign(ED, sub=user)) as client:
            await asyncio.gather(*(call_ok(client, "add_task", title=f"{user} #{i}") for i in range(10)))
            page = await call_ok(client, "list_tasks", limit=100)
        return sorted(task["title"] for task in page["tasks"])

    results = await asyncio.gather(*(work(user) for user in users))
    for user, titles in zip(users, results, strict=True):
        assert titles == sorted(f"{user} #{i}" for i in range(10))
    assert len(owners(clean_db)) == 80


REJECTED_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: sign(ED, exp_in=-120, iat_in=-1000),
    "wrong audience": lambda: sign(ED, aud="https://someone-else.example"),
    "wrong issuer": lambda: sign(ED, iss="https://evil.example"),
    "no subject": lambda: sign(ED, omit=["sub"]),
    "no expiry": lambda: sign(ED, omit=["exp"]),
    "unsigned (alg none)": lambda: forge({"alg": "none", "kid": ED.kid}, claims(), lambda _: b""),
    "HS256 keyed with the public key": lambda: forge(
        {"alg": "HS256", "kid": KEYS["RS256"].kid, "typ": "JWT"}, claims(), hs256(KEYS["RS256"].public_pem())
    ),
    "signed by an unknown key": lambda: jwt.encode(
        claims(),
        SigningKey.generate("EdDSA").private,
        algorithm="EdDSA",
        headers={"kid": "nope"},
    ),
    "garbage": lambda: "not.a.jwt",
}


@pytest.mark.parametrize("case", list(REJECTED_TOKENS))
def test_bad_tokens_get_401_with_a_resource_metadata_challenge(
    server: Service, clean_db: str, case: str
) -> None:
    token = REJECTED_TOKENS[case]()
    response = _post_tool_call(
        server, {"Authorization": f"Bearer {token}"}, "add_task", {"title": "intruder"}
    )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert f'resource_metadata="{server.base_url}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert owners(clean_db) == []
    assert token not in server.log()


def test_missing_token_gets_401(server: Service) -> None:
    response = _post_tool_call(server, {}, "list_tasks", {})
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


def test_protected_resource_metadata_names_the_issuer(server: Service) -> None:
    response = httpx2.get(f"{server.base_url}/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    body = response.json()
    assert body["resource"] == f"{server.base_url}/mcp"
    assert [url.rstrip("/") for url in body["authorization_servers"]] == [ISSUER]
    assert body["bearer_methods_supported"] == ["header"]


def test_health_and_readiness(server: Service) -> None:
    assert httpx2.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    assert httpx2.get(f"{server.base_url}/readyz").json() == {"status": "ready"}


def test_a_foreign_host_header_is_refused(server: Service) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not reach the tools."""
    response = _post_tool_call(
        server, {"Authorization": f"Bearer {sign(ED)}", "Host": "evil.example"}, "list_tasks", {}
    )
    assert response.status_code == 421


def test_plain_json_rpc_call_without_initialize(server: Service, clean_db: str) -> None:
    """The one-line curl in the README: stateless HTTP needs no session handshake."""
    response = _post_tool_call(
        server, {"Authorization": f"Bearer {sign(ED, sub='curl')}"}, "add_task", {"title": "t"}
    )
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["status"] == "created"
    assert owners(clean_db) == [("curl", "t")]


def test_logs_hold_no_secrets(server: Service) -> None:
    log = server.log()
    assert "Traceback" not in log
    assert DB_PASSWORD not in log
    assert "BEGIN PRIVATE KEY" not in log


def test_database_down_gives_503_readiness_and_a_clean_tool_error(
    admin_url: str, jwks: JwksServer, tmp_path: Path
) -> None:
    port = free_port()
    dead_db = with_database(f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{free_port()}/x", "nowhere")
    env = {
        "DATABASE_URL": dead_db,
        "MIGRATE_ON_START": "false",
        "AUTH_JWKS_URL": jwks.url,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "TASK_SERVER_PORT": str(port),
        "DATA_DIR": str(tmp_path),
    }
    with run_service("mcp_task_server", env, port, tmp_path / "log.txt") as service:
        ready = httpx2.get(f"{service.base_url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "unavailable"
        response = _post_tool_call(service, {"Authorization": f"Bearer {sign(ED)}"}, "list_tasks", {})
        result = response.json()["result"]
        assert result["isError"] is True
        assert result["_meta"]["todo-chat/error"]["code"] == "unavailable"
        assert DB_PASSWORD not in response.text
        assert "127.0.0.1" not in response.text
        log = service.log()
    assert DB_PASSWORD not in log
    assert "Traceback" not in log


def _post_tool_call(
    server: Service, headers: dict[str, str], tool: str, arguments: dict[str, Any]
) -> httpx2.Response:
    return post_tool_call(server.base_url, headers, tool, arguments)
