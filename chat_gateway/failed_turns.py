"""A turn that fails after it was stored still tells the truth.

Its user message is already in the conversation, and its tools may have changed tasks. So the gateway
records, as the turn's reply, a note that starts with `FAILURE_MARK`, says why, and names what was
already done, with the tool calls (and their results) attached like any reply's. History, the next turn
and the model all see it.

When the user then sends the same message again in that conversation ("try again"), the new turn is a
retry of the failed one (`retried_message_id`): its tool calls get the idempotency keys of the failed
turn's, so a task the failed turn added is not added twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.schemas import MessageOut, ToolCallRecord

from .errors import GatewayError

FAILURE_MARK = "⚠ This turn did not finish"
_PARTIAL_MAX = 2000


def failure_note(error: GatewayError, calls: Sequence[ToolCallRecord], partial: str = "") -> str:
    note = f"{FAILURE_MARK} ({error.code}): {error.message}"
    if partial.strip():
        cut = partial if len(partial) <= _PARTIAL_MAX else partial[:_PARTIAL_MAX]
        note += f"\nWhat the assistant had written when it stopped: «{cut}…»"
    if calls:
        done = "; ".join(_describe(call) for call in calls)
        note += f"\nAlready done in this turn, and kept: {done}."
        note += "\nSending the same message again will not repeat these."
    else:
        note += "\nNothing was changed."
    return note


def _describe(call: ToolCallRecord) -> str:
    if call.is_error:
        return f"{call.name} (failed, nothing changed)"
    result: Any = call.result
    if not isinstance(result, dict):
        return call.name
    status = result.get("status")
    if "task_id" in result:
        title = result.get("title")
        named = f' "{title}"' if isinstance(title, str) else ""
        return f"task {result['task_id']}{named} {status}" if isinstance(status, str) else call.name
    if isinstance(status, str) and isinstance(result.get("count"), int):
        return f"{call.name}: {result['count']} tasks {status}"
    return call.name


def is_failure_note(message: MessageOut) -> bool:
    return message.role == "assistant" and message.content.startswith(FAILURE_MARK)


def retried_message_id(window: Sequence[MessageOut], user_message_id: int) -> int:
    """The id of the earliest failed turn this message repeats (same text, each try answered only by a
    failure note), or its own id when it repeats none. Tool-call keys are derived from it."""
    index = next((i for i, m in enumerate(window) if m.id == user_message_id), None)
    if index is None:
        return user_message_id
    text = window[index].content
    basis = user_message_id
    while (
        index >= 2
        and is_failure_note(window[index - 1])
        and window[index - 2].role == "user"
        and window[index - 2].content == text
    ):
        basis = window[index - 2].id
        index -= 2
    return basis
