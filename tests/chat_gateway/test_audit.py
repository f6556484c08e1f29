"""Audit events as an operator's log pipeline gets them (`LOG_FORMAT=json`), from both services as real
processes: authentication and authorisation failures, rate limits, confirmed bulk changes and undos, each
with its request id and user, never the token. And the task server's Prometheus metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx2
import pytest

from chat_gateway.errors import Unauthenticated
from chat_gateway.task_server import TaskServerClient
from tests.support.fake_llm import FakeLLM
from tests.support.gateway_fixtures import auth, gateway_env, task_server_env, user_token
from tests.support.processes import Service, free_port, run_service
from tests.support.tokens import ED, KEYS, JwksServer, sign


@pytest.fixture(scope="module")
def audited(
    database_url: str, stack_jwks: JwksServer, fake_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, Service]]:
    logs = tmp_path_factory.mktemp("audit")
    json_logs = {"LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}  # Audit events pass any level.
    with ExitStack() as stack:
        port = free_port()
        task_server = stack.enter_context(
            run_service(
                "mcp_task_server",
                task_server_env(database_url, stack_jwks, port, **json_logs),
                port,
                logs / "ts.log",
            )
        )
        gw_port = free_port()
        env = gateway_env(stack_jwks, task_server, fake_llm, gw_port, RATE_LIMIT_PER_MINUTE="1", **json_logs)
        gateway = stack.enter_context(run_service("chat_gateway", env, gw_port, logs / "gw.log"))
        yield task_server, gateway


def _records(service: Service) -> list[dict[str, Any]]:
    lines = [line for line in service.log().splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def _audits(service: Service, event: str) -> list[dict[str, Any]]:
    return [r for r in _records(service) if r.get("event") == event]


def test_the_gateway_audits_401_403_and_429(audited: tuple[Service, Service]) -> None:
    _, gateway = audited
    user = "audit-gw"
    forged = sign(KEYS["ES256"], sub=user, iss="https://evil.example")  # A key the JWKS does not hold.
    expired = user_token(user, exp=1)
    with httpx2.Client(timeout=30) as http:
        url = f"{gateway.base_url}/api/{user}/conversations"
        assert http.get(url).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {expired}"}).status_code == 401
        assert (
            http.get(f"{gateway.base_url}/api/someone-else/conversations", headers=auth(user)).status_code
            == 403
        )
        chat = f"{gateway.base_url}/api/{user}/chat"
        assert http.post(chat, headers=auth(user), json={"message": "one"}).status_code == 200
        limited = http.post(chat, headers=auth(user), json={"message": "two"})
        assert limited.status_code == 429
        request_id = limited.headers["x-request-id"]
    failures = _audits(gateway, "authentication_failed")
    assert {f["reason"] for f in failures} >= {"no_bearer_token", "expired"}
    assert len(failures) == 3
    [unknown_key] = [f for f in failures if f.get("issuer") == "https://evil.example"]
    assert unknown_key["kid"] == KEYS["ES256"].kid
    [forbidden] = _audits(gateway, "authorization_failed")
    assert forbidden["user_id"] == user
    assert forbidden["reason"] == "path_user_mismatch"
    [rate] = _audits(gateway, "rate_limited")
    assert rate["user_id"] == user
    assert rate["request_id"] == request_id
    assert all(
        r["service"] == "chat_gateway" and r["level"] == "INFO" for r in _records(gateway) if "event" in r
    )
    log = gateway.log()
    for token in (forged, expired):
        assert token.rsplit(".", 1)[-1] not in log


async def test_the_task_server_audits_401_bulk_confirmations_and_undos(
    audited: tuple[Service, Service],
) -> None:
    task_server, _ = audited
    user = "audit-ts"
    token = user_token(user)
    client = TaskServerClient(f"{task_server.base_url}/mcp")
    try:
        bad = sign(ED, sub=user, aud="urn:someone-else")
        with pytest.raises(Unauthenticated):
            await client.call_tool(bad, "list_tasks", {})
        for title in ("a", "b", "c"):
            await client.call_tool(token, "add_task", {"title": title})
        preview = (await client.call_tool(token, "delete_tasks", {"status": "all"})).structured_content or {}
        done = await client.call_tool(
            token, "delete_tasks", {"confirmation_token": preview["confirmation_token"]}
        )
        assert not done.is_error
        undone = await client.call_tool(token, "undo", {})
        assert not undone.is_error
        await client.call_tool(token, "no_such_tool", {})
    finally:
        await client.aclose()
    [failed] = [
        r for r in _audits(task_server, "authentication_failed") if r.get("reason") == "wrong_audience"
    ]
    assert failed["kid"] == ED.kid
    assert bad.rsplit(".", 1)[-1] not in task_server.log()
    [bulk] = _audits(task_server, "bulk_confirmed")
    assert (bulk["user_id"], bulk["action"], bulk["count"]) == (user, "delete", 3)
    [undo] = _audits(task_server, "undo")
    assert (undo["user_id"], undo["reverted"]) == (user, 3)
    assert bulk["request_id"] != "-"
    with httpx2.Client(timeout=10) as http:
        metrics = http.get(f"{task_server.base_url}/metrics").text
    assert re.search(r'task_server_tool_calls_total\{outcome="ok",tool="add_task"\} 3\.0', metrics)
    assert re.search(r'task_server_tool_calls_total\{outcome="not_found",tool="unknown"\} 1\.0', metrics)
    assert 'task_server_tool_seconds_bucket{le="0.1",tool="add_task"}' in metrics
    assert 'task_server_db_pool_connections{state="size"}' in metrics
