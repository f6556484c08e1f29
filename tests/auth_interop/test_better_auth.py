"""Better Auth as the identity provider, end to end: a user signs up with the real Better Auth server,
trades the session for a JWT, and chats through the gateway process; the task server process acts as that
same user, whether the gateway forwards the token or an MCP client presents it directly.
"""

from __future__ import annotations

import inspect
import json
import time
from typing import Any

import httpx2
import jwt
import psycopg
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from shared.auth import JwksKeySource
from tests.support.better_auth import Audiences, BetterAuth, SignedIn
from tests.support.processes import Service

# How long each service waits after one JWKS fetch before it fetches again for an unknown `kid`.
JWKS_MIN_REFRESH_SECONDS = float(inspect.signature(JwksKeySource).parameters["min_refresh_interval"].default)


def add_task(title: str) -> str:
    """The scripted model's instruction to call `add_task`."""
    return f"call add_task {json.dumps({'title': title})}"


def chat(http: httpx2.Client, gateway: Service, who: SignedIn, message: str) -> httpx2.Response:
    return http.post(
        f"{gateway.base_url}/api/{who.user.id}/chat", headers=who.headers, json={"message": message}
    )


async def achat(
    http: httpx2.AsyncClient, gateway: Service, who: SignedIn, message: str, *, as_user: str | None = None
) -> httpx2.Response:
    return await http.post(
        f"{gateway.base_url}/api/{as_user or who.user.id}/chat",
        headers=who.headers,
        json={"message": message},
    )


def tool_result(response: httpx2.Response, name: str) -> Any:
    assert response.status_code == 200, response.text
    call = next(call for call in response.json()["tool_calls"] if call["name"] == name)
    return call["result"]


def task_rows(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT user_id, title FROM tasks ORDER BY id").fetchall()
    return [(row[0], row[1]) for row in rows]


async def titles_over_mcp(task_server: Service, token: str) -> list[str]:
    """`list_tasks` through a real MCP client (initialize, then call), as Claude Desktop or the Inspector."""
    transport = StreamableHttpTransport(
        f"{task_server.base_url}/mcp", headers={"Authorization": f"Bearer {token}"}
    )
    async with Client(transport) as client:
        result = await client.call_tool("list_tasks", {}, raise_on_error=False)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return [task["title"] for task in result.structured_content["tasks"]]


def list_tasks_over_http(http: httpx2.Client, task_server: Service, token: str) -> httpx2.Response:
    """One stateless JSON-RPC `tools/call`, the task server's plain-HTTP form of MCP."""
    return http.post(
        f"{task_server.base_url}/mcp",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "list_tasks", "arguments": {}},
        },
    )


def kids(jwks: dict[str, Any]) -> set[str]:
    return {key["kid"] for key in jwks["keys"]}


async def test_a_user_chats_and_the_task_server_acts_as_that_better_auth_user(
    amy: SignedIn, interop_gateway: Service, interop_task_server: Service, clean_db: str
) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await achat(http, interop_gateway, amy, add_task("Buy oat milk"))
    added = tool_result(response, "add_task")
    assert added["status"] == "created"
    assert added["title"] == "Buy oat milk"
    assert task_rows(clean_db) == [(amy.user.id, "Buy oat milk")]
    # The same token works against the task server directly, as any MCP client would present it.
    assert await titles_over_mcp(interop_task_server, amy.token) == ["Buy oat milk"]


async def test_two_better_auth_users_never_see_each_others_tasks(
    amy: SignedIn, ben: SignedIn, interop_gateway: Service, interop_task_server: Service, clean_db: str
) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        amys_task = tool_result(await achat(http, interop_gateway, amy, add_task("Amy's secret")), "add_task")
        tool_result(await achat(http, interop_gateway, ben, add_task("Ben's errand")), "add_task")

        listed = tool_result(await achat(http, interop_gateway, ben, "call list_tasks {}"), "list_tasks")
        assert [task["title"] for task in listed["tasks"]] == ["Ben's errand"]

        completing = await achat(
            http, interop_gateway, ben, f"call complete_task {json.dumps({'task_id': amys_task['task_id']})}"
        )
        [call] = completing.json()["tool_calls"]
        assert call["is_error"] is True
        assert "not found" in call["result"]

        # Ben's token on Amy's path: the path must name the token's own user.
        trespass = await achat(http, interop_gateway, ben, "call list_tasks {}", as_user=amy.user.id)
        assert trespass.status_code == 403
        assert trespass.json()["error"]["code"] == "forbidden"

    assert await titles_over_mcp(interop_task_server, amy.token) == ["Amy's secret"]
    assert await titles_over_mcp(interop_task_server, ben.token) == ["Ben's errand"]
    assert task_rows(clean_db) == [(amy.user.id, "Amy's secret"), (ben.user.id, "Ben's errand")]


