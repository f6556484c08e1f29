"""The gateway's MCP client for the task server.

The task server runs streamable HTTP in stateless JSON mode, so every MCP request is one HTTP POST that
carries its own bearer token: no session to set up per turn (the Agents SDK's `MCPServerStreamableHttp`
costs ~30 ms to connect and list tools, and one session serialises its calls), no session shared between
users (so no cross-user cancellation), and one pooled keep-alive connection set for the whole process.
`agent_tools` adapts this to the Agents SDK: function tools built once per catalog, acting for each turn.

A request that fails in transport (connection refused or reset, timeout, a proxy's 502/503/504) is
retried once, and only when repeating it is harmless: a read-only tool, or a write carrying an
`idempotency_key` (the task server then answers the repeat with the first result).
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import aiohttp
import mcp_types
from mcp import Tool as MCPTool
from mcp.shared.inbound import (
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    encode_header_value,
)
from mcp.types import CallToolResult
from pydantic import BaseModel, ValidationError

from shared import tracing
from shared.schemas import (
    ERROR_META_KEY,
    ConversationPage,
    MessagePage,
    ReplyRecorded,
    TaskPage,
    TaskStatusFilter,
    ToolCallRecord,
    TurnStarted,
)

from .errors import (
    ConfirmationRequired,
    Conflict,
    DependencyTimeout,
    DependencyUnavailable,
    GatewayError,
    InvalidRequest,
    NotFound,
    Unauthenticated,
)
from .metrics import TASK_SERVER_REQUESTS

logger = logging.getLogger(__name__)

TASK_TOOLS_TAG = "tasks"
TOOLS_CACHE_SECONDS = 300.0
IDEMPOTENCY_KEY = "idempotency_key"
# The user's zone comes from the chat request, never from the model: hidden like the key, and sent
# by the gateway on every call of a turn that has one.
TIMEZONE = "timezone"
_HIDDEN = (IDEMPOTENCY_KEY, TIMEZONE)
# A proxy's answers that mean the request may not have reached the task server, or its answer was lost.
TRANSIENT_STATUSES = frozenset({502, 503, 504})
ResultT = TypeVar("ResultT", bound=BaseModel)

_ERROR_CODES: dict[str, type[GatewayError]] = {
    "not_found": NotFound,
    "invalid_argument": InvalidRequest,
    "unavailable": DependencyUnavailable,
    "unauthenticated": Unauthenticated,
    "conflict": Conflict,
    "confirmation_required": ConfirmationRequired,
}


class ToolCatalog:
    """The agent-facing task tools and what the gateway needs to know about each: whether it takes an
    `idempotency_key` (then the gateway supplies one) and whether it only reads (then a retry is safe).
    `for_model` is what the model sees: the same tools without `idempotency_key` and `timezone`, which
    the model must neither see nor fabricate, and without string length limits (`maxLength`,
    `minLength`): the task server enforces them and names the field when one is broken, while servers
    that turn a schema into a sampling grammar (llama-cpp-python) fail on a `maxLength` of hundreds, and
    they cost tokens."""

    def __init__(self, tools: Sequence[MCPTool]) -> None:
        self.tools = list(tools)
        self._keyed = {tool.name for tool in tools if IDEMPOTENCY_KEY in _properties(tool)}
        self._zoned = {tool.name for tool in tools if TIMEZONE in _properties(tool)}
        self._read_only = {
            tool.name for tool in tools if tool.annotations is not None and tool.annotations.read_only_hint
        }
        self.for_model = [_for_model(tool) for tool in tools]

    def takes_idempotency_key(self, name: str) -> bool:
        return name in self._keyed

    def takes_timezone(self, name: str) -> bool:
        return name in self._zoned

    def read_only(self, name: str) -> bool:
        return name in self._read_only


class _TransportFailure(Exception):
    """A request whose outcome is unknown: it may or may not have reached the task server."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class TaskServerClient:
    """One per process. aiohttp rather than httpx2 here: three of these requests sit on every chat turn,
    and aiohttp's client spends ~0.13 ms of CPU on one against httpx2's ~0.46 ms (measured on loopback)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)
        self._catalog: ToolCatalog | None = None
        self._catalog_fetched_at = 0.0

    def _session(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop, as aiohttp requires.
        if self._http is None:
            connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30, ttl_dns_cache=60)
            self._http = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, json_serialize=_dumps, trust_env=False
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def _rpc(
        self,
        method: str,
        params: dict[str, Any],
        token: str,
        request_id: str | None,
        *,
        meta: dict[str, Any] | None = None,
        retry: bool = False,
    ) -> dict[str, Any]:
        # MCP 2026-07-28 is stateless by design: each request carries its protocol version and client
        # capabilities in `params._meta`, mirrored (with the method and tool name) in headers that the
        # server checks against the body.
        version = mcp_types.LATEST_PROTOCOL_VERSION
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            MCP_PROTOCOL_VERSION_HEADER: version,
            MCP_METHOD_HEADER: method,
        }
        if "name" in params:
            headers[MCP_NAME_HEADER] = encode_header_value(str(params["name"]))
        if request_id:
            headers["X-Request-ID"] = request_id
        envelope = {
            **(meta or {}),
            mcp_types.PROTOCOL_VERSION_META_KEY: version,
            mcp_types.CLIENT_CAPABILITIES_META_KEY: {},
            mcp_types.CLIENT_INFO_META_KEY: {"name": "chat_gateway", "version": "0.1.0"},
        }
        body = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": method,
            "params": {**params, "_meta": envelope},
        }
        tool = str(params.get("name", ""))
        TASK_SERVER_REQUESTS.labels(method, tool).inc()
        carrier: dict[str, str] = {}
        with tracing.client_span(
            f"mcp {method} {tool}".rstrip(), {"mcp.method": method, "mcp.tool": tool}, carrier
        ):
            if carrier:
                # The trace context in `_meta` (MCP 2026-07-28; FastMCP reads it there) and as W3C headers.
                envelope.update(carrier)
                headers.update(carrier)
            try:
                raw = await self._post(method, body, headers)
            except _TransportFailure as failure:
                if not retry:
                    raise failure.error from failure
                logger.info("retrying %s once after a transport failure", method)
                try:
                    raw = await self._post(method, body, headers)
                except _TransportFailure as again:
                    raise again.error from again
        try:
            payload = json.loads(raw)
        except ValueError as e:
            raise DependencyUnavailable() from e
        if "error" in payload:
            logger.error("task server JSON-RPC error on %s: %s", method, payload["error"].get("code"))
            raise GatewayError()
        result: dict[str, Any] = payload["result"]
        return result

    async def _post(self, method: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
        try:
            async with self._session().post(self.url, json=body, headers=headers) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError as e:
            logger.warning("task server timed out on %s", method)
            raise _TransportFailure(DependencyTimeout()) from e
        except (aiohttp.ClientError, OSError) as e:
            logger.warning("task server unreachable on %s: %s", method, type(e).__name__)
            raise _TransportFailure(DependencyUnavailable()) from e
        if status == 401:
            raise Unauthenticated("The task service did not accept the token (check its audience).")
        if status in TRANSIENT_STATUSES:
            logger.warning("task server answered %s to %s", status, method)
            raise _TransportFailure(DependencyTimeout() if status == 504 else DependencyUnavailable())
        if status != 200:
            logger.warning("task server answered %s to %s", status, method)
            raise DependencyUnavailable()
        return raw

    async def call_tool(
        self,
        token: str,
        name: str,
        arguments: dict[str, Any] | None,
        request_id: str | None = None,
        *,
        meta: dict[str, Any] | None = None,
        retry: bool = False,
    ) -> CallToolResult:
        """`retry=True` only when a repeat is harmless (a read, or a write with an idempotency key)."""
        result = await self._rpc(
            "tools/call",
            {"name": name, "arguments": arguments or {}},
            token,
            request_id,
            meta=meta,
            retry=retry,
        )
        return CallToolResult.model_validate(result)

    async def catalog(self, token: str, request_id: str | None = None) -> ToolCatalog:
        """The agent-facing tools (tag `tasks`). The same for every user, so cached per process."""
        now = time.monotonic()
        if self._catalog is None or now - self._catalog_fetched_at > TOOLS_CACHE_SECONDS:
            result = await self._rpc("tools/list", {}, token, request_id, retry=True)
            tools = [MCPTool.model_validate(tool) for tool in result.get("tools", [])]
            self._catalog = ToolCatalog([tool for tool in tools if TASK_TOOLS_TAG in _tags(tool)])
            self._catalog_fetched_at = now
        return self._catalog

    async def task_tools(self, token: str, request_id: str | None = None) -> list[MCPTool]:
        """The agent-facing tools exactly as the task server lists them."""
        return (await self.catalog(token, request_id)).tools

    async def typed_call(
        self,
        token: str,
        name: str,
        arguments: dict[str, Any],
        result_type: type[ResultT],
        request_id: str | None,
        *,
        retry: bool = False,
    ) -> ResultT:
        result = await self.call_tool(token, name, arguments, request_id, retry=retry)
        structured = result.structured_content or {}
        if result.is_error:
            error = (result.meta or {}).get(ERROR_META_KEY) or {}
            error_type = _ERROR_CODES.get(str(error.get("code")), GatewayError)
            raise error_type(str(error.get("message") or "") or None)
        try:
            return result_type.model_validate(structured)
        except ValidationError as e:
            logger.error("task server returned an unexpected %s result", name)
            raise GatewayError() from e

    async def start_turn(
        self,
        token: str,
        message: str,
        conversation_id: int | None,
        history_limit: int,
        request_id: str | None = None,
    ) -> TurnStarted:
        arguments: dict[str, Any] = {"message": message, "history_limit": history_limit}
        if conversation_id is not None:
            arguments["conversation_id"] = conversation_id
        return await self.typed_call(token, "start_turn", arguments, TurnStarted, request_id)

    async def record_reply(
        self,
        token: str,
        conversation_id: int,
        content: str,
        tool_calls: list[ToolCallRecord],
        request_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> ReplyRecorded:
        """With `idempotency_key` (one per turn), a transport failure is retried once: if the first try
        was stored after all, the task server answers the retry with its result and stores nothing."""
        arguments: dict[str, Any] = {
            "conversation_id": conversation_id,
            "content": content,
            "tool_calls": [call.model_dump(mode="json") for call in tool_calls],
        }
        if idempotency_key is not None:
            arguments[IDEMPOTENCY_KEY] = idempotency_key
        return await self.typed_call(
            token,
            "record_reply",
            arguments,
            ReplyRecorded,
            request_id,
            retry=idempotency_key is not None,
        )

    async def list_conversations(
        self, token: str, limit: int, cursor: str | None, request_id: str | None = None
    ) -> ConversationPage:
        arguments: dict[str, Any] = {"limit": limit}
        if cursor:
            arguments["cursor"] = cursor
        return await self.typed_call(
            token, "list_conversations", arguments, ConversationPage, request_id, retry=True
        )

    async def list_tasks(
        self,
        token: str,
        status: TaskStatusFilter,
        limit: int,
        cursor: str | None,
        request_id: str | None = None,
    ) -> TaskPage:
        """The caller's tasks, as `list_tasks` pages them (oldest first); a read, so retried once."""
        arguments: dict[str, Any] = {"status": status, "limit": limit}
        if cursor:
            arguments["cursor"] = cursor
        return await self.typed_call(token, "list_tasks", arguments, TaskPage, request_id, retry=True)

    async def conversation_messages(
        self, token: str, conversation_id: int, limit: int, cursor: str | None, request_id: str | None = None
    ) -> MessagePage:
        arguments: dict[str, Any] = {"conversation_id": conversation_id, "limit": limit}
        if cursor:
            arguments["cursor"] = cursor
        return await self.typed_call(
            token, "get_conversation_messages", arguments, MessagePage, request_id, retry=True
        )

    async def ready(self) -> bool:
        """The task server's own readiness probe (its database answers)."""
        probe = self.url.rsplit("/mcp", 1)[0] + "/readyz"
        try:
            async with self._session().get(probe, timeout=aiohttp.ClientTimeout(total=2.0)) as response:
                return response.status == 200
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _tags(tool: MCPTool) -> list[str]:
    meta = tool.meta or {}
    fastmcp_meta = meta.get("fastmcp", {}) if isinstance(meta, dict) else {}
    tags = fastmcp_meta.get("tags", []) if isinstance(fastmcp_meta, dict) else []
    return [str(tag) for tag in tags]


def _properties(tool: MCPTool) -> dict[str, Any]:
    properties = (tool.input_schema or {}).get("properties")
    return properties if isinstance(properties, dict) else {}


def _for_model(tool: MCPTool) -> MCPTool:
    schema = copy.deepcopy(tool.input_schema)
    for hidden in _HIDDEN:
        schema.get("properties", {}).pop(hidden, None)
    if isinstance(schema.get("required"), list):
        schema["required"] = [name for name in schema["required"] if name not in _HIDDEN]
    return tool.model_copy(update={"input_schema": _without_length_limits(schema)})


def _without_length_limits(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            key: _without_length_limits(value)
            for key, value in schema.items()
            if key not in ("maxLength", "minLength") or not isinstance(value, int)
        }
    if isinstance(schema, list):
        return [_without_length_limits(value) for value in schema]
    return schema
