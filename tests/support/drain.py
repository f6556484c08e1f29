"""SIGTERM a service in the middle of streamed chat turns, and see what became of the turns.

Half the turns start before the signal (the first of them has begun when it is sent), half after it,
during the drain: a service that drains properly finishes every one of them and stores every reply.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx2
import psycopg

from tests.support.gateway_fixtures import auth
from tests.support.processes import Service

TURNS = 20
DRAIN_SECONDS = 3.0


@dataclass
class DrainReport:
    users: list[str]
    events: list[list[str]]  # Each turn's SSE event names, in order.
    ready_after_signal: int  # The signalled service's /readyz status right after SIGTERM.
    ready_code: str | None
    stop_seconds: float  # From SIGTERM until the process had exited.


async def _stream_turn(
    client: httpx2.AsyncClient, gateway: Service, user: str, begun: asyncio.Event
) -> list[str]:
    names: list[str] = []
    async with client.stream(
        "POST",
        f"{gateway.base_url}/api/{user}/chat/stream",
        headers=auth(user),
        json={"message": f"add drain check {user}"},
    ) as response:
        if response.status_code != 200:
            return [f"http {response.status_code}"]
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                names.append(line[7:])
                begun.set()
    return names


async def sigterm_during_turns(gateway: Service, target: Service) -> DrainReport:
    """Run TURNS streamed turns through `gateway`, sending SIGTERM to `target` (the gateway itself, or the
    task server behind it) once the first turn has begun."""
    run = uuid.uuid4().hex[:8]
    users = [f"drain-{run}-{n}" for n in range(TURNS)]
    async with httpx2.AsyncClient(timeout=60) as client:
        begun = asyncio.Event()
        before = [
            asyncio.create_task(_stream_turn(client, gateway, user, begun)) for user in users[: TURNS // 2]
        ]
        await asyncio.wait_for(begun.wait(), timeout=30)
        target.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        exited = asyncio.create_task(asyncio.to_thread(target.process.wait, 60))
        ready = await _readiness(client, target)
        after = [
            asyncio.create_task(_stream_turn(client, gateway, user, asyncio.Event()))
            for user in users[TURNS // 2 :]
        ]
        events = await asyncio.gather(*before, *after)
        await exited
    return DrainReport(users, list(events), ready[0], ready[1], time.monotonic() - signalled)


async def _readiness(client: httpx2.AsyncClient, service: Service) -> tuple[int, str | None]:
    # The signal is handled between two ticks of the server's loop, so allow it a moment to arrive.
    deadline = time.monotonic() + 1.0
    while True:
        response = await client.get(f"{service.base_url}/readyz")
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or time.monotonic() > deadline:
            return response.status_code, body.get("error", {}).get("code")
        await asyncio.sleep(0.02)


def stored_turns(database_url: str, users: list[str]) -> dict[str, tuple[int, int, int]]:
    """Per user: (user messages, assistant replies, tasks) as stored."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT u.id, "
            "(SELECT count(*) FROM messages m WHERE m.user_id = u.id AND m.role = 'user'), "
            "(SELECT count(*) FROM messages m WHERE m.user_id = u.id AND m.role = 'assistant'), "
            "(SELECT count(*) FROM tasks t WHERE t.user_id = u.id) "
            "FROM unnest(%s::text[]) AS u(id)",
            (users,),
        ).fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def summary(report: DrainReport) -> str:
    done = sum(1 for names in report.events if names and names[-1] == "done")
    return (
        f"{done}/{len(report.events)} turns done; /readyz {report.ready_after_signal} {report.ready_code} "
        f"after SIGTERM; stopped {report.stop_seconds:.2f} s after SIGTERM (drain {DRAIN_SECONDS:.0f} s)"
    )
