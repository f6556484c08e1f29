"""`make bench`: the hot paths against their floors, on real services, in one run.

Starts the task server, the chat gateway (builtin model) and a floor server (an empty FastMCP tool served
the same way) as processes on loopback against a fresh PostgreSQL database, then prints one table. Every
target is a ratio to a floor measured in the same run, or a figure the issue sets, because these machines
are shared and noisy. BENCH_SECONDS (default 60) sets how long the sustained load runs.

    .venv/bin/python -m bench
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import psycopg

from bench.dates import bench_parse
from bench.services import bench_services
from bench.stats import Row, cpu_seconds, peak_rss_mb, percentile, render
from chat_gateway.task_server import TaskServerClient
from shared.auth import JwtVerifier, StaticKeySource
from shared.local_auth import GATEWAY_AUDIENCE, LOCAL_ISSUER, TASK_SERVER_AUDIENCE, LocalSigner
from tests.support.processes import Service

SUSTAIN_SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))


async def timed(call: Callable[[], Awaitable[Any]], count: int) -> tuple[list[float], float]:
    samples = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, time.perf_counter() - started


async def bench_jwt(signer: LocalSigner) -> list[Row]:
    """A token verified in full (signature, claims), and one the verifier remembers (a chat turn shows
    the same token to the gateway once and to the task server three times)."""
    rows = []
    token = signer.mint("bench")
    for label, remember, note in (
        ("JWT verification in full (EdDSA, in process)", 0.0, "a token's first request, in each service"),
        ("JWT verification, token remembered", 60.0, "its next requests, for up to a minute"),
    ):
        verifier = JwtVerifier(
            StaticKeySource(signer.public_jwks()),
            issuer=LOCAL_ISSUER,
            audience=[TASK_SERVER_AUDIENCE],
            remember_seconds=remember,
        )
        for _ in range(50):
            await verifier.verify(token)
        samples, seconds = await timed(lambda verifier=verifier: verifier.verify(token), 2000)  # type: ignore[misc]
        rows.append(Row(label, samples, seconds, note=note))
    return rows


async def cpu_timed(
    call: Callable[[], Awaitable[Any]], count: int, pid: int
) -> tuple[list[float], float, float]:
    """`timed`, plus the CPU milliseconds the process `pid` spent per call meanwhile."""
    before = cpu_seconds(pid)
    samples, seconds = await timed(call, count)
    return samples, seconds, (cpu_seconds(pid) - before) / count * 1000


async def bench_tools(
    task_url: str, floor_url: str, signer: LocalSigner, task_pid: int, floor_pid: int
) -> list[Row]:
    token = signer.mint(f"tools-{uuid.uuid4().hex[:6]}")
    tasks = TaskServerClient(task_url)
    floor = TaskServerClient(floor_url)
    rows: list[Row] = []
    try:
        for _ in range(30):  # Warm both: connections, JWKS-free static keys, statement caches.
            await floor.call_tool(token, "noop", {})
            await tasks.call_tool(token, "list_tasks", {})
        floor_samples, floor_seconds, floor_cpu = await cpu_timed(
            lambda: floor.call_tool(token, "noop", {}), 400, floor_pid
        )
        floor_p50 = percentile(floor_samples, 50)
        rows.append(
            Row(
                "floor: empty FastMCP tool over HTTP",
                floor_samples,
                floor_seconds,
                note=f"1.00x; server CPU {floor_cpu:.2f} ms per call",
            )
        )
        added = await tasks.call_tool(token, "add_task", {"title": "bench seed"})
        task_id = (added.structured_content or {})["task_id"]
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "add_task": lambda: tasks.call_tool(token, "add_task", {"title": "bench task"}),
            "list_tasks": lambda: tasks.call_tool(token, "list_tasks", {"limit": 20}),
            "complete_task": lambda: tasks.call_tool(token, "complete_task", {"task_id": task_id}),
            "update_task": lambda: tasks.call_tool(
                token, "update_task", {"task_id": task_id, "title": "renamed"}
            ),
        }
        for name, call in calls.items():
            samples, seconds, cpu = await cpu_timed(call, 400, task_pid)
            ratio = percentile(samples, 50) / floor_p50
            note = f"{ratio:.2f}x (target <= 1.5x); server CPU {cpu:.2f} ms, {cpu / floor_cpu:.2f}x"
            rows.append(Row(f"tool {name}", samples, seconds, note=note))

        async def add_then_delete() -> None:
            created = await tasks.call_tool(token, "add_task", {"title": "to delete"})
            await tasks.call_tool(
                token, "delete_task", {"task_id": (created.structured_content or {})["task_id"]}
            )

        # delete_task needs a fresh row each time; subtract the add measured above.
        samples, seconds = await timed(add_then_delete, 300)
        add_p50 = rows[1].p50
        delete_only = [max(0.0, s - add_p50) for s in samples]
        rows.append(
            Row(
                "tool delete_task (net of its add)",
                delete_only,
                seconds,
                note=f"{percentile(delete_only, 50) / floor_p50:.2f}x (target <= 1.5x)",
            )
        )
    finally:
        await tasks.aclose()
        await floor.aclose()
    return rows


async def chat_turn(client: httpx2.AsyncClient, user: str, token: str, body: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    response = await client.post(f"/api/{user}/chat", json=body, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise RuntimeError(f"chat answered {response.status_code}: {response.text[:200]}")
    return (time.perf_counter() - t0) * 1000


async def chatkit_message(client: httpx2.AsyncClient, token: str, thread_id: str, text: str) -> float:
    """One ChatKit message on a thread, read to the end of its stream."""
    body = {
        "type": "threads.add_user_message",
        "params": {
            "thread_id": thread_id,
            "input": {
                "content": [{"type": "input_text", "text": text}],
                "attachments": [],
                "inference_options": {},
            },
        },
    }
    t0 = time.perf_counter()
    response = await client.post("/chatkit", json=body, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200 or '"type":"error"' in response.text:
        raise RuntimeError(f"chatkit answered {response.status_code}: {response.text[:200]}")
    return (time.perf_counter() - t0) * 1000


async def _chatkit_turns(client: httpx2.AsyncClient, user: str, token: str, chat_p50: float) -> Row:
    """The same turn through POST /chatkit, on a thread (3 store round trips to /chat's 2)."""
    created = await client.post(
        "/chatkit",
        json={"type": "threads.list", "params": {"limit": 1}},
        headers={"Authorization": f"Bearer {token}"},
    )
    thread_id = created.json()["data"][0]["id"]  # A conversation the /chat turns above started.
    for _ in range(20):
        await chatkit_message(client, token, thread_id, "add warm up")
    samples, seconds = await timed(lambda: chatkit_message(client, token, thread_id, "add buy milk"), 200)
    ratio = percentile(samples, 50) / chat_p50
    return Row(
        "chatkit message, 1 tool call, concurrency 1", samples, seconds, note=f"{ratio:.2f}x the /chat turn"
    )


async def bench_sdk_client(task_url: str, floor_url: str, signer: LocalSigner) -> list[Row]:
    """Each task tool as most agents call it: through the official MCP SDK's ClientSession, which checks
    every structured result against the tool's output schema. The client's own CPU per call is that
    of this process, which does nothing else meanwhile."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    token = signer.mint(f"sdk-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bearer {token}"}
    rows: list[Row] = []
    floor_p50 = 1.0
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(floor_url, http_client=http) as (floor_read, floor_write),
        ClientSession(floor_read, floor_write) as floor,
        streamable_http_client(task_url, http_client=http) as (read, write),
        ClientSession(read, write) as tasks,
    ):
        await floor.initialize()
        await tasks.initialize()
        added = await tasks.call_tool("add_task", {"title": "sdk seed"})
        task_id = (added.structured_content or {})["task_id"]
        for _ in range(19):  # A page of 20 for list_tasks.
            await tasks.call_tool("add_task", {"title": "sdk seed"})
        calls: list[tuple[str, ClientSession, dict[str, Any]]] = [
            ("noop", floor, {}),
            ("add_task", tasks, {"title": "sdk task"}),
            ("list_tasks", tasks, {"limit": 20}),
            ("complete_task", tasks, {"task_id": task_id}),
            ("update_task", tasks, {"task_id": task_id, "title": "renamed"}),
        ]
        for name, session, arguments in calls:

            async def call(
                session: ClientSession = session, name: str = name, arguments: dict[str, Any] = arguments
            ) -> None:
                result = await session.call_tool(name, arguments)
                if result.is_error:
                    raise RuntimeError(f"{name} failed through the SDK client")

            for _ in range(20):
                await call()
            cpu_before = time.process_time()
            samples, seconds = await timed(call, 300)
            client_cpu = (time.process_time() - cpu_before) / 300 * 1000
            if name == "noop":
                floor_p50 = percentile(samples, 50)
                rows.append(
                    Row(
                        "SDK client: floor, empty tool",
                        samples,
                        seconds,
                        note=f"1.00x; client CPU {client_cpu:.2f} ms",
                    )
                )
                continue
            ratio = percentile(samples, 50) / floor_p50
            note = f"{ratio:.2f}x (target <= 1.5x); client CPU {client_cpu:.2f} ms"
            rows.append(Row(f"SDK client: {name}", samples, seconds, note=note))
    return rows


class TurnFloor:
    """The turn floor's figures (bench/turn_floor.py), for the chat rows to be read against."""

    def __init__(self) -> None:
        self.p50 = float("nan")
        self.cpu_ms = float("nan")
        self.throughput = float("nan")


async def bench_turn_floor(
    floor_url: str, database_url: str, signer: LocalSigner, pid: int
) -> tuple[list[Row], TurnFloor]:
    """The irreducible work of a turn in one process, at concurrency 1 and 32 (for at most 20 s)."""
    users = [f"floor-{n}-{uuid.uuid4().hex[:6]}" for n in range(32)]
    conversations = {user: seed(database_url, user, 0, 2) or 0 for user in users}
    tokens = {user: signer.mint(user, audience=[GATEWAY_AUDIENCE]) for user in users}
    figures = TurnFloor()
    rows: list[Row] = []
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx2.AsyncClient(base_url=floor_url, timeout=30, limits=limits) as client:

        def body(user: str) -> dict[str, Any]:
            return {"message": "buy milk", "conversation_id": conversations[user]}

        first = users[0]
        for _ in range(20):
            await chat_turn(client, first, tokens[first], body(first))
        samples, seconds, cpu = await cpu_timed(
            lambda: chat_turn(client, first, tokens[first], body(first)), 200, pid
        )
        figures.p50 = percentile(samples, 50)
        rows.append(
            Row(
                "turn floor: one process, JWT + 3 SQL + JSON, concurrency 1",
                samples,
                seconds,
                note=f"1.00x; CPU {cpu:.2f} ms per turn",
            )
        )
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + min(SUSTAIN_SECONDS, 20.0)

        async def worker(user: str) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                try:
                    latencies.append(await chat_turn(client, user, tokens[user], body(user)))
                except Exception:
                    errors += 1

        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker(user) for user in users))
        seconds = time.perf_counter() - started
        figures.cpu_ms = (cpu_seconds(pid) - cpu_before) / max(1, len(latencies)) * 1000
        figures.throughput = len(latencies) / seconds
        rows.append(
            Row(
                "turn floor, concurrency 32",
                latencies,
                seconds,
                errors=errors,
                note=f"CPU {figures.cpu_ms:.2f} ms per turn",
            )
        )
    return rows, figures


