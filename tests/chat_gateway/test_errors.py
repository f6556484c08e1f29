"""Every way a chat request can fail answers quickly with one error shape. A request refused before its
turn starts stores nothing; a turn that fails once started stores a note saying so, never a half-written
reply, and the error names its conversation (the misbehaving-model cases are in test_model_failures)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import psycopg
import pytest

from chat_gateway.failed_turns import FAILURE_MARK
from tests.support.gateway_fixtures import StartGateway, auth, user_token
from tests.support.processes import Service, free_port
from tests.support.tokens import ED, sign


def assert_error(
    response: httpx2.Response, status: int, code: str, *, stored: bool = False
) -> dict[str, Any]:
    """`stored`: the turn had started, so the body also names its conversation."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ({"error", "conversation_id"} if stored else {"error"})
    if stored:
        assert isinstance(body["conversation_id"], int)
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


def messages_of(database_url: str, user: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT role, content FROM messages WHERE user_id = %s ORDER BY id", (user,)
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "wrong scheme"),
        ({"Authorization": "Bearer not.a.jwt"}, "garbage"),
        ({"Authorization": f"Bearer {user_token('ann', exp_in=-300, iat_in=-1000)}"}, "expired"),
        (
            {"Authorization": f"Bearer {sign(ED, sub='ann', aud='urn:todo-chat:mcp-task-server')}"},
            "task-only aud",
        ),
        ({"Authorization": f"Bearer {user_token('ann', iss='https://evil.example')}"}, "wrong issuer"),
    ],
)
def test_bad_credentials_are_401(
    http: httpx2.Client, gateway: Service, headers: dict[str, str], reason: str, clean_db: str
) -> None:
    response = http.post(f"{gateway.base_url}/api/ann/chat", headers=headers, json={"message": "hi"})
    assert_error(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert messages_of(clean_db, "ann") == []


def test_another_users_path_is_403(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    for path in ("/api/victim/chat", "/api/victim/conversations"):
        method = http.post if path.endswith("chat") else http.get
        kwargs: dict[str, Any] = {"json": {"message": "hi"}} if path.endswith("chat") else {}
        assert_error(method(f"{gateway.base_url}{path}", headers=auth("mallory"), **kwargs), 403, "forbidden")
    assert messages_of(clean_db, "victim") == []
    assert messages_of(clean_db, "mallory") == []


@pytest.mark.parametrize(
    "body",
    [
        {"message": ""},
        {"message": "   "},
        {"message": "x" * 4001},
        {},
        {"message": "hi", "conversation_id": 0},
        {"message": "hi", "conversation_id": "abc"},
        {"message": "hi", "user_id": "someone-else"},
        {"message": 42},
    ],
)
def test_invalid_bodies_are_422(
    http: httpx2.Client, gateway: Service, body: dict[str, Any], clean_db: str
) -> None:
    response = http.post(f"{gateway.base_url}/api/val/chat", headers=auth("val"), json=body)
    error = assert_error(response, 422, "invalid_request")
    assert "x" * 100 not in error["message"]
    assert messages_of(clean_db, "val") == []


def test_malformed_json_is_422(http: httpx2.Client, gateway: Service) -> None:
    response = http.post(
        f"{gateway.base_url}/api/val/chat",
        headers={**auth("val"), "Content-Type": "application/json"},
        content=b'{"message": ',
    )
    assert_error(response, 422, "invalid_request")


def test_oversized_body_is_413(http: httpx2.Client, gateway: Service) -> None:
    response = http.post(
        f"{gateway.base_url}/api/big/chat", headers=auth("big"), json={"message": "x" * 300_000}
    )
    assert_error(response, 413, "payload_too_large")


def test_someone_elses_conversation_is_404(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    started = http.post(f"{gateway.base_url}/api/own/chat", headers=auth("own"), json={"message": "mine"})
    assert started.status_code == 200, started.text
    conversation_id = started.json()["conversation_id"]
    response = http.post(
        f"{gateway.base_url}/api/thief/chat",
        headers=auth("thief"),
        json={"message": "let me in", "conversation_id": conversation_id},
    )
    assert_error(response, 404, "not_found")
    response = http.get(
        f"{gateway.base_url}/api/thief/conversations/{conversation_id}/messages", headers=auth("thief")
    )
    assert_error(response, 404, "not_found")
    assert messages_of(clean_db, "thief") == []


def test_unknown_route_uses_the_error_shape(http: httpx2.Client, gateway: Service) -> None:
    assert_error(http.get(f"{gateway.base_url}/nope"), 404, "not_found")
    assert_error(http.get(f"{gateway.base_url}/api/x/chat", headers=auth("x")), 405, "method_not_allowed")


def assert_failure_noted(database_url: str, user: str, message: str, code: str) -> None:
    stored = messages_of(database_url, user)
    assert [role for role, _ in stored] == ["user", "assistant"]
    assert stored[0][1] == message
    assert stored[1][1].startswith(f"{FAILURE_MARK} ({code})")


def test_an_agent_loop_is_stopped_and_noted(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    response = http.post(
        f"{gateway.base_url}/api/looper/chat", headers=auth("looper"), json={"message": "loop"}
    )
    assert_error(response, 422, "turn_limit_exceeded", stored=True)
    assert_failure_noted(clean_db, "looper", "loop", "turn_limit_exceeded")


def test_a_failing_model_is_503_and_noted(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    response = http.post(f"{gateway.base_url}/api/mod/chat", headers=auth("mod"), json={"message": "fail"})
    assert_error(response, 503, "model_unavailable", stored=True)
    assert_failure_noted(clean_db, "mod", "fail", "model_unavailable")


def test_a_slow_turn_is_cut_off_with_504(
    start_gateway: StartGateway, http: httpx2.Client, clean_db: str
) -> None:
    with start_gateway(TURN_TIMEOUT_SECONDS="1") as gateway:
        started = time.monotonic()
        response = http.post(
            f"{gateway.base_url}/api/slow/chat", headers=auth("slow"), json={"message": "slow 5"}
        )
        elapsed = time.monotonic() - started
    assert_error(response, 504, "timeout", stored=True)
    assert elapsed < 4
    assert_failure_noted(clean_db, "slow", "slow 5", "timeout")


def test_task_server_down_is_a_quick_503(start_gateway: StartGateway, http: httpx2.Client) -> None:
    dead = f"http://127.0.0.1:{free_port()}/mcp"
    with start_gateway(MCP_TASK_SERVER_URL=dead) as gateway:
        started = time.monotonic()
        response = http.post(f"{gateway.base_url}/api/d/chat", headers=auth("d"), json={"message": "hi"})
        elapsed = time.monotonic() - started
        assert_error(http.get(f"{gateway.base_url}/readyz"), 503, "unavailable")
    assert_error(response, 503, "unavailable")
    assert elapsed < 2


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A port that accepts connections and never answers: a hung task server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"


def test_task_server_hanging_is_a_504(
    start_gateway: StartGateway, http: httpx2.Client, black_hole: str
) -> None:
    with start_gateway(MCP_TASK_SERVER_URL=black_hole, TASK_SERVER_TIMEOUT_SECONDS="1") as gateway:
        started = time.monotonic()
        response = http.post(f"{gateway.base_url}/api/h/chat", headers=auth("h"), json={"message": "hi"})
        elapsed = time.monotonic() - started
    assert_error(response, 504, "timeout")
    assert elapsed < 3


def _away_from_a_window_edge() -> None:
    """The limit counts per calendar minute; a burst straddling a minute boundary would be counted in two
    windows, so start bursts well inside one."""
    into_minute = time.time() % 60
    if into_minute > 55:
        time.sleep(60.5 - into_minute)


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


# Redis runs on every machine of this project and in CI, where a missing Redis must fail the run; on a
# developer's laptop without one the shared-limit test is skipped and says why.
requires_redis = pytest.mark.skipif(
    not redis_available() and os.environ.get("CI") != "true",
    reason="no Redis at 127.0.0.1:6379: start one (redis-server) to run this test; CI always runs it",
)


def test_rate_limit_is_per_user_with_retry_after(start_gateway: StartGateway, http: httpx2.Client) -> None:
    with start_gateway(RATE_LIMIT_PER_MINUTE="2") as gateway:
        _away_from_a_window_edge()
        url = f"{gateway.base_url}/api/%s/chat"
        for _ in range(2):
            assert http.post(url % "busy", headers=auth("busy"), json={"message": "hi"}).status_code == 200
        limited = http.post(url % "busy", headers=auth("busy"), json={"message": "hi"})
        other = http.post(url % "calm", headers=auth("calm"), json={"message": "hi"})
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert other.status_code == 200


def test_rate_limit_is_shared_across_replicas_through_redis(
    start_gateway: StartGateway, http: httpx2.Client
) -> None:
    user = f"shared-{time.time_ns()}"
    settings = {"RATE_LIMIT_PER_MINUTE": "3", "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/0"}
    with start_gateway(**settings) as one, start_gateway(**settings) as two:
        statuses = [
            http.post(
                f"{gw.base_url}/api/{user}/chat", headers=auth(user), json={"message": "hi"}
            ).status_code
            for gw in (one, two, one, two)
        ]
    assert statuses == [200, 200, 200, 429]
