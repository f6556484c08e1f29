"""The confirmation rule: what one chat turn may change before the user has said yes.

The rule, enforced here for every model (builtin or LLM) because every tool call of a turn passes
through `TaskTools.call_tool` before it reaches the task server:

- In one turn the agent may trash at most ONE task with `delete_task`, and change at most THREE
  existing tasks in total with the single-task tools `complete_task`, `update_task`, `delete_task` and
  `undo` (each `undo` call counts as one change, since it may revert any earlier change). Tasks the
  turn itself created with `add_task` do not count: they are not the user's existing list.
- A bulk call (`complete_tasks`, `delete_tasks`) acts only with a `confirmation_token`, and the token is
  accepted only if it appeared in a tool result of the conversation's immediately preceding assistant
  message: the preview was shown to the user, and the user has written since. A token issued in this
  same turn, or one from an older message, is refused.

A refused call is never sent to the task server. The model gets a tool error with the code
`confirmation_required` telling it to preview with `delete_tasks` / `complete_tasks` and ask the user.
A call the task server answers with an error changed nothing, so it gives its allowance back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.schemas import MessageOut

MAX_TRASHED_PER_TURN = 1
MAX_CHANGED_PER_TURN = 3

BULK_TOOLS = frozenset({"complete_tasks", "delete_tasks"})
SINGLE_CHANGE_TOOLS = frozenset({"complete_task", "update_task", "delete_task", "undo"})
CONFIRMATION_ARGUMENT = "confirmation_token"

BULK_HINT = (
    "To act on more tasks, call delete_tasks or complete_tasks with their task_ids (or a status filter) "
    "and no confirmation_token: it returns a preview and a token. Show the user the count and the tasks, "
    "ask them to confirm, and call again with that token only after they say yes in their next message."
)
TOO_MANY_DELETES = "Not done: one message may delete only one task with delete_task. " + BULK_HINT
TOO_MANY_CHANGES = (
    f"Not done: one message may change at most {MAX_CHANGED_PER_TURN} existing tasks with single-task "
    "tools. " + BULK_HINT
)
NOT_CONFIRMED = (
    "Not done: this confirmation_token was not shown to the user in your previous reply, so the user has "
    "not confirmed it. Show the preview, ask the user, and pass the token only after they say yes."
)


def offered_tokens(window: Iterable[MessageOut], user_message_id: int) -> frozenset[str]:
    """The confirmation tokens the user has seen and answered: those in the tool results of the assistant
    message immediately before the user's message `user_message_id` (none if that is not an assistant
    message, e.g. after a turn that failed)."""
    previous: MessageOut | None = None
    for message in window:
        if message.id == user_message_id:
            break
        previous = message
    else:
        return frozenset()
    if previous is None or previous.role != "assistant":
        return frozenset()
    tokens = set()
    for call in previous.tool_calls or []:
        if call.name in BULK_TOOLS and not call.is_error and isinstance(call.result, Mapping):
            token = call.result.get(CONFIRMATION_ARGUMENT)
            if isinstance(token, str) and token:
                tokens.add(token)
    return frozenset(tokens)


@dataclass(frozen=True)
class Admission:
    """The guard's answer to one proposed call: a refusal message, or the allowance it reserved."""

    refusal: str | None = None
    reserved: Hashable | None = None
    trashes: bool = False


class TurnGuard:
    """The rule's state for one turn. `admit` runs before a call is sent and reserves its allowance
    synchronously, so calls the SDK runs concurrently cannot all slip under a limit together."""

    def __init__(self, tokens: frozenset[str] = frozenset()) -> None:
        self._tokens = tokens
        self._created: set[Hashable] = set()
        self._changed: Counter[Hashable] = Counter()
        self._trashed: Counter[Hashable] = Counter()
        self._undos = 0

    def admit(self, tool: str, arguments: Mapping[str, Any]) -> Admission:
        if tool in BULK_TOOLS:
            token = arguments.get(CONFIRMATION_ARGUMENT)
            if token is not None and token not in self._tokens:
                return Admission(refusal=NOT_CONFIRMED)
            return Admission()
        if tool not in SINGLE_CHANGE_TOOLS:
            return Admission()
        if tool == "undo":
            # Each undo is a change of its own: what it reverts is known only once it has run.
            self._undos += 1
            target: Hashable = ("undo", self._undos)
        else:
            target = _task_key(arguments.get("task_id"))
            if target in self._created:
                return Admission()
        trashes = tool == "delete_task"
        if trashes and target not in self._trashed and len(self._trashed) >= MAX_TRASHED_PER_TURN:
            return Admission(refusal=TOO_MANY_DELETES)
        if target not in self._changed and len(self._changed) >= MAX_CHANGED_PER_TURN:
            return Admission(refusal=TOO_MANY_CHANGES)
        self._changed[target] += 1
        if trashes:
            self._trashed[target] += 1
        return Admission(reserved=target, trashes=trashes)

    def settle(self, tool: str, admission: Admission, *, is_error: bool, result: Any) -> None:
        """Account for the task server's answer to an admitted call. An error changed nothing, so its
        allowance comes back; a call whose answer never came keeps it (it may have acted)."""
        if tool == "add_task" and not is_error and isinstance(result, Mapping):
            self._created.add(_task_key(result.get("task_id")))
        if is_error and admission.reserved is not None:
            _release(self._changed, admission.reserved)
            if admission.trashes:
                _release(self._trashed, admission.reserved)


def _task_key(task_id: Any) -> Hashable:
    # The model may send the id as a string; the task server accepts both spellings of one task.
    try:
        return int(task_id)
    except (TypeError, ValueError):
        return repr(task_id)


def _release(counter: Counter[Hashable], key: Hashable) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
