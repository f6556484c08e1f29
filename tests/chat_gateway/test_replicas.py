"""Scaling without Docker: two task servers and two gateways as processes on loopback against one
PostgreSQL, requests alternating between them, conversations continuing across every replica."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import httpx2
import psycopg
import pytest

from tests.support.gateway_fixtures import StartGateway, auth, task_server_env
from tests.support.processes import Service, free_port, run_service
from tests.support.tokens import JwksServer


@pytest.fixture
def second_task_server(
    database_url: str, stack_jwks: JwksServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    port = free_port()
    env = task_server_env(database_url, stack_jwks, port)
    with run_service(
        "mcp_task_server", env, port, tmp_path_factory.mktemp("replica") / "task_server.log"
    ) as s:
        yield s


def test_turns_alternate_over_two_gateways_and_two_task_servers(
    start_gateway: StartGateway, task_server: Service, second_task_server: Service, clean_db: str
) -> None:
    with ExitStack() as stack:
        gateways = [
            stack.enter_context(start_gateway(MCP_TASK_SERVER_URL=f"{server.base_url}/mcp"))
            for server in (task_server, second_task_server)
        ]
        conversation_id = None
        titles = [f"replica task {n}" for n in range(6)]
        with httpx2.Client(timeout=30) as http:
            for n, title in enumerate(titles):
                gateway = gateways[n % 2]
                body: dict[str, object] = {"message": f'call add_task {{"title": "{title}"}}'}
                if conversation_id is not None:
                    body["conversation_id"] = conversation_id
                response = http.post(f"{gateway.base_url}/api/scaled/chat", headers=auth("scaled"), json=body)
                assert response.status_code == 200, response.text
                conversation_id = response.json()["conversation_id"]
            pages = [
                http.get(
                    f"{gateway.base_url}/api/scaled/conversations/{conversation_id}/messages",
                    headers=auth("scaled"),
                ).json()
                for gateway in gateways
            ]
    assert pages[0] == pages[1]
    assert [m["role"] for m in pages[0]["messages"]] == ["user", "assistant"] * 6
    with psycopg.connect(clean_db) as conn:
        rows = conn.execute("SELECT title FROM tasks WHERE user_id = 'scaled' ORDER BY id").fetchall()
    assert [row[0] for row in rows] == titles
    # Both task servers did real work: each logged tool calls for the turns routed to it.
    for server in (task_server, second_task_server):
        assert "POST /mcp" in server.log()