async def bench_chat(
    gateway_url: str, signer: LocalSigner, pids: dict[str, int], floor: TurnFloor
) -> list[Row]:
    rows: list[Row] = []
    users = [(f"chat-{n}-{uuid.uuid4().hex[:6]}", "") for n in range(32)]
    users = [(user, signer.mint(user)) for user, _ in users]
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx2.AsyncClient(base_url=gateway_url, timeout=30, limits=limits) as client:
        user, token = users[0]
        for _ in range(20):
            await chat_turn(client, user, token, {"message": "add warm up"})
        samples, seconds = await timed(
            lambda: chat_turn(client, user, token, {"message": "add buy milk"}), 200
        )
        p50 = percentile(samples, 50)
        rows.append(
            Row(
                "chat turn, 1 tool call, concurrency 1",
                samples,
                seconds,
                note=f"{p50 / floor.p50:.2f}x the turn floor; "
                f"target p50 <= 10 ms ({'met' if p50 <= 10 else 'missed'})",
            )
        )
        rows.append(await _chatkit_turns(client, user, token, p50))

        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + SUSTAIN_SECONDS

        async def worker(user: str, token: str) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                try:
                    latencies.append(await chat_turn(client, user, token, {"message": "add buy eggs"}))
                except Exception:
                    errors += 1

        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        await asyncio.gather(*(worker(u, t) for u, t in users))
        seconds = time.perf_counter() - started
        turns = max(1, len(latencies))
        cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / turns * 1000 for name, pid in pids.items()}
        cpu_split = ", ".join(f"{name} {ms:.1f}" for name, ms in cpu.items())
        throughput = len(latencies) / seconds
        p99 = percentile(latencies, 99)
        verdict = "met" if throughput >= 200 and p99 < 500 and errors == 0 else "missed"
        rows.append(
            Row(
                f"chat turn, concurrency 32, {SUSTAIN_SECONDS:.0f} s",
                latencies,
                seconds,
                errors=errors,
                note=f"{floor.throughput / throughput:.2f}x fewer/s than the turn floor; "
                f"target >= 200/s, p99 < 500 ms, 0 errors ({verdict})",
            )
        )
        services = cpu["gateway"] + cpu["task server"]
        rows.append(
            Row(
                f"  CPU ms per turn: {cpu_split}",
                [],
                1.0,
                note=f"both services {services:.1f} = {services / floor.cpu_ms:.2f}x the turn floor's "
                f"{floor.cpu_ms:.2f} (target <= 6 ms: {'met' if services <= 6 else 'missed'})",
            )
        )
    return rows


