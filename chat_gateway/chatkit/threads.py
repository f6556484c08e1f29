"""The task server's thread tools, as the ChatKit store calls them: one MCP request each, as the caller.

Reads are retried once after a transport failure; writes only when they carry an idempotency key (the
task server then answers a repeat with the first result), and a thread or item upsert with the same
arguments is harmless to repeat, so those are retried too.
"""

from __future__ import annotations

from typing import Any

from shared.schemas import (
    ItemDeleted,
    ItemPage,
    ItemSaved,
    ThreadDeleted,
    ThreadOut,
    ThreadPage,
    ThreadWindow,
    ToolCallRecord,
)

from ..task_server import IDEMPOTENCY_KEY, ResultT, TaskServerClient


class ThreadsClient:
    def __init__(self, tasks: TaskServerClient, token: str, request_id: str | None) -> None:
        self.tasks = tasks
        self.token = token
        self.request_id = request_id

    async def save_thread(
        self,
        thread_id: str,
        *,
        title: str | None = None,
        status: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ThreadOut:
        arguments: dict[str, Any] = {"thread_id": thread_id}
        for name, value in (("title", title), ("status", status), ("metadata", metadata)):
            if value is not None:
                arguments[name] = value
        return await self._call("save_thread", arguments, ThreadOut)

    async def get_thread(self, thread_id: str, history_limit: int = 0) -> ThreadWindow:
        return await self._call(
            "get_thread", {"thread_id": thread_id, "history_limit": history_limit}, ThreadWindow
        )

    async def list_threads(self, limit: int, after: str | None, order: str) -> ThreadPage:
        arguments: dict[str, Any] = {"limit": limit, "order": order}
        if after:
            arguments["after"] = after
        return await self._call("list_threads", arguments, ThreadPage)

    async def delete_thread(self, thread_id: str) -> ThreadDeleted:
        return await self._call("delete_thread", {"thread_id": thread_id}, ThreadDeleted, retry=False)

    async def save_item(
        self,
        thread_id: str,
        item: dict[str, Any],
        *,
        tool_calls: list[ToolCallRecord] | None = None,
        history_limit: int = 0,
        idempotency_key: str | None = None,
    ) -> ItemSaved:
        arguments: dict[str, Any] = {"thread_id": thread_id, "item": item}
        if tool_calls:
            arguments["tool_calls"] = [call.model_dump(mode="json") for call in tool_calls]
        if history_limit:
            arguments["history_limit"] = history_limit
        if idempotency_key is not None:
            arguments[IDEMPOTENCY_KEY] = idempotency_key
        return await self._call("save_thread_item", arguments, ItemSaved)

    async def list_items(
        self,
        thread_id: str,
        *,
        after: str | None = None,
        limit: int = 20,
        order: str = "asc",
        item_id: str | None = None,
    ) -> ItemPage:
        arguments: dict[str, Any] = {"thread_id": thread_id, "limit": limit, "order": order}
        if after:
            arguments["after"] = after
        if item_id:
            arguments["item_id"] = item_id
        return await self._call("list_thread_items", arguments, ItemPage)

    async def delete_item(self, thread_id: str, item_id: str) -> ItemDeleted:
        return await self._call(
            "delete_thread_item", {"thread_id": thread_id, "item_id": item_id}, ItemDeleted
        )

    async def _call(
        self, name: str, arguments: dict[str, Any], result: type[ResultT], *, retry: bool = True
    ) -> ResultT:
        return await self.tasks.typed_call(self.token, name, arguments, result, self.request_id, retry=retry)
