"""One chat turn, start to finish, with nothing kept in the gateway.

1. The task server stores the user's message and returns the recent window (`start_turn`).
2. The agent runs over the window with the task tools, acting as the caller (their token is forwarded).
3. The task server records the reply and the tool calls (`record_reply`).
If step 2 fails, step 3 never happens: no half-written reply is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import openai
from agents import Agent, MaxTurnsExceeded, Model, RunConfig, Runner
from agents.items import ToolCallItem, ToolCallOutputItem
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent

from shared.auth import Principal
from shared.schemas import ToolCallRecord

from .agent_tools import TaskTools, Turn
from .errors import DependencyTimeout, GatewayError, ModelUnavailable, TurnLimitExceeded
from .history import history_to_input
from .metrics import CHAT_TURNS, TOOL_CALLS
from .settings import GatewaySettings
from .task_server import TaskServerClient
from .tool_records import (
    call_fields,
    collect_tool_calls,
    fit_for_record,
    fit_reply,
    output_fields,
    tool_outcome,
)
from .turn_guard import TurnGuard, offered_tokens

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
class StartedTurn:
    turn: Turn
    tokens: frozenset[str]
    items: list[Any]


@dataclass(frozen=True)
class TurnEvent:
    """One Server-Sent Event of a streamed turn."""

    event: str
    data: Mapping[str, Any]


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

    def _agent(self, principal: Principal, started: StartedTurn, request_id: str | None) -> Agent[Any]:
        assert principal.token is not None
        tools = TaskTools(self.tasks, principal.token, started.turn, TurnGuard(started.tokens), request_id)
        tools.custom_data_extractor = tool_outcome
        return Agent(name="Todo assistant", instructions=INSTRUCTIONS, model=self.model, mcp_servers=[tools])

    async def _begin(
        self, principal: Principal, message: str, conversation_id: int | None, request_id: str | None
    ) -> StartedTurn:
        assert principal.token is not None
        # At least the previous message, whatever the model is given: a confirmation token counts only
        # if it was in the tool results of the assistant's message right before this one.
        limit = self.settings.history_limit
        started = await self.tasks.start_turn(
            principal.token, message, conversation_id, max(limit, 2), request_id
        )
        return StartedTurn(
            Turn(started.conversation_id, started.user_message_id),
            offered_tokens(started.messages, started.user_message_id),
            list(history_to_input(started.messages[-limit:])),
        )

    async def _finish(
        self, principal: Principal, turn: Turn, outcome: TurnOutcome, request_id: str | None
    ) -> None:
        """Store the reply. The tools have run by now, so what is stored is fitted to the task server's
        limits rather than refused by them. The key names the turn (its user message), so the one retry
        on a lost connection, answered by whichever task server replica, never stores the reply twice."""
        assert principal.token is not None
        await self.tasks.record_reply(
            principal.token,
            outcome.conversation_id,
            fit_reply(outcome.response),
            fit_for_record(outcome.tool_calls),
            request_id,
            idempotency_key=reply_key(turn),
        )

    async def run_turn(
        self, principal: Principal, message: str, conversation_id: int | None, request_id: str | None = None
    ) -> TurnOutcome:
        started = await self._begin(principal, message, conversation_id, request_id)
        conversation_id = started.turn.conversation_id
        agent = self._agent(principal, started, request_id)
        try:
            async with asyncio.timeout(self.settings.turn_timeout_seconds):
                result = await Runner.run(
                    agent, started.items, max_turns=self.settings.agent_max_turns, run_config=self.run_config
                )
        except Exception as e:
            error = _turn_error(e)
            CHAT_TURNS.labels(error.code).inc()
            raise error from e
        outcome = TurnOutcome(
            conversation_id, str(result.final_output or ""), collect_tool_calls(result.new_items)
        )
        await self._finish(principal, started.turn, outcome, request_id)
        _count(outcome)
        return outcome

    async def stream_turn(
        self, principal: Principal, message: str, conversation_id: int | None, request_id: str | None = None
    ) -> AsyncIterator[TurnEvent]:
        """The same turn as a sequence of events. Errors before the first event raise (so the HTTP layer
        can answer with a status); errors after it arrive as an `error` event and store no reply."""
        started = await self._begin(principal, message, conversation_id, request_id)
        return self._stream(principal, started, request_id)

    async def _stream(
        self, principal: Principal, started: StartedTurn, request_id: str | None
    ) -> AsyncIterator[TurnEvent]:
        conversation_id = started.turn.conversation_id
        yield TurnEvent("start", {"conversation_id": conversation_id})
        agent = self._agent(principal, started, request_id)
        run = Runner.run_streamed(
            agent, started.items, max_turns=self.settings.agent_max_turns, run_config=self.run_config
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
            await self._finish(principal, started.turn, outcome, request_id)
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


def reply_key(turn: Turn) -> str:
    """The idempotency key of a turn's reply: the same on every gateway replica, unique per turn."""
    return f"reply:{turn.conversation_id}:{turn.message_id}"


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
        call_id, name, arguments = call_fields(event.item)
        names[call_id] = name
        return [TurnEvent("tool_call", {"call_id": call_id, "name": name, "arguments": arguments})]
    if isinstance(event.item, ToolCallOutputItem):
        result, is_error = output_fields(event.item)
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
