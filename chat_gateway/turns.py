"""One chat turn, start to finish, with nothing kept in the gateway.

1. The task server stores the user's message and returns the recent window (`start_turn`).
2. The agent runs over the window (trimmed to the model's context, `budget`) with the task tools, acting
   as the caller (their token is forwarded).
3. The task server records the reply and the tool calls (`record_reply`).
If step 2 fails, the turn still records what it did: a note saying it failed, with the tool calls that
ran (`failed_turns`); the error the client gets names the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from agents import Agent, MaxTurnsExceeded, Model, ModelBehaviorError, RunConfig, Runner, RunResultStreaming
from agents.items import RunItem, ToolCallItem, ToolCallOutputItem
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent

from shared import tracing
from shared.auth import Principal
from shared.schemas import MessageOut, ToolCallRecord

from .agent_tools import TaskTools, Turn, agent_tools
from .budget import BudgetFilter, ContextBudget, estimate_tools
from .errors import DependencyTimeout, GatewayError, ModelError, ModelUnavailable, TurnLimitExceeded
from .failed_turns import failure_note, retried_message_id
from .history import history_to_input
from .llm import model_settings
from .metrics import CHAT_TURNS, TOOL_CALLS
from .model_guard import ModelCalls, short_reason, watch_calls
from .settings import BUILTIN_MODEL, GatewaySettings
from .suggestions import Suggestion, suggest
from .task_server import TaskServerClient, ToolCatalog
from .tool_records import call_fields, collect_tool_calls, fit_for_record, fit_reply, output_fields
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

    @property
    def suggestions(self) -> list[Suggestion]:
        """One-tap replies a client may offer (confirm a preview, undo a change): see suggestions.py."""
        return suggest(self.tool_calls)


@dataclass(frozen=True)
class StartedTurn:
    turn: Turn
    tokens: frozenset[str]
    items: list[Any]
    tool_tokens: int = 0


# Stores a turn's reply (the tools have run): /chat's record_reply, or a ChatKit thread item.
RecordReply = Callable[["TurnOutcome"], Awaitable[None]]


@dataclass(frozen=True)
class TurnEvent:
    """One Server-Sent Event of a streamed turn; the last (`done`) also carries the outcome."""

    event: str
    data: Mapping[str, Any]
    outcome: TurnOutcome | None = None


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
        self.model_settings = model_settings(settings)
        # The builtin model reads its window itself and has no context limit to respect.
        self.budget = (
            None
            if settings.model_name == BUILTIN_MODEL
            else ContextBudget(settings.model_context_tokens, settings.model_max_tokens)
        )
        # Failed-turn notes recorded after the client went away (the request's task is cancelled).
        self._background: set[asyncio.Task[None]] = set()
        self._agent_built: tuple[ToolCatalog, Agent[Any]] | None = None

    async def drain(self) -> None:
        """At shutdown, before the task server client closes: let pending failure notes be stored."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=5.0)

    def _run_config(self, tool_tokens: int) -> RunConfig:
        return RunConfig(
            tracing_disabled=not self.settings.agent_tracing,
            trace_include_sensitive_data=False,
            workflow_name="todo-chat turn",
            # A tool name the model made up is answered like a failed tool call, which it can correct.
            tool_not_found_behavior="return_error_to_model",
            call_model_input_filter=BudgetFilter(self.budget, tool_tokens) if self.budget else None,
        )

    async def _agent(self, principal: Principal, request_id: str | None) -> Agent[Any]:
        """The agent, built once per tool catalog: nothing in it depends on the turn (the tools find
        theirs through `TaskTools.bound`)."""
        assert principal.token is not None
        catalog = await self.tasks.catalog(principal.token, request_id)
        if self._agent_built is None or self._agent_built[0] is not catalog:
            agent = Agent(
                name="Todo assistant",
                instructions=INSTRUCTIONS,
                model=self.model,
                model_settings=self.model_settings,
                tools=list(agent_tools(catalog)),
                # The SDK drops tool_choice after the first tool call (against "required" loops); servers
                # that need it to see the tools at all (llama-cpp-python) must get "auto" on every call.
                reset_tool_choice=self.settings.model_tool_choice == "required",
            )
            self._agent_built = (catalog, agent)
        return self._agent_built[1]

    async def _begin(
        self,
        principal: Principal,
        message: str,
        conversation_id: int | None,
        request_id: str | None,
        timezone: str | None = None,
    ) -> StartedTurn:
        tool_tokens = await self.check_fits(principal, message, request_id)
        assert principal.token is not None
        started = await self.tasks.start_turn(
            principal.token, message, conversation_id, self.window_size, request_id
        )
        return self.from_window(
            started.conversation_id, started.user_message_id, started.messages, timezone, tool_tokens
        )

    @property
    def window_size(self) -> int:
        """How many messages a turn reads: at least the two before this one, whatever the model is given,
        since a confirmation token counts only if it was in the reply right before this message, and a
        retry of a failed turn is recognised by the failed try and its note (failed_turns)."""
        return max(self.settings.history_limit, 3)

    async def check_fits(self, principal: Principal, message: str, request_id: str | None) -> int:
        """Refuse a message that cannot fit the model's context before anything is stored; returns the
        tool list's estimated tokens (0 for the builtin model, which has no context limit)."""
        if self.budget is None:
            return 0
        assert principal.token is not None
        catalog = await self.tasks.catalog(principal.token, request_id)
        tool_tokens = estimate_tools(catalog.for_model)
        self.budget.check_message(message, INSTRUCTIONS, tool_tokens)
        return tool_tokens

    def from_window(
        self,
        conversation_id: int,
        user_message_id: int,
        window: Sequence[MessageOut],
        timezone: str | None,
        tool_tokens: int,
    ) -> StartedTurn:
        """The turn for the user message `user_message_id`, stored already, given the window that ends
        with it (from `start_turn` for /chat, from the thread store for ChatKit)."""
        keys_from = retried_message_id(window, user_message_id)
        return StartedTurn(
            Turn(
                conversation_id,
                user_message_id,
                keys_from if keys_from != user_message_id else None,
                timezone,
            ),
            offered_tokens(window, user_message_id),
            list(history_to_input(window[-self.settings.history_limit :])),
            tool_tokens,
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

    async def _record_failure(
        self,
        principal: Principal,
        turn: Turn,
        error: GatewayError,
        items: Sequence[RunItem],
        partial: str,
        request_id: str | None,
    ) -> None:
        """Store what a failed turn did, as its reply: the note and the tool calls that ran."""
        assert principal.token is not None
        calls = collect_tool_calls(items)
        try:
            await self.tasks.record_reply(
                principal.token,
                turn.conversation_id,
                fit_reply(failure_note(error, calls, partial)),
                fit_for_record(calls),
                request_id,
                idempotency_key=f"failed:{turn.conversation_id}:{turn.message_id}",
            )
        except GatewayError as e:
            logger.warning("could not record the failed turn: %s", e.code)
        except Exception as e:  # In the background after the client left, possibly during shutdown.
            logger.warning("could not record the failed turn: %s", type(e).__name__)

    async def run_turn(
        self,
        principal: Principal,
        message: str,
        conversation_id: int | None,
        request_id: str | None = None,
        *,
        timezone: str | None = None,
    ) -> TurnOutcome:
        started = await self._begin(principal, message, conversation_id, request_id, timezone)
        async for event in self._execute(principal, started, request_id):
            if event.outcome is not None:
                return event.outcome
        raise GatewayError()  # _execute ends with `done` or raises.

    async def stream_turn(
        self,
        principal: Principal,
        message: str,
        conversation_id: int | None,
        request_id: str | None = None,
        *,
        timezone: str | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """The same turn as a sequence of events. Errors before the first event raise (so the HTTP layer
        can answer with a status); errors after it arrive as an `error` event, with the conversation."""
        started = await self._begin(principal, message, conversation_id, request_id, timezone)
        return self._stream(principal, started, request_id)

    def execute(
        self, principal: Principal, started: StartedTurn, request_id: str | None, record: RecordReply
    ) -> AsyncIterator[TurnEvent]:
        """Run a turn that started elsewhere (ChatKit), storing its reply with `record`. Yields `delta`,
        `tool_call`, `tool_result` and `done`, or raises the turn's GatewayError after recording a failure
        note in the conversation, as /chat does."""
        return self._execute(principal, started, request_id, record)

    async def _stream(
        self, principal: Principal, started: StartedTurn, request_id: str | None
    ) -> AsyncIterator[TurnEvent]:
        conversation_id = started.turn.conversation_id
        yield TurnEvent("start", {"conversation_id": conversation_id})
        try:
            async for event in self._execute(principal, started, request_id):
                yield event
        except GatewayError as error:
            yield TurnEvent(
                "error",
                {"error": {"code": error.code, "message": error.message}, "conversation_id": conversation_id},
            )

    async def _execute(
        self,
        principal: Principal,
        started: StartedTurn,
        request_id: str | None,
        record: RecordReply | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Runs the agent, streaming from the model in every case so that stopping the turn (timeout, a
        client gone) closes the model's response and so stops its generation. Ends with a `done` event
        carrying the outcome, or raises the turn's GatewayError after recording what the turn did."""
        turn = started.turn
        calls = watch_calls()
        span = tracing.TurnSpan(
            "chat turn", {"conversation.id": turn.conversation_id, "message.id": turn.message_id}
        )
        assert principal.token is not None
        tools = TaskTools(self.tasks, principal.token, turn, TurnGuard(started.tokens), request_id)
        run: RunResultStreaming | None = None
        names: dict[str, str] = {}
        settled = False
        try:
            async with asyncio.timeout(self.settings.turn_timeout_seconds):
                agent = await self._agent(principal, request_id)
                # The run's task copies the context (the span, the turn's tools) as it is created.
                with span.current(), tools.bound():
                    run = Runner.run_streamed(
                        agent,
                        started.items,
                        max_turns=self.settings.agent_max_turns,
                        run_config=self._run_config(started.tool_tokens),
                    )
                async for event in run.stream_events():
                    for turn_event in _translate(event, names):
                        yield turn_event
            response = str(run.final_output or "")
            _check_reply(response, calls)
            outcome = TurnOutcome(turn.conversation_id, response, collect_tool_calls(run.new_items))
            with span.current():
                if record is None:
                    await self._finish(principal, turn, outcome, request_id)
                else:
                    await record(outcome)
            settled = True
        except Exception as e:
            settled = True
            if run is not None:
                run.cancel()
            error = _turn_error(e)
            _log_failure(error)
            partial = str(run.final_output or "") if run is not None and error.code == "model_error" else ""
            span.fail(error.code)
            with span.current():
                items = run.new_items if run is not None else []
                await self._record_failure(principal, turn, error, items, partial, request_id)
            error.conversation_id = turn.conversation_id
            raise error from e
        finally:
            if not settled:
                # The client went away (the request was cancelled) or stopped reading: stop the model,
                # and record the turn in the background, since this task is being torn down.
                if run is not None:
                    run.cancel()
                _log_failure(ClientGone())
                span.fail(ClientGone.code)
                with span.current():
                    task = asyncio.create_task(
                        self._record_failure(
                            principal,
                            turn,
                            ClientGone(),
                            list(run.new_items) if run is not None else [],
                            "",
                            request_id,
                        )
                    )
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            span.end()
        _count(outcome)
        yield TurnEvent(
            "done",
            {
                "conversation_id": outcome.conversation_id,
                "response": outcome.response,
                "tool_calls": [call.model_dump(mode="json") for call in outcome.tool_calls],
                "suggestions": outcome.suggestions,
            },
            outcome,
        )


class ClientGone(GatewayError):
    """Not sent to anyone (the client left); names the failure in the log and the stored note."""

    status_code = 499
    code = "client_closed"
    default_message = "The connection closed before the reply was ready."


def _check_reply(response: str, calls: ModelCalls) -> None:
    if calls.last_finish_reason == "length":
        error = ModelError(
            "The language model's reply was cut off at its length limit. Ask for less at once."
        )
        error.reason = "finish_reason length"
        raise error
    if not response.strip():
        error = ModelError("The language model returned an empty reply. Try rephrasing.")
        error.reason = "empty final output"
        raise error


def _log_failure(error: GatewayError) -> None:
    CHAT_TURNS.labels(error.code).inc()
    logger.warning("turn failed: %s%s", error.code, f" ({error.reason})" if error.reason else "")


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
    """Map whatever stopped the agent to the gateway's error tree, with a reason for the log."""
    found = _find_gateway_error(error)
    if found is not None:
        return found
    mapped: GatewayError
    if isinstance(error, TimeoutError):
        mapped = DependencyTimeout("The assistant took too long to answer and was stopped.")
    elif isinstance(error, MaxTurnsExceeded):
        mapped = TurnLimitExceeded()
    elif (
        isinstance(error, openai.APIStatusError)
        and 400 <= error.status_code < 500
        and error.status_code != 429
    ):
        # The model server refused the request itself (a setting it does not support, a bad key or
        # model name): a retry will not help.
        mapped = ModelError("The language model refused the request.")
    elif isinstance(error, openai.APITimeoutError):
        mapped = DependencyTimeout("The language model took too long to answer.")
    elif isinstance(error, openai.APIError | httpx2.HTTPError):
        # 5xx, 429, a refused connection, or a stream that broke off.
        mapped = ModelUnavailable()
    elif isinstance(error, ModelBehaviorError):
        mapped = ModelError()
    else:
        logger.error("turn failed: %s", type(error).__name__, exc_info=logger.isEnabledFor(logging.DEBUG))
        return GatewayError()
    mapped.reason = short_reason(error)
    return mapped