def _list_pending(tasks: TaskServerClient, token: str) -> Callable[[], Awaitable[Any]]:
    return lambda: tasks.call_tool(token, "list_tasks", {"status": "pending", "limit": 50})


def _turn(
    client: httpx2.AsyncClient, user: str, token: str, body: dict[str, Any]
) -> Callable[[], Awaitable[Any]]:
    return lambda: chat_turn(client, user, token, body)


def seed(database_url: str, user: str, tasks: int, conversation_messages: int) -> int | None:
    """Bulk rows for the growth measurements, straight into PostgreSQL (the tools would take minutes)."""
    with psycopg.connect(database_url) as conn:
        if tasks:
            # Spread over dates (20 days either side of today), priorities and a tag on one in five, as a
            # real list would be, so that each filter has work to do, and so that even 10 tasks give each
            # filter at least two (the filtered measurements compare pages of the same size).
            conn.execute(
                "INSERT INTO tasks "
                "(user_id, title, completed, due_date, due_timezone, due_string, priority, tags) "
                "SELECT %s, 'seeded ' || n, n %% 3 = 0, "
                "CASE WHEN n %% 4 <> 0 THEN current_date + (n * 11 %% 40) - 20 END, "
                "CASE WHEN n %% 4 <> 0 THEN 'UTC' END, CASE WHEN n %% 4 <> 0 THEN 'seeded' END, n %% 4, "
                "CASE WHEN n %% 5 = 0 THEN ARRAY['work']::varchar(50)[] ELSE '{}' END "
                "FROM generate_series(1, %s) AS n",
                (user, tasks),
            )
        conversation_id = None
        if conversation_messages:
            row = conn.execute(
                "INSERT INTO conversations (user_id, title) VALUES (%s, 'seeded') RETURNING id", (user,)
            ).fetchone()
            assert row is not None
            conversation_id = int(row[0])
            conn.execute(
                "INSERT INTO messages (conversation_id, user_id, role, content) "
                "SELECT %s, %s, CASE WHEN n %% 2 = 0 THEN 'assistant' ELSE 'user' END, 'message ' || n "
                "FROM generate_series(1, %s) AS n",
                (conversation_id, user, conversation_messages),
            )
        conn.execute("ANALYZE tasks; ANALYZE messages; ANALYZE conversations")
    return conversation_id


