"""The task tools as the agent sees them for one chat turn, acting as one user.

Every tool call the model proposes, whichever model it is, passes through `TaskTools.call_tool`:
- the confirmation rule (`turn_guard`) admits or refuses it before anything is sent;
- a write that takes an `idempotency_key` gets one derived from the turn and the call, replacing any
  the model sent (the model never sees the argument: `ToolCatalog.for_model` hides it), so a retried
  request never acts twice;
- the request carries the turn marker `_meta["todo-chat/turn"]`, so the task server's activity log
  names the conversation that made the change.

The Agents SDK turns an `MCPServer`'s tools into function tools on every model call (a deep copy and a
walk of each schema: 16% of the gateway's CPU per turn, measured with py-spy). The tools are the same for
every user and turn, so `agent_tools` builds them once per catalog, against one process-wide server
(`_TurnDispatch`), which hands each call to the turn's `TaskTools`, found in a context variable that the
turn sets before the run starts (the SDK runs tools in tasks created inside the run, which copy it).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from agents import FunctionTool, ModelBehaviorError, RunContextWrapper
from agents.mcp import MCPServer, MCPUtil
from mcp import Tool as MCPTool
from mcp.types import CallToolResult, GetPromptResult, ListPromptsResult, TextContent

from shared.schemas import ERROR_META_KEY, TURN_META_KEY

from .task_server import IDEMPOTENCY_KEY, TIMEZONE, TaskServerClient, ToolCatalog
from .tool_records import tool_outcome
from .turn_guard import TurnGuard


@dataclass(frozen=True)
class Turn:
    """The chat turn the tools act for: the conversation and the user message `start_turn` stored.
    `keys_from` is the user message whose turn this one retries (see failed_turns), else its own."""

    conversation_id: int
    message_id: int
    keys_from: int | None = None
    timezone: str | None = None

    @property
    def marker(self) -> dict[str, Any]:
        return {TURN_META_KEY: {"conversation_id": self.conversation_id, "message_id": self.message_id}}


class IdempotencyKeys:
    """Keys of the form `chat:<conversation>:<message>:<call>:<n>`: `<call>` is a digest of the tool
    name and its canonical arguments, and `n` counts repeats within the turn, so two calls the model made
    on purpose stay two calls. Not the SDK's call id: models make new ids on every generation, while a
    retried turn (`Turn.keys_from`) that makes the same call must get the same key, so that the task
    server answers it with the first result instead of acting twice. A transport retry resends the same
    request, so the same key."""

    def __init__(self, turn: Turn) -> None:
        self._prefix = f"chat:{turn.conversation_id}:{turn.keys_from or turn.message_id}"
        self._seen: Counter[str] = Counter()

    def next(self, tool: str, arguments: dict[str, Any]) -> str:
        identity = _digest(tool + "\0" + json.dumps(arguments, sort_keys=True, separators=(",", ":")))
        self._seen[identity] += 1
        return f"{self._prefix}:{identity}:{self._seen[identity]}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def tool_failure(_: RunContextWrapper[Any], error: Exception) -> str:
    """What the model reads when its call could not even be made: enough to correct it, and nothing
    from inside the gateway (the SDK's default hides the reason, so a model would repeat the mistake)."""
    if isinstance(error, ModelBehaviorError) and str(error).startswith("Invalid JSON input for tool"):
        if "expected a JSON object" in str(error):
            return "Error: the arguments must be a JSON object of the tool's parameters, not a list."
        return "Error: the arguments were not valid JSON. Send one JSON object with the tool's parameters."
    return "Error: the tool call failed. Check the tool's parameters and try once more."


def refusal(message: str) -> CallToolResult:
    """What the model reads when the confirmation rule refuses a call: a tool error like the server's."""
    return CallToolResult(
        content=[TextContent(type="text", text=message)],
        is_error=True,
        _meta={ERROR_META_KEY: {"code": "confirmation_required", "message": message}},
    )


class TaskTools:
    """One cheap instance per turn, bound to the caller's token, the turn and its guard."""

    def __init__(
        self,
        client: TaskServerClient,
        token: str,
        turn: Turn,
        guard: TurnGuard,
        request_id: str | None = None,
    ) -> None:
        self._client = client
        self._token = token
        self._turn = turn
        self._guard = guard
        self._keys = IdempotencyKeys(turn)
        self._request_id = request_id

    @contextmanager
    def bound(self) -> Iterator[None]:
        """The tools' calls, while this is open (and in tasks created meanwhile), act for this turn."""
        reset = _CURRENT.set(self)
        try:
            yield
        finally:
            _CURRENT.reset(reset)

    async def call_tool(self, tool_name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        arguments = {
            key: value for key, value in (arguments or {}).items() if key not in (IDEMPOTENCY_KEY, TIMEZONE)
        }
        catalog = await self._client.catalog(self._token, self._request_id)
        # The guard reserves synchronously, so calls the SDK runs concurrently count against each other.
        admission = self._guard.admit(tool_name, arguments)
        if admission.refusal is not None:
            return refusal(admission.refusal)
        keyed = catalog.takes_idempotency_key(tool_name)
        if keyed:
            arguments[IDEMPOTENCY_KEY] = self._keys.next(tool_name, arguments)
        if self._turn.timezone and catalog.takes_timezone(tool_name):
            arguments[TIMEZONE] = self._turn.timezone
        result = await self._client.call_tool(
            self._token,
            tool_name,
            arguments,
            self._request_id,
            meta=self._turn.marker,
            retry=keyed or catalog.read_only(tool_name),
        )
        self._guard.settle(
            tool_name, admission, is_error=bool(result.is_error), result=result.structured_content
        )
        return result


_CURRENT: ContextVar[TaskTools] = ContextVar("chat_gateway_task_tools")


class _TurnDispatch(MCPServer):
    """The one server the SDK's function tools are built against: each call goes to the current turn's
    `TaskTools`. Structured content is the tool's typed result (the text content duplicates it)."""

    def __init__(self) -> None:
        super().__init__(
            use_structured_content=True,
            failure_error_function=tool_failure,
            custom_data_extractor=tool_outcome,
        )

    @property
    def name(self) -> str:
        return "tasks"

    async def connect(self) -> None:
        """Nothing to open: every call is a self-contained HTTP request on the shared pool."""

    async def cleanup(self) -> None:
        """Nothing to close."""

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[MCPTool]:
        raise NotImplementedError("the tools are built once per catalog (agent_tools)")

    async def call_tool(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> CallToolResult:
        tools = _CURRENT.get(None)
        if tools is None:  # A tool called outside a turn: a bug, reported to the model as a failed call.
            raise RuntimeError("a task tool was called outside a chat turn")
        return await tools.call_tool(tool_name, arguments)

    async def list_prompts(self) -> ListPromptsResult:
        return ListPromptsResult(prompts=[])

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> GetPromptResult:
        raise NotImplementedError("the task server has no prompts")


_DISPATCH = _TurnDispatch()
_BUILT: dict[int, tuple[ToolCatalog, list[FunctionTool]]] = {}


def agent_tools(catalog: ToolCatalog) -> list[FunctionTool]:
    """The catalog's tools as the SDK's function tools, built once per catalog (it is refetched every
    few minutes, and the last one built is kept)."""
    built = _BUILT.get(id(catalog))
    if built is None or built[0] is not catalog:
        tools = [
            MCPUtil.to_function_tool(tool, _DISPATCH, convert_schemas_to_strict=False)
            for tool in catalog.for_model
        ]
        _BUILT.clear()
        _BUILT[id(catalog)] = built = (catalog, tools)
    return built[1]
