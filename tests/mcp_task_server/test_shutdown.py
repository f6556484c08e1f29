"""SIGTERM to the task server in the middle of 20 streamed chat turns loses no reply: it stops being
ready at once, serves in-flight and new requests through the drain, then exits."""

from __future__ import annotations

import pytest

from tests.support.drain import DRAIN_SECONDS, TURNS, sigterm_during_turns, stored_turns, summary
from tests.support.gateway_fixtures import StartGateway, task_server_env
from tests.support.processes import free_port, run_service
from tests.support.tokens import JwksServer


@pytest.mark.timeout(90)
async def test_sigterm_during_streamed_turns_loses_no_reply(
    database_url: str,
    stack_jwks: JwksServer,
    start_gateway: StartGateway,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    port = free_port()
    env = task_server_env(database_url, stack_jwks, port, SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS))
    logs = tmp_path_factory.mktemp("draining-task-server")
    with (
        run_service("mcp_task_server", env, port, logs / "task_server.log") as task_server,
        start_gateway(MCP_TASK_SERVER_URL=f"{task_server.base_url}/mcp", AGENT_MODEL="builtin") as gateway,
    ):
        report = await sigterm_during_turns(gateway, task_server)
        print(summary(report))

    assert (report.ready_after_signal, report.ready_code) == (503, "draining")
    assert [names[-1] for names in report.events] == ["done"] * TURNS, report.events
    assert set(stored_turns(database_url, report.users).values()) == {(1, 1, 1)}
    # The drain, then the stop itself (the listener closes, nothing is left running).
    assert DRAIN_SECONDS <= report.stop_seconds < DRAIN_SECONDS + 5
    assert "SIGTERM: not ready from now on" in task_server.log()
