"""Run the builtin model through the real agent loop against the real task server, one case at a time.

The task server runs as a process on loopback with local development auth (a key in its data folder).
One MCP session serves every case; each case acts as a fresh user, so cases never see each other's
tasks, by switching the bearer token the session sends. The benchmark reuses all of this.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from agents import Agent, RunConfig, Runner, Tool, TResponseInputItem
from agents.items import ToolCallItem, ToolCallOutputItem
from agents.mcp import MCPServerStreamableHttp, create_static_tool_filter
from agents.result import RunResultBase

from chat_gateway.builtin_model import BuiltinModel
from chat_gateway.history import history_to_input
from shared.local_auth import LocalSigner
from shared.schemas import MessageOut, ToolCallRecord
from tests.support.processes import Service, free_port, run_service

from .corpus import Case

TASK_TOOLS = (
    "add_task",
    "list_tasks",
    "complete_task",
    "delete_task",
    "update_task",
    "restore_task",
    "undo",
    "list_activity",
    "complete_tasks",
    "delete_tasks",
)
_READS = ("list_tasks", "list_activity")
# A reply names every task a bulk or undo result lists, up to this many (then it gives the count).
_NAMED_IN_FULL = 10
INSTRUCTIONS = "You manage the user's task list with the task tools."
RUN_CONFIG = RunConfig(tracing_disabled=True)
_SUCCESS_VERB = re.compile(r"\b(?:Added|Marked|Deleted|Renamed|Reopened|Set|Updated|Cleared)\b")


@contextmanager
def task_server(database_url: str, data_dir: Path, log_path: Path) -> Iterator[tuple[Service, LocalSigner]]:
    """The task server as an operator starts it, trusting the local development key in `data_dir`."""
    port = free_port()
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(data_dir), "TASK_SERVER_PORT": str(port)}
    with run_service("mcp_task_server", env, port, log_path) as service:
        yield service, LocalSigner.load_or_create(data_dir)


class BearerSwitch(httpx2.Auth):
    """Signs each request as the current user, so one MCP session can act as many users in turn."""

    def __init__(self, signer: LocalSigner) -> None:
        self._signer = signer
        self._token = signer.mint("corpus-connect")

    def act_as(self, user_id: str) -> None:
        self._token = self._signer.mint(user_id)

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class TaskServerConnection:
    """An MCP session to the task server owned by one background task.

    The SDK's MCP client must connect and clean up in the same asyncio task, while pytest runs
    fixture setup, tests and teardown in different ones; a dedicated owner task bridges the two.
    """

    def __init__(self, base_url: str, signer: LocalSigner) -> None:
        self.auth = BearerSwitch(signer)
        self.server = MCPServerStreamableHttp(
            params={"url": f"{base_url}/mcp", "auth": self.auth, "timeout": 30},
            cache_tools_list=True,
            name="task-server",
            client_session_timeout_seconds=30,
            tool_filter=create_static_tool_filter(allowed_tool_names=list(TASK_TOOLS)),
            # As the gateway does: the model reads a tool's structured result, the JSON the tool returns.
            use_structured_content=True,
        )
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None

    async def _own(self) -> None:
        async with self.server:
            self._ready.set()
            await self._stop.wait()

    async def __aenter__(self) -> TaskServerConnection:
        self._owner = asyncio.create_task(self._own())
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({self._owner, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not self._ready.is_set():
            ready.cancel()
            await self._owner  # Raises the connection error.
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._owner is not None:
            await self._owner

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.server.call_tool(tool, arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return dict(result.structured_content)

    @asynccontextmanager
    async def fresh_user(self, tasks: Sequence[tuple[str, bool]]) -> AsyncIterator[list[int]]:
        """Act as a new user who already has `tasks`; yields their ids in order."""
        self.auth.act_as(f"corpus-{uuid.uuid4().hex[:16]}")
        ids: list[int] = []
        for title, completed in tasks:
            ids.append((await self.call("add_task", {"title": title}))["task_id"])
            if completed:
                await self.call("complete_task", {"task_id": ids[-1]})
        yield ids

    async def tasks(self) -> tuple[tuple[str, bool], ...]:
        listed = await self.call("list_tasks", {"status": "all", "limit": 100})
        return tuple((task["title"], task["completed"]) for task in listed["tasks"])


class TimedBuiltinModel(BuiltinModel):
    """The builtin model, recording how long each `get_response` takes (no I/O happens inside it).

    With `record=True` it also keeps each call's input (as JSON text, which the garbage collector
    does not have to walk) and tools, so the benchmark can replay the calls away from the agent loop.
    """

    def __init__(self, *, record: bool = False) -> None:
        super().__init__()
        self.timings_ns: list[int] = []
        self.recorded: list[tuple[str, list[Tool]]] = []
        self._record = record

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        if self._record:
            self.recorded.append((json.dumps(kwargs["input"]), list(kwargs["tools"])))
        started = time.perf_counter_ns()
        response = await super().get_response(*args, **kwargs)
        self.timings_ns.append(time.perf_counter_ns() - started)
        return response


@dataclass
class CallRecord:
    name: str
    arguments: dict[str, Any]
    output: str
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnRecord:
    reply: str
    calls: list[CallRecord]
    model_ns: int = 0
    model_calls: range = range(0)


@dataclass
class CaseRun:
    ids: list[int]
    turns: list[TurnRecord]
    final: tuple[tuple[str, bool], ...]


def agent_for(model: BuiltinModel, connection: TaskServerConnection) -> Agent[Any]:
    return Agent(
        name="Task assistant", instructions=INSTRUCTIONS, model=model, mcp_servers=[connection.server]
    )


def tool_calls(result: RunResultBase) -> list[CallRecord]:
    """The tool calls a run made, in order, with what each returned, as the gateway would report them."""
    outputs: dict[str, str] = {}
    for item in result.new_items:
        if isinstance(item, ToolCallOutputItem) and isinstance(item.raw_item, dict):
            outputs[str(item.raw_item.get("call_id"))] = _text(item.raw_item.get("output"))
    records: list[CallRecord] = []
    for item in result.new_items:
        if isinstance(item, ToolCallItem):
            arguments = json.loads(getattr(item.raw_item, "arguments", None) or "{}")
            output = outputs.get(str(item.call_id), "")
            parsed = _json_object(output)
            records.append(
                CallRecord(str(item.tool_name), arguments, output, parsed is not None, parsed or {})
            )
    return records


async def run_case(case: Case, connection: TaskServerConnection, model: TimedBuiltinModel) -> CaseRun:
    agent = agent_for(model, connection)
    async with connection.fresh_user(case.initial) as ids:
        window: list[MessageOut] = []
        turns: list[TurnRecord] = []
        for utterance in case.turns:
            text = case.substitute(utterance, ids)
            model_input: list[TResponseInputItem] = [
                *history_to_input(window),
                {"role": "user", "content": text},
            ]
            timed_from = len(model.timings_ns)
            result = await Runner.run(agent, model_input, run_config=RUN_CONFIG)
            reply = str(result.final_output)
            calls = tool_calls(result)
            timed = range(timed_from, len(model.timings_ns))
            turns.append(TurnRecord(reply, calls, sum(model.timings_ns[timed_from:]), timed))
            window += _messages(len(window), text, reply, calls)
        return CaseRun(ids, turns, await connection.tasks())


def check_case(case: Case, run: CaseRun) -> list[str]:
    """Everything wrong with a run, as readable lines; an empty list means the case passed."""
    problems: list[str] = []
    expected = case.expected_calls(run.ids)
    turn = run.turns[-1]
    actual = turn.calls
    said = [f"{c.name}({json.dumps(c.arguments)})" for c in actual]
    if [c.name for c in actual] != [e.name for e in expected]:
        problems.append(f"calls: expected {[e.name for e in expected]}, got {said}")
    else:
        for want, got in zip(expected, actual, strict=True):
            for key, value in want.arguments.items():
                if got.arguments.get(key) != value:
                    problems.append(f"{got.name}: {key}={got.arguments.get(key)!r}, expected {value!r}")
    if run.final != case.expected_final():
        problems.append(f"final tasks: expected {list(case.expected_final())}, got {list(run.final)}")
    problems += reply_problems(turn)
    for mention in case.mentions:
        if case.substitute(mention, run.ids).casefold() not in turn.reply.casefold():
            problems.append(f"reply does not mention {mention!r}")
    if problems:
        problems.append(f"reply was: {turn.reply!r}")
    return problems


def reply_problems(turn: TurnRecord) -> list[str]:
    """The reply names what it acted on, and never claims success for a call that failed."""
    reply = turn.reply
    problems = [] if reply.strip() else ["the reply is empty"]
    sentences = re.split(r"(?<=[.!?])\s+|\n", reply)
    for call in turn.calls:
        task_id = call.result.get("task_id") if call.ok else call.arguments.get("task_id")
        if call.ok and isinstance(call.result.get("tasks"), list) and call.name not in _READS:
            problems += _names_problems(call, reply)
        elif call.ok and call.name not in _READS:
            if str(call.result.get("title")) not in reply or str(task_id) not in reply:
                problems.append(f"reply does not name {call.result.get('title')!r} (task {task_id})")
        elif not call.ok:
            if "couldn't" not in reply and "could not" not in reply:
                problems.append(f"{call.name} failed ({call.output!r}) but the reply does not say so")
            if task_id is not None and any(
                _SUCCESS_VERB.search(s) and re.search(rf"\btask {task_id}\b", s) for s in sentences
            ):
                problems.append(f"the reply claims success for task {task_id}, whose {call.name} failed")
    return problems


def _names_problems(call: CallRecord, reply: str) -> list[str]:
    """A bulk or undo result: the reply gives the count, and names the tasks when there are few."""
    tasks = call.result["tasks"]
    count = call.result.get("count", len(tasks))
    if len(tasks) > _NAMED_IN_FULL:
        return [] if str(count) in reply else [f"reply does not give the count {count} of {call.name}"]
    return [
        f"reply does not name {task.get('title')!r} (task {task.get('id')}) of {call.name}"
        for task in tasks
        if str(task.get("title")) not in reply or not re.search(rf"\btask {task.get('id')}\b", reply)
    ]


def _messages(start: int, text: str, reply: str, calls: list[CallRecord]) -> list[MessageOut]:
    """The window the task server would return: the user message, then the reply with its tool calls."""
    now = datetime.now(UTC)
    records = [
        ToolCallRecord(
            name=c.name, arguments=c.arguments, result=c.result if c.ok else c.output, is_error=not c.ok
        )
        for c in calls
    ]
    return [
        MessageOut(id=start + 1, role="user", content=text, created_at=now),
        MessageOut(id=start + 2, role="assistant", content=reply, tool_calls=records, created_at=now),
    ]


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and set(value) != {"error"} else None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "".join(_text(part) for part in content)
    return str(content)
