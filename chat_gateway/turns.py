"""One chat turn, start to finish, with nothing kept in the gateway.

1. The task server stores the user's message and returns the recent window (`start_turn`).
2. The agent runs over the window with the task tools, acting as the caller (their token is forwarded).
3. The task server records the reply and the tool calls (`record_reply`).
If step 2 fails, step 3 never happens: no half-written reply is stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from agents import Agent, MaxTurnsExceeded, Model, RunConfig, Runner
from agents.items import RunItem, ToolCallItem, ToolCallOutputItem
from agents.mcp.util import MCPToolCustomDataContext
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent

from shared.auth import Principal
from shared.schemas import ToolCallRecord

from .errors import DependencyTimeout, GatewayError, ModelUnavailable, TurnLimitExceeded
from .history import history_to_input
from .metrics import CHAT_TURNS, TOOL_CALLS
from .settings import GatewaySettings
from .task_server import TaskServerClient, TaskTools

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "You are a friendly assistant that manages the user's to-do list with the task tools. "
    "Use list_tasks to find a task's id before completing, updating or deleting it by name; act only when "
    "exactly one task matches, otherwise ask which one. Confirm what you did, naming the task and its id. "
    "If a tool fails, say so plainly; never claim success for a failed call. Keep replies short."
)


@dataclass
class TurnOutcome:
    conversation_id: int
    response: str
    tool_calls: list[ToolCallRecord] = field(default_factory=list)


@dataclass(frozen=True)
class TurnEvent:
    """One Server-Sent Event of a streamed turn."""

    event: str
    data: Mapping[str, Any]


def _tool_outcome(context: MCPToolCustomDataContext) -> dict[str, Any]:
    """Keep the MCP result's error flag and structured payload beside the item the SDK emits, so the
    turn can report exactly what each tool returned."""
    return {"is_error": bool(context.is_error), "structured": _plain(context.structured_content)}


def _plain(value: Any) -> Any:
    """The SDK hands results over as read-only mapping proxies; custom data must be plain JSON."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def collect_tool_calls(items: Sequence[RunItem]) -> list[ToolCallRecord]:
    calls: dict[str, ToolCallRecord] = {}
    for item in items:
        if isinstance(item, ToolCallItem):
            call_id, name, arguments = _call_fields(item)
            calls[call_id] = ToolCallRecord(name=name, arguments=arguments)
        elif isinstance(item, ToolCallOutputItem) and item.call_id in calls:
            record = calls[item.call_id]
            record.result, record.is_error = _output_fields(item)
    return list(calls.values())


def _call_fields(item: ToolCallItem) -> tuple[str, str, dict[str, Any]]:
    raw = item.raw_item
    get = raw.get if isinstance(raw, dict) else lambda key, default=None: getattr(raw, key, default)
    call_id = str(get("call_id", "") or get("id", ""))
    try:
        arguments = json.loads(get("arguments", "") or "{}")
    except ValueError:
        arguments = {"_unparsed": str(get("arguments", ""))}
    return (
        call_id,
        str(get("name", "tool")),
        arguments if isinstance(arguments, dict) else {"value": arguments},
    )


def _output_fields(item: ToolCallOutputItem) -> tuple[Any, bool]:
    data = item.custom_data or {}
    if "is_error" not in data:
        # No MCP result reached the SDK (the call itself failed): the output is the SDK's error text.
        return _output_text(item.output), True
    if not data["is_error"] and data.get("structured") is not None:
        return dict(data["structured"]), False
    return _output_text(item.output), bool(data["is_error"])


def _output_text(output: Any) -> str:
    """A failed MCP call reaches the SDK as content parts ({"type": "text", "text": ...}, or a list of
    them), not as a string: report the text the model saw."""
    parts = output if isinstance(output, list) else [output]
    texts = [str(part.get("text", "")) if isinstance(part, Mapping) else str(part) for part in parts]
    return "\n".join(text for text in texts if text)


