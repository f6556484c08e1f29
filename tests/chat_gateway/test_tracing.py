"""One chat turn, one trace, across two real processes: the gateway's request, the agent's turn, each MCP
request with its `traceparent`, the task server's request and tool, and each SQL statement."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx2
import pytest

from shared.tracing import wanted
from tests.support.fake_llm import FakeLLM
from tests.support.gateway_fixtures import auth, gateway_env, task_server_env
from tests.support.otel_collector import Collector, Span
from tests.support.processes import free_port, run_service
from tests.support.tokens import JwksServer

SERVER_KIND, CLIENT_KIND = 2, 3


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector().start()
    yield running
    running.stop()


def test_tracing_is_off_unless_the_environment_asks() -> None:
    assert not wanted({})
    assert not wanted({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})
    assert not wanted({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"})
    assert wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert wanted({"OTEL_TRACES_EXPORTER": "console"})


def _children(spans: list[Span], parent: Span) -> list[Span]:
    return [s for s in spans if s.parent_id == parent.span_id]


def test_a_chat_turn_is_one_trace_across_both_services(
    database_url: str,
    stack_jwks: JwksServer,
    fake_llm: FakeLLM,
    collector: Collector,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    logs = tmp_path_factory.mktemp("traced")
    with ExitStack() as stack:
        port = free_port()
        task_server = stack.enter_context(
            run_service(
                "mcp_task_server",
                task_server_env(database_url, stack_jwks, port, **otel),
                port,
                logs / "ts.log",
            )
        )
        gw_port = free_port()
        gateway = stack.enter_context(
            run_service(
                "chat_gateway",
                gateway_env(stack_jwks, task_server, fake_llm, gw_port, **otel),
                gw_port,
                logs / "gw.log",
            )
        )
        with httpx2.Client(timeout=30) as http:
            response = http.post(
                f"{gateway.base_url}/api/traced/chat",
                headers=auth("traced"),
                json={"message": 'call add_task {"title": "Traced"}'},
            )
            assert response.status_code == 200, response.text
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            spans = collector.snapshot()
            tools = [s for s in spans if s.service == "mcp_task_server" and "add_task" in s.name]
            if tools and any(s.name == "chat turn" for s in spans):
                break
            time.sleep(0.1)
    spans = collector.snapshot()
    [turn] = [s for s in spans if s.name == "chat turn"]
    trace = [s for s in spans if s.trace_id == turn.trace_id]
    services = {s.service for s in trace}
    assert services == {"chat_gateway", "mcp_task_server"}, sorted((s.service, s.name) for s in spans)
    # The gateway's HTTP request span is the root; the turn is inside it.
    [root] = [s for s in trace if not s.parent_id]
    assert root.service == "chat_gateway"
    assert root.kind == SERVER_KIND
    by_id = {s.span_id: s for s in trace}

    def ancestors(span: Span) -> list[str]:
        names = []
        while span.parent_id in by_id:
            span = by_id[span.parent_id]
            names.append(span.name)
        return names

    # Each MCP request from the gateway is a CLIENT span; the one for add_task is under the turn.
    [call] = [s for s in trace if s.name == "mcp tools/call add_task"]
    assert call.kind == CLIENT_KIND
    assert "chat turn" in ancestors(call)
    # The task server continued the trace: its request and its tool span descend from the CLIENT span.
    served = [s for s in trace if s.service == "mcp_task_server" and call.name in ancestors(s)]
    assert any(s.kind == SERVER_KIND for s in served)
    [tool] = [s for s in served if s.name == "tools/call add_task"]
    # And each SQL statement the tool ran is a span under the tool's (the statement, never its values).
    sql = [s for s in served if tool.name in ancestors(s) and "db.statement" in s.attributes]
    assert sql, sorted((s.name, tuple(s.attributes)) for s in served)
    assert any("INSERT INTO tasks" in str(s.attributes["db.statement"]) for s in sql)
    assert not any("Traced" in str(value) for s in sql for value in s.attributes.values())
    # The turn's bookkeeping calls are traced too.
    names = {s.name for s in trace}
    assert {"mcp tools/call start_turn", "mcp tools/call record_reply"} <= names