FILTERED = {
    "due next 7 days, by due": {"due": "next_7_days", "sort": "due", "timezone": "UTC"},
    "tag work, by priority": {"tag": "work", "sort": "priority"},
    "overdue pending": {"due": "overdue", "status": "pending", "timezone": "UTC"},
    "text 'seeded 1'": {"query": "seeded 1"},
}
# Pages of 2: at 10 tasks every filter finds at least that many, so both sizes return the same page and
# the ratio measures how the query grows, not how many rows came back.
FILTERED_PAGE = 2


async def _filtered_growth(tasks: TaskServerClient, database_url: str, signer: LocalSigner) -> list[Row]:
    """list_tasks with each kind of filter and sort, for a user with 10 and with 10,000 tasks."""
    rows: list[Row] = []
    users = {}
    for size in (10, 10_000):
        users[size] = f"grow-filter-{size}-{uuid.uuid4().hex[:6]}"
        seed(database_url, users[size], size, 0)
    for label, arguments in FILTERED.items():
        results: dict[int, list[float]] = {}
        for size, user in users.items():
            token = signer.mint(user)

            def call(token: str = token, arguments: dict[str, Any] = arguments) -> Awaitable[Any]:
                return tasks.call_tool(token, "list_tasks", {**arguments, "limit": FILTERED_PAGE})

            for _ in range(10):
                await call()
            results[size], seconds = await timed(call, 150)
            rows.append(
                Row(f"list_tasks ({label}, page of {FILTERED_PAGE}), {size} tasks", results[size], seconds)
            )
        ratio = percentile(results[10_000], 50) / percentile(results[10], 50)
        rows[-1].note = f"{ratio:.2f}x the 10-task case (target <= 1.5x)"
    return rows


