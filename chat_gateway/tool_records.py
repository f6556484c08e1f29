"""What a turn reports and stores about its tool calls.

Every call is reported in order with its name, arguments, result and error flag. What is stored must
always fit the task server's `record_reply` limits, because by then the tools have run and a refusal
would lose the record of real changes: when a turn's calls are too bulky, the bulkiest results (a page
of `list_tasks`, a 500-task preview) give way to a compact summary that keeps every scalar field (ids,
status, count, `confirmation_token`), and every call keeps its name and error flag.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict, deque
from collections.abc import Mapping, Sequence
from typing import Any

from agents.items import RunItem, ToolCallItem, ToolCallOutputItem
from agents.mcp.util import MCPToolCustomDataContext

from shared.schemas import ToolCallRecord

from .task_server import IDEMPOTENCY_KEY

# Below the task server's own limits (mcp_task_server/conversations/tools.py: 1000 calls, 4 MiB, a reply of
# 32,000 characters), with room to spare so a change of measure there never fails a turn here.
RECORD_MAX_CALLS = 1000
RECORD_MAX_BYTES = 3 * 1024 * 1024
REPLY_MAX_CHARS = 32_000
_SUMMARY_FIELDS = 12
_SUMMARY_TEXT = 160
_ERROR_TEXT = 1000


def tool_outcome(context: MCPToolCustomDataContext) -> dict[str, Any]:
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
    """The turn's calls in order. An output belongs to the oldest unanswered call with its id: some
    OpenAI-compatible servers reuse ids (`call_0`) across responses, and no call may be lost."""
    records: list[ToolCallRecord] = []
    waiting: defaultdict[str, deque[ToolCallRecord]] = defaultdict(deque)
    for item in items:
        if isinstance(item, ToolCallItem):
            call_id, name, arguments = call_fields(item)
            record = ToolCallRecord(name=name, arguments=arguments)
            records.append(record)
            waiting[call_id].append(record)
        elif isinstance(item, ToolCallOutputItem) and waiting.get(item.call_id or ""):
            record = waiting[item.call_id or ""].popleft()
            record.result, record.is_error = output_fields(item)
    return records


def call_fields(item: ToolCallItem) -> tuple[str, str, dict[str, Any]]:
    raw = item.raw_item
    get = raw.get if isinstance(raw, dict) else lambda key, default=None: getattr(raw, key, default)
    call_id = str(get("call_id", "") or get("id", ""))
    try:
        arguments = json.loads(get("arguments", "") or "{}")
    except ValueError:
        arguments = {"_unparsed": str(get("arguments", ""))}
    if not isinstance(arguments, dict):
        arguments = {"value": arguments}
    # The gateway, not the model, chooses the key; one the model made up was never sent.
    arguments.pop(IDEMPOTENCY_KEY, None)
    return call_id, str(get("name", "tool")), arguments


def output_fields(item: ToolCallOutputItem) -> tuple[Any, bool]:
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


def fit_reply(content: str) -> str:
    if len(content) <= REPLY_MAX_CHARS:
        return content
    return content[: REPLY_MAX_CHARS - 1] + "…"


def fit_for_record(
    calls: Sequence[ToolCallRecord], *, max_calls: int = RECORD_MAX_CALLS, max_bytes: int = RECORD_MAX_BYTES
) -> list[ToolCallRecord]:
    """The calls as they can be stored: all of them when they fit, else compacted until they do."""
    records = list(calls)
    if len(records) > max_calls:
        # Far beyond any real turn (the agent's step limit comes first), but still never a failure.
        records = [*records[: max_calls - 1], _merged(records[max_calls - 1 :])]
    sizes = [_size(record) for record in records]
    # The list's brackets and the ", " between items, as json.dumps writes them.
    total = sum(sizes) + 2 + 2 * max(len(records) - 1, 0)
    if total <= max_bytes:
        return records
    bulkiest = sorted(range(len(records)), key=lambda index: sizes[index], reverse=True)
    for field in ("result", "arguments"):
        for index in bulkiest:
            if total <= max_bytes:
                return records
            record = records[index]
            compact = record.model_copy(update={field: _summary(getattr(record, field))})
            new_size = _size(compact)
            if new_size < sizes[index]:
                total -= sizes[index] - new_size
                records[index], sizes[index] = compact, new_size
    return records


def _size(record: ToolCallRecord) -> int:
    # Measured as the task server measures it: json.dumps with its default separators.
    return len(json.dumps(record.model_dump(mode="json")))


def _summary(value: Any) -> Any:
    """A bounded stand-in for a bulky value: scalar fields kept (long text cut), collections counted."""
    if isinstance(value, str):
        return value if len(value) <= _ERROR_TEXT else value[: _ERROR_TEXT - 1] + "…"
    if not isinstance(value, Mapping):
        return {"omitted": "too large to store"}
    summary: dict[str, Any] = {"compacted": True}
    for key, item in list(value.items())[:_SUMMARY_FIELDS]:
        name = str(key)[:64]
        if isinstance(item, str):
            summary[name] = item if len(item) <= _SUMMARY_TEXT else item[: _SUMMARY_TEXT - 1] + "…"
        elif item is None or isinstance(item, bool | int | float):
            summary[name] = item
        elif isinstance(item, list | tuple):
            summary[name] = f"{len(item)} items not stored"
        else:
            summary[name] = "not stored"
    return summary


def _merged(records: Sequence[ToolCallRecord]) -> ToolCallRecord:
    counts = Counter(record.name for record in records)
    errors = sum(record.is_error for record in records)
    return ToolCallRecord(
        name="more_tool_calls",
        arguments={"count": len(records), "by_tool": dict(counts.most_common(_SUMMARY_FIELDS))},
        result=f"{len(records)} further tool calls ({errors} failed) were made but not stored one by one.",
        is_error=errors > 0,
    )