def _find_gateway_error(error: BaseException) -> GatewayError | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, GatewayError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class ChatService:
    def __init__(self, settings: GatewaySettings, tasks: TaskServerClient, model: Model) -> None:
        self.settings = settings
        self.tasks = tasks
        self.model = model
        self.run_config = RunConfig(
            tracing_disabled=not settings.agent_tracing,
            trace_include_sensitive_data=False,
            workflow_name="todo-chat turn",
        )

    def _agent(self, principal: Principal, request_id: str | None) -> Agent[Any]:
        assert principal.token is not None
        tools = TaskTools(self.tasks, principal.token, request_id)
        tools.custom_data_extractor = _tool_outcome
        return Agent(name="Todo assistant", instructions=INSTRUCTIONS, model=self.model, mcp_servers=[tools])

    async def _begin(
        self, principal: Principal, message: str, conversation_id: int | None, request_id: str | None
    ) -> tuple[int, list[Any]]:
        assert principal.token is not None
        started = await self.tasks.start_turn(
            principal.token, message, conversation_id, self.settings.history_limit, request_id
        )
        return started.conversation_id, list(history_to_input(started.messages))

    async def _finish(self, principal: Principal, outcome: TurnOutcome, request_id: str | None) -> None:
        assert principal.token is not None
        await self.tasks.record_reply(
            principal.token, outcome.conversation_id, outcome.response, outcome.tool_calls, request_id
        )

    async def run_turn(
        self, principal: Principal, message: str, conversation_id: int | None, request_id: str | None = None
    ) -> TurnOutcome:
        conversation_id, items = await self._begin(principal, message, conversation_id, request_id)
        agent = self._agent(principal, request_id)
        try:
            async with asyncio.timeout(self.settings.turn_timeout_seconds):
                result = await Runner.run(
                    agent, items, max_turns=self.settings.agent_max_turns, run_config=self.run_config
                )
        except Exception as e:
            error = _turn_error(e)
            CHAT_TURNS.labels(error.code).inc()
            raise error from e
        outcome = TurnOutcome(
            conversation_id, str(result.final_output or ""), collect_tool_calls(result.new_items)
        )
        await self._finish(principal, outcome, request_id)
        _count(outcome)
        return outcome

    async def stream_turn(
        self, principal: Principal, message: str, conversation_id: int | None, request_id: str | None = None
    ) -> AsyncIterator[TurnEvent]:
        """The same turn as a sequence of events. Errors before the first event raise (so the HTTP layer
        can answer with a status); errors after it arrive as an `error` event and store no reply."""
        conversation_id, items = await self._begin(principal, message, conversation_id, request_id)
        return self._stream(principal, conversation_id, items, request_id)

    async def _stream(
        self, principal: Principal, conversation_id: int, items: list[Any], request_id: str | None
    ) -> AsyncIterator[TurnEvent]:
        yield TurnEvent("start", {"conversation_id": conversation_id})
        agent = self._agent(principal, request_id)
        run = Runner.run_streamed(
            agent, items, max_turns=self.settings.agent_max_turns, run_config=self.run_config
        )
        names: dict[str, str] = {}
        try:
            async with asyncio.timeout(self.settings.turn_timeout_seconds):
                async for event in run.stream_events():
                    for turn_event in _translate(event, names):
                        yield turn_event
            outcome = TurnOutcome(
                conversation_id, str(run.final_output or ""), collect_tool_calls(run.new_items)
            )
            await self._finish(principal, outcome, request_id)
        except Exception as e:
            run.cancel()
            error = e if isinstance(e, GatewayError) else _turn_error(e)
            CHAT_TURNS.labels(error.code).inc()
            logger.warning("streamed turn failed: %s", error.code)
            yield TurnEvent("error", {"error": {"code": error.code, "message": error.message}})
            return
        _count(outcome)
        yield TurnEvent(
            "done",
            {
                "conversation_id": conversation_id,
                "response": outcome.response,
                "tool_calls": [call.model_dump(mode="json") for call in outcome.tool_calls],
            },
        )


def _count(outcome: TurnOutcome) -> None:
    CHAT_TURNS.labels("ok").inc()
    for call in outcome.tool_calls:
        TOOL_CALLS.labels(call.name, str(call.is_error).lower()).inc()


def _translate(event: object, names: dict[str, str]) -> list[TurnEvent]:
    if isinstance(event, RawResponsesStreamEvent):
        if event.data.type == "response.output_text.delta":
            return [TurnEvent("delta", {"text": event.data.delta})]
        return []
    if not isinstance(event, RunItemStreamEvent):
        return []
    if isinstance(event.item, ToolCallItem):
        call_id, name, arguments = _call_fields(event.item)
        names[call_id] = name
        return [TurnEvent("tool_call", {"call_id": call_id, "name": name, "arguments": arguments})]
    if isinstance(event.item, ToolCallOutputItem):
        result, is_error = _output_fields(event.item)
        call_id = event.item.call_id or ""
        return [
            TurnEvent(
                "tool_result",
                {"call_id": call_id, "name": names.get(call_id, ""), "result": result, "is_error": is_error},
            )
        ]
    return []


def _turn_error(error: BaseException) -> GatewayError:
    """Map whatever stopped the agent to the gateway's error tree."""
    found = _find_gateway_error(error)
    if found is not None:
        return found
    if isinstance(error, TimeoutError):
        return DependencyTimeout("The assistant took too long to answer and was stopped.")
    if isinstance(error, MaxTurnsExceeded):
        return TurnLimitExceeded()
    if isinstance(error, openai.APIError):
        logger.warning("model call failed: %s", type(error).__name__)
        return ModelUnavailable()
    logger.error("turn failed: %s", type(error).__name__, exc_info=logger.isEnabledFor(logging.DEBUG))
    return GatewayError()