async def bench_growth(task_url: str, gateway_url: str, database_url: str, signer: LocalSigner) -> list[Row]:
    rows: list[Row] = []
    tasks = TaskServerClient(task_url)
    try:
        results: dict[int, list[float]] = {}
        for size in (10, 10_000):
            user = f"grow-tasks-{size}-{uuid.uuid4().hex[:6]}"
            seed(database_url, user, size, 0)
            token = signer.mint(user)
            for _ in range(20):
                await tasks.call_tool(token, "list_tasks", {"status": "pending", "limit": 50})
            results[size], seconds = await timed(_list_pending(tasks, token), 300)
            rows.append(Row(f"list_tasks (pending, 50), user with {size} tasks", results[size], seconds))
        ratio = percentile(results[10_000], 50) / percentile(results[10], 50)
        rows[-1].note = f"{ratio:.2f}x the 10-task case (target <= 1.5x)"
        rows += await _filtered_growth(tasks, database_url, signer)
    finally:
        await tasks.aclose()

    async with httpx2.AsyncClient(base_url=gateway_url, timeout=30) as client:
        turns: dict[int, list[float]] = {}
        for size in (10, 10_000):
            user = f"grow-chat-{size}-{uuid.uuid4().hex[:6]}"
            conversation_id = seed(database_url, user, 0, size)
            token = signer.mint(user)
            body = {"message": "what's on my list?", "conversation_id": conversation_id}
            for _ in range(10):
                await chat_turn(client, user, token, body)
            turns[size], seconds = await timed(_turn(client, user, token, body), 150)
            rows.append(Row(f"chat turn, conversation of {size} messages", turns[size], seconds))
        ratio = percentile(turns[10_000], 50) / percentile(turns[10], 50)
        rows[-1].note = f"{ratio:.2f}x the 10-message case (target <= 1.5x)"
    return rows


