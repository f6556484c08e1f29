"""The confirmation rule, the gateway's idempotency keys and the fitting of a turn's record, without I/O.

The same behaviour is exercised end to end, through the gateway and task server processes, in
`test_turn_safety.py`; these tests pin the edges that are awkward to reach from a chat script.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from mcp import Tool as MCPTool
from mcp.types import ToolAnnotations

from chat_gateway.agent_tools import IdempotencyKeys, Turn
from chat_gateway.task_server import ToolCatalog
from chat_gateway.tool_records import RECORD_MAX_BYTES, RECORD_MAX_CALLS, REPLY_MAX_CHARS, fit_for_record
from chat_gateway.turn_guard import TurnGuard, offered_tokens
from mcp_task_server.conversations.tools import MAX_TOOL_CALLS_BYTES, MAX_TOOL_CALLS_PER_REPLY
from mcp_task_server.models import MESSAGE_MAX
from shared.schemas import MessageOut, ToolCallRecord

KEY_PATTERN = r"[A-Za-z0-9._:-]{1,200}"


def _message(id_: int, role: str, calls: list[ToolCallRecord] | None = None) -> MessageOut:
    return MessageOut(id=id_, role=role, content="", tool_calls=calls, created_at=datetime.now(UTC))


def _preview(token: str, name: str = "delete_tasks", **overrides: Any) -> ToolCallRecord:
    result = {"status": "confirmation_required", "count": 2, "tasks": [], "confirmation_token": token}
    return ToolCallRecord(name=name, arguments={"status": "all"}, result=result, **overrides)


def test_only_tokens_from_the_assistant_message_right_before_the_user_message_are_offered() -> None:
    window = [
        _message(1, "user"),
        _message(2, "assistant", [_preview("old")]),
        _message(3, "user"),
        _message(4, "assistant", [_preview("fresh"), _preview("failed", is_error=True)]),
        _message(5, "user"),
    ]
    assert offered_tokens(window, 5) == {"fresh"}
    assert offered_tokens(window, 3) == {"old"}
    # After a turn that stored no reply, the previous message is the user's own: nothing is confirmed.
    assert offered_tokens([*window[:4], _message(5, "user"), _message(6, "user")], 6) == frozenset()
    assert offered_tokens(window, 99) == frozenset()
    # A token somewhere else than a bulk tool's result (say, a task titled like one) is no preview.
    lookalike = ToolCallRecord(name="add_task", result={"confirmation_token": "sneaky"})
    assert offered_tokens([_message(1, "assistant", [lookalike]), _message(2, "user")], 2) == frozenset()


def test_one_delete_and_three_changed_tasks_per_turn() -> None:
    guard = TurnGuard()
    assert guard.admit("delete_task", {"task_id": 1}).refusal is None
    assert "delete_tasks" in str(guard.admit("delete_task", {"task_id": 2}).refusal)
    assert guard.admit("complete_task", {"task_id": 2}).refusal is None
    # The same task again is not a new one; "2" and 2 are the same task.
    assert guard.admit("update_task", {"task_id": "2", "title": "x"}).refusal is None
    assert guard.admit("update_task", {"task_id": 3, "title": "x"}).refusal is None
    assert "complete_tasks" in str(guard.admit("complete_task", {"task_id": 4}).refusal)
    assert guard.admit("undo", {}).refusal is not None
    # Reads, adds and restores are never limited.
    for tool in ("list_tasks", "add_task", "restore_task", "list_activity"):
        assert guard.admit(tool, {"task_id": 9}).refusal is None


def test_a_failed_call_gives_its_allowance_back_and_new_tasks_are_free() -> None:
    guard = TurnGuard()
    failed = guard.admit("delete_task", {"task_id": 1})
    guard.settle("delete_task", failed, is_error=True, result=None)
    trashed = guard.admit("delete_task", {"task_id": 2})
    assert trashed.refusal is None
    guard.settle("delete_task", trashed, is_error=False, result={"task_id": 2})
    added = guard.admit("add_task", {"title": "new"})
    guard.settle("add_task", added, is_error=False, result={"task_id": 10})
    # The turn's own task may be changed and deleted beyond the limits: it is not the user's old list.
    assert guard.admit("delete_task", {"task_id": 10}).refusal is None
    assert guard.admit("delete_task", {"task_id": 3}).refusal is not None


def test_undo_calls_count_as_changes() -> None:
    guard = TurnGuard()
    admissions = [guard.admit("undo", {}) for _ in range(3)]
    assert all(admission.refusal is None for admission in admissions)
    assert guard.admit("undo", {"change_id": 7}).refusal is not None
    guard.settle("undo", admissions[0], is_error=True, result=None)
    assert guard.admit("undo", {}).refusal is None


def test_a_confirmation_token_must_have_been_offered() -> None:
    guard = TurnGuard(frozenset({"shown"}))
    assert guard.admit("delete_tasks", {"confirmation_token": "shown"}).refusal is None
    for token in ("other", "", 0):
        assert guard.admit("complete_tasks", {"confirmation_token": token}).refusal is not None
    # Previews (no token) are always allowed: they change nothing.
    assert guard.admit("delete_tasks", {"status": "all"}).refusal is None
    assert guard.admit("delete_tasks", {"status": "all", "confirmation_token": None}).refusal is None


def test_idempotency_keys_are_unique_per_call_and_stable_per_request() -> None:
    keys = IdempotencyKeys(Turn(12, 345))
    first = keys.next("add_task", {"title": "milk"})
    # The same call again on purpose, in the same turn, is still a call of its own.
    second = keys.next("add_task", {"title": "milk"})
    other = keys.next("add_task", {"title": "bread"})
    huge = keys.next("add_task", {"title": "x" * 5000, "description": "spaces/and+symbols"})
    assert first.startswith("chat:12:345:")
    assert len({first, second, other, huge}) == 4
    assert all(re.fullmatch(KEY_PATTERN, key) for key in (first, second, other, huge))
    # The key does not depend on the order the arguments came in.
    assert IdempotencyKeys(Turn(12, 345)).next("update_task", {"a": 1, "b": 2}) == IdempotencyKeys(
        Turn(12, 345)
    ).next("update_task", {"b": 2, "a": 1})
    # Another turn never shares a key with this one; a retry of this turn (keys_from) shares them all.
    assert IdempotencyKeys(Turn(12, 346)).next("add_task", {"title": "milk"}) != first
    retry = IdempotencyKeys(Turn(12, 350, keys_from=345))
    assert [retry.next("add_task", {"title": "milk"}), retry.next("add_task", {"title": "milk"})] == [
        first,
        second,
    ]


def test_the_model_sees_no_idempotency_key_and_reads_may_be_retried() -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "idempotency_key": {"type": "string"}},
        "required": ["title", "idempotency_key"],
    }
    add = MCPTool(name="add_task", input_schema=schema)
    listing = MCPTool(
        name="list_tasks", input_schema={"type": "object"}, annotations=ToolAnnotations(read_only_hint=True)
    )
    catalog = ToolCatalog([add, listing])
    assert catalog.takes_idempotency_key("add_task")
    assert not catalog.takes_idempotency_key("list_tasks")
    assert catalog.read_only("list_tasks")
    assert not catalog.read_only("add_task")
    assert "idempotency_key" not in json.dumps([tool.model_dump() for tool in catalog.for_model])
    assert catalog.for_model[0].input_schema["required"] == ["title"]
    assert "idempotency_key" in add.input_schema["properties"]  # The server's own copy is untouched.


def test_the_gateway_stays_under_the_task_servers_limits() -> None:
    assert RECORD_MAX_CALLS <= MAX_TOOL_CALLS_PER_REPLY
    assert RECORD_MAX_BYTES <= MAX_TOOL_CALLS_BYTES
    assert REPLY_MAX_CHARS <= MESSAGE_MAX


def _stored_size(records: list[ToolCallRecord]) -> int:
    return len(json.dumps([record.model_dump(mode="json") for record in records]))


def test_bulky_results_are_summarised_keeping_every_call_and_its_token() -> None:
    page = {"tasks": [{"id": n, "title": "t" * 200, "description": "d" * 2000} for n in range(100)]}
    preview = {
        "status": "confirmation_required",
        "count": 500,
        "tasks": [{"id": n, "title": "t" * 200, "version": 1} for n in range(500)],
        "confirmation_token": "tok-123",
    }
    calls = [ToolCallRecord(name="list_tasks", arguments={"limit": 100}, result=page) for _ in range(30)]
    calls.append(ToolCallRecord(name="delete_tasks", arguments={"status": "all"}, result=preview))
    calls.append(
        ToolCallRecord(name="delete_task", arguments={"task_id": 1}, result="x" * 50_000, is_error=True)
    )
    assert _stored_size(calls) > MAX_TOOL_CALLS_BYTES

    fitted = fit_for_record(calls)
    assert _stored_size(fitted) <= RECORD_MAX_BYTES
    assert [(c.name, c.arguments, c.is_error) for c in fitted] == [
        (c.name, c.arguments, c.is_error) for c in calls
    ]
    assert fitted[-2].result["confirmation_token"] == "tok-123"
    assert fitted[-2].result["count"] == 500
    # Small results are left alone when the bulky ones made enough room.
    small = [*calls[:2], ToolCallRecord(name="add_task", arguments={"title": "a"}, result={"task_id": 1})]
    assert fit_for_record(small, max_bytes=_stored_size(small) - 100)[-1].result == {"task_id": 1}


def test_more_calls_than_the_limit_still_fit() -> None:
    calls = [
        ToolCallRecord(name="add_task", arguments={"title": f"t{n}"}, result={"task_id": n})
        for n in range(1500)
    ]
    fitted = fit_for_record(calls)
    assert len(fitted) == RECORD_MAX_CALLS
    assert fitted[: RECORD_MAX_CALLS - 1] == calls[: RECORD_MAX_CALLS - 1]
    assert fitted[-1].arguments["count"] == 1500 - RECORD_MAX_CALLS + 1
    huge_arguments = [
        ToolCallRecord(name="update_task", arguments={"title": "y" * 100_000}) for _ in range(40)
    ]
    assert _stored_size(fit_for_record(huge_arguments)) <= RECORD_MAX_BYTES
