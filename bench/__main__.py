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
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import psycopg

from bench.dates import bench_parse
from bench.stats import Row, cpu_seconds, peak_rss_mb, percentile, render
from chat_gateway.task_server import TaskServerClient
from devtools.postgres import create_database, drop_database, server_for_tests
from mcp_task_server.migrate import upgrade
from shared.auth import JwtVerifier, StaticKeySource
from shared.local_auth import LOCAL_ISSUER, TASK_SERVER_AUDIENCE, LocalSigner
from tests.support.processes import Service, free_port, run_service

SUSTAIN_SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))


async def timed(call: Callable[[], Awaitable[Any]], count: int) -> tuple[list[float], float]:
    samples = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples, time.perf_counter() - started


async def bench_jwt(signer: LocalSigner) -> Row:
    verifier = JwtVerifier(
        StaticKeySource(signer.public_jwks()), issuer=LOCAL_ISSUER, audience=[TASK_SERVER_AUDIENCE]
    )
    token = signer.mint("bench")
    for _ in range(50):
        await verifier.verify(token)
    samples, seconds = await timed(lambda: verifier.verify(token), 2000)
    return Row("JWT verification (EdDSA, in process)", samples, seconds, note="per request, both services")


async def bench_tools(task_url: str, floor_url: str, signer: LocalSigner) -> list[Row]:
    token = signer.mint(f"tools-{uuid.uuid4().hex[:6]}")
    tasks = TaskServerClient(task_url)
    floor = TaskServerClient(floor_url)
    rows: list[Row] = []
    try:
        for _ in range(30):  # Warm both: connections, JWKS-free static keys, statement caches.
            await floor.call_tool(token, "noop", {})
            await tasks.call_tool(token, "list_tasks", {})
        floor_samples, floor_seconds = await timed(lambda: floor.call_tool(token, "noop", {}), 400)
        floor_p50 = percentile(floor_samples, 50)
        rows.append(Row("floor: empty FastMCP tool over HTTP", floor_samples, floor_seconds, note="1.00x"))
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
            samples, seconds = await timed(call, 400)
            ratio = percentile(samples, 50) / floor_p50
            rows.append(Row(f"tool {name}", samples, seconds, note=f"{ratio:.2f}x (target <= 1.5x)"))

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


async def bench_chat(gateway_url: str, signer: LocalSigner, pids: dict[str, int]) -> list[Row]:
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
                note=f"target p50 < 15 ms ({'met' if p50 < 15 else 'missed'})",
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
        cpu_split = ", ".join(
            f"{name} {(cpu_seconds(pid) - cpu_before[name]) / turns * 1000:.1f}" for name, pid in pids.items()
        )
        throughput = len(latencies) / seconds
        p99 = percentile(latencies, 99)
        verdict = "met" if throughput >= 100 and p99 < 500 and errors == 0 else "missed"
        rows.append(
            Row(
                f"chat turn, concurrency 32, {SUSTAIN_SECONDS:.0f} s",
                latencies,
                seconds,
                errors=errors,
                note=f"target >= 100/s, p99 < 500 ms, 0 errors ({verdict})",
            )
        )
        rows.append(Row(f"  CPU ms per turn: {cpu_split}", [], 1.0))
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
    task_server: Service, floor: Service, gateway: Service, database_url: str, signer: LocalSigner
) -> None:
    rows: list[Row] = [await bench_jwt(signer)]
    rows += await bench_session_setup(f"{task_server.base_url}/mcp", signer)
    rows += await bench_tools(f"{task_server.base_url}/mcp", f"{floor.base_url}/mcp", signer)
    rows += await bench_growth(f"{task_server.base_url}/mcp", gateway.base_url, database_url, signer)
    pids = {"gateway": gateway.process.pid, "task server": task_server.process.pid, "load": os.getpid()}
    rows += await bench_chat(gateway.base_url, signer, pids)
    print()
    print(render(rows))
    print()
    for name, service in (("task server", task_server), ("chat gateway", gateway)):
        rss = peak_rss_mb(service.process.pid)
        print(f"peak RSS {name}: {rss:.0f} MiB (target < 200 MiB: {'met' if rss < 200 else 'missed'})")
    print(f"due-date parser: {bench_parse(20_000):.1f} µs per parse_due call (on every add with a due date)")
    print(f"machine: {os.cpu_count()} cores; load generator in the same machine (shares the CPU)")


def main() -> None:
    admin_url, origin = server_for_tests()
    name = f"bench_{uuid.uuid4().hex[:10]}"
    database_url = create_database(admin_url, name)
    print(f"PostgreSQL: {origin}; database {name}", file=sys.stderr)
    try:
        upgrade(database_url)
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            data_dir = Path(tmp)
            signer = LocalSigner.load_or_create(data_dir)
            common = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
            task_port, floor_port, gateway_port = free_port(), free_port(), free_port()
            task_server = stack.enter_context(
                run_service(
                    "mcp_task_server",
                    {
                        **common,
                        "DATABASE_URL": database_url,
                        "TASK_SERVER_PORT": str(task_port),
                        "DB_POOL_SIZE": "20",
                    },
                    task_port,
                    data_dir / "task_server.log",
                )
            )
            floor = stack.enter_context(
                run_service(
                    "bench.floor_server",
                    {**common, "TASK_SERVER_PORT": str(floor_port)},
                    floor_port,
                    data_dir / "floor.log",
                )
            )
            gateway = stack.enter_context(
                run_service(
                    "chat_gateway",
                    {
                        **common,
                        "GATEWAY_PORT": str(gateway_port),
                        "MCP_TASK_SERVER_URL": f"{task_server.base_url}/mcp",
                        "AGENT_MODEL": "builtin",
                        "RATE_LIMIT_PER_MINUTE": "0",
                    },
                    gateway_port,
                    data_dir / "gateway.log",
                )
            )
            asyncio.run(run(task_server, floor, gateway, database_url, signer))
    finally:
        drop_database(admin_url, name)


if __name__ == "__main__":
    main()
