"""Replies a client may offer as one-tap buttons after a turn, read from what the turn's tools returned.

The hint depends on the tool results alone, never on the model's wording, so it is the same for the
builtin model and any LLM:

- a bulk preview is waiting for the user's answer (`complete_tasks` / `delete_tasks` returned
  `confirmation_required` with a token): `["yes", "no"]`;
- otherwise, a change succeeded (a task added, completed, updated, deleted or restored, or a confirmed
  bulk change): `["undo"]`, since the `undo` tool takes back the latest change;
- otherwise nothing.

Each suggestion is the message to send as it is: "yes" confirms the preview (the turn guard accepts the
token only in the turn right after the reply that offered it), "no" leaves the tasks as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from shared.schemas import ToolCallRecord

Suggestion = Literal["yes", "no", "undo"]
CONFIRM: tuple[Suggestion, ...] = ("yes", "no")
UNDO: tuple[Suggestion, ...] = ("undo",)

# The `status` of a tool result that reports a change the `undo` tool can take back.
_CHANGED = frozenset({"created", "completed", "updated", "deleted", "restored"})


def suggest(calls: Sequence[ToolCallRecord]) -> list[Suggestion]:
    results = [call.result for call in calls if not call.is_error and isinstance(call.result, Mapping)]
    if any(_awaits_confirmation(result) for result in results):
        return list(CONFIRM)
    if any(result.get("status") in _CHANGED for result in results):
        return list(UNDO)
    return []


def _awaits_confirmation(result: Mapping[str, object]) -> bool:
    return result.get("status") == "confirmation_required" and bool(result.get("confirmation_token"))