async def bench_session_setup(task_url: str, signer: LocalSigner) -> list[Row]:
    """What the gateway's per-call MCP client saves: the Agents SDK's session client must connect (and
    list tools) in the task that uses it, which a stateless gateway would pay on every turn."""
    from agents.mcp import MCPServerStreamableHttp

    token = signer.mint("session-bench")

    async def sdk_session_turn() -> None:
        server = MCPServerStreamableHttp(
            {"url": task_url, "headers": {"Authorization": f"Bearer {token}"}}, cache_tools_list=False
        )
        await server.connect()  # type: ignore[no-untyped-call]
        try:
            await server.list_tools()
            await server.call_tool("list_tasks", {})
        finally:
            await server.cleanup()  # type: ignore[no-untyped-call]

    ours = TaskServerClient(task_url)
    try:
        await ours.task_tools(token)

        async def stateless_turn() -> None:
            await ours.task_tools(token)
            await ours.call_tool(token, "list_tasks", {})

        for _ in range(10):
            await sdk_session_turn()
            await stateless_turn()
        sdk, sdk_s = await timed(sdk_session_turn, 100)
        mine, mine_s = await timed(stateless_turn, 100)
    finally:
        await ours.aclose()
    return [
        Row("MCP: SDK session per turn (connect, list, 1 call)", sdk, sdk_s),
        Row(
            "MCP: gateway's stateless client (cached list, 1 call)",
            mine,
            mine_s,
            note=f"{percentile(mine, 50) / percentile(sdk, 50):.2f}x the session",
        ),
    ]


async def run(
    task_server: Service,
    floor: Service,
    gateway: Service,
    turn_floor: Service,
    database_url: str,
    signer: LocalSigner,
) -> None:
    task_url, floor_url = f"{task_server.base_url}/mcp", f"{floor.base_url}/mcp"
    rows: list[Row] = await bench_jwt(signer)
    rows += await bench_session_setup(task_url, signer)
    rows += await bench_tools(task_url, floor_url, signer, task_server.process.pid, floor.process.pid)
    rows += await bench_sdk_client(task_url, floor_url, signer)
    rows += await bench_growth(task_url, gateway.base_url, database_url, signer)
    floor_rows, turn_floor_figures = await bench_turn_floor(
        turn_floor.base_url, database_url, signer, turn_floor.process.pid
    )
    rows += floor_rows
    pids = {"gateway": gateway.process.pid, "task server": task_server.process.pid, "load": os.getpid()}
    rows += await bench_chat(gateway.base_url, signer, pids, turn_floor_figures)
    print()
    print(render(rows))
    print()
    for name, service in (("task server", task_server), ("chat gateway", gateway)):
        rss = peak_rss_mb(service.process.pid)
        print(f"peak RSS {name}: {rss:.0f} MiB (target < 200 MiB: {'met' if rss < 200 else 'missed'})")
    print(f"due-date parser: {bench_parse(20_000):.1f} µs per parse_due call (on every add with a due date)")
    print(f"machine: {os.cpu_count()} cores; load generator in the same machine (shares the CPU)")


def main() -> None:
    with bench_services() as services:
        asyncio.run(run(*services))


if __name__ == "__main__":
    main()
