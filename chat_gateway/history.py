"""Turn the conversation window the task server returns into the agent's input items.

Past tool calls are replayed as `function_call` / `function_call_output` pairs before the assistant
reply they led to, so any model, hosted or builtin, sees which tasks earlier turns touched (that is
what lets "mark it done" refer to the task added a turn ago).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from agents import TResponseInputItem

from shared.schemas import MessageOut


def history_to_input(messages: Sequence[MessageOut]) -> list[TResponseInputItem]:
    items: list[TResponseInputItem] = []
    for message in messages:
        if message.role == "user":
            items.append({"role": "user", "content": message.content})
            continue
        for index, call in enumerate(message.tool_calls or []):
            call_id = f"history_{message.id}_{index}"
            items.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": call.name,
                    "arguments": json.dumps(call.arguments),
                }
            )
            output = call.result if isinstance(call.result, str) else json.dumps(call.result)
            items.append({"type": "function_call_output", "call_id": call_id, "output": output})
        if message.content:
            items.append({"role": "assistant", "content": message.content})
    return items
