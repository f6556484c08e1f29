"""SIGTERM to a gateway in the middle of 20 streamed chat turns: every turn finishes and its reply is
stored, turns started during the drain included; `/readyz` answers 503 `draining` at once."""

from __future__ import annotations

import pytest

from tests.support.drain import DRAIN_SECONDS, TURNS, sigterm_during_turns, stored_turns, summary
from tests.support.gateway_fixtures import StartGateway


@pytest.mark.timeout(90)
async def test_sigterm_during_streamed_turns_loses_no_reply(
    database_url: str, start_gateway: StartGateway
) -> None:
    with start_gateway(AGENT_MODEL="builtin", SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS)) as gateway:
        report = await sigterm_during_turns(gateway, gateway)
        print(summary(report))

    assert (report.ready_after_signal, report.ready_code) == (503, "draining")
    assert [names[-1] for names in report.events] == ["done"] * TURNS, report.events
    assert set(stored_turns(database_url, report.users).values()) == {(1, 1, 1)}
    assert DRAIN_SECONDS <= report.stop_seconds < DRAIN_SECONDS + 5
    assert "SIGTERM: not ready from now on" in gateway.log()