def test_the_token_is_eddsa_names_its_key_and_carries_only_what_the_services_need(
    http: httpx2.Client, better_auth: BetterAuth, audiences: Audiences, amy: SignedIn
) -> None:
    header = jwt.get_unverified_header(amy.token)
    assert header["alg"] == "EdDSA"
    [published] = [key for key in better_auth.jwks(http)["keys"] if key["kid"] == header["kid"]]
    assert (published["kty"], published["crv"]) == ("OKP", "Ed25519")

    claims = jwt.decode(
        amy.token,
        jwt.PyJWK(published),
        algorithms=["EdDSA"],
        issuer=better_auth.url,
        audience=audiences.gateway,
    )
    # No name or email: a bearer token ends up in proxies and logs, so it carries no personal data.
    assert set(claims) == {"sub", "iat", "exp", "iss", "aud"}
    assert claims["sub"] == amy.user.id
    assert claims["iss"] == better_auth.url
    assert claims["aud"] == audiences.both()
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_the_task_servers_metadata_names_better_auth_and_an_audience_of_its_tokens(
    http: httpx2.Client, better_auth: BetterAuth, audiences: Audiences, interop_task_server: Service
) -> None:
    """An MCP client that reads the RFC 9728 metadata is sent to Better Auth, for a token whose `aud`
    holds the resource the metadata names."""
    response = http.get(f"{interop_task_server.base_url}/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    body = response.json()
    assert body["resource"] == audiences.task_server
    assert [server.rstrip("/") for server in body["authorization_servers"]] == [better_auth.url]


def test_a_rotated_signing_key_is_accepted_without_restarting_the_services(
    http: httpx2.Client,
    better_auth: BetterAuth,
    interop_gateway: Service,
    interop_task_server: Service,
    clean_db: str,
) -> None:
    user = better_auth.sign_in(http, "Rotating Rita")
    assert chat(http, interop_gateway, user, add_task("Before rotation")).status_code == 200
    # Both services have verified a token by now, so each has cached a JWKS that lacks the next key.
    keys_loaded_at = time.monotonic()

    better_auth.expire_signing_keys(http)
    rotated = SignedIn(user.user, better_auth.token(http, user.user))
    old_kid = jwt.get_unverified_header(user.token)["kid"]
    new_kid = jwt.get_unverified_header(rotated.token)["kid"]
    assert new_kid != old_kid
    # Better Auth keeps publishing the retired key for its grace period, beside the new one.
    assert {old_kid, new_kid} <= kids(better_auth.jwks(http))

    # A service fetches the JWKS for an unknown kid at most once per interval; a token arriving sooner
    # than that after the previous fetch would be refused, so the test lets the interval pass first.
    time.sleep(max(0.0, JWKS_MIN_REFRESH_SECONDS + 0.5 - (time.monotonic() - keys_loaded_at)))

    # The gateway checks the new token, then forwards it to the task server, which checks it again.
    assert tool_result(chat(http, interop_gateway, rotated, add_task("After rotation")), "add_task")
    direct = list_tasks_over_http(http, interop_task_server, rotated.token)
    assert direct.status_code == 200, direct.text
    titles = [task["title"] for task in direct.json()["result"]["structuredContent"]["tasks"]]
    assert sorted(titles) == ["After rotation", "Before rotation"]

    # The token signed by the retired key keeps working until it expires.
    assert chat(http, interop_gateway, user, "call list_tasks {}").status_code == 200
    assert list_tasks_over_http(http, interop_task_server, user.token).status_code == 200
    assert task_rows(clean_db) == [(user.user.id, "Before rotation"), (user.user.id, "After rotation")]


def test_a_token_from_another_better_auth_is_refused_by_both_services(
    http: httpx2.Client,
    better_auth: BetterAuth,
    foreign_better_auth: BetterAuth,
    audiences: Audiences,
    interop_gateway: Service,
    interop_task_server: Service,
    clean_db: str,
) -> None:
    intruder = foreign_better_auth.sign_in(http, "Mallory")
    claims = jwt.decode(intruder.token, options={"verify_signature": False})
    # Everything but the key matches a real token, so only the signature check can stop it.
    assert (claims["iss"], claims["aud"]) == (better_auth.url, audiences.both())
    assert jwt.get_unverified_header(intruder.token)["kid"] not in kids(better_auth.jwks(http))

    response = chat(http, interop_gateway, intruder, add_task("Intruder's task"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"

    direct = list_tasks_over_http(http, interop_task_server, intruder.token)
    assert direct.status_code == 401
    assert direct.headers["www-authenticate"].startswith("Bearer")
    assert task_rows(clean_db) == []


def test_the_frontends_origin_may_call_the_gateway_from_a_browser(
    http: httpx2.Client, better_auth: BetterAuth, amy: SignedIn, interop_gateway: Service, clean_db: str
) -> None:
    url = f"{interop_gateway.base_url}/api/{amy.user.id}/chat"
    preflight_headers = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    preflight = http.options(url, headers={"Origin": better_auth.url, **preflight_headers})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == better_auth.url
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

    response = http.post(
        url, headers={"Origin": better_auth.url, **amy.headers}, json={"message": add_task("From the app")}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == better_auth.url

    elsewhere = http.options(url, headers={"Origin": "https://elsewhere.example", **preflight_headers})
    assert elsewhere.status_code == 400
    assert "access-control-allow-origin" not in elsewhere.headers
