"""Keep what is sent to the model within its context window, by an estimate of tokens.

Everything on a model call counts: the instructions, the tool schemas, the history (replayed tool calls
and their results included), the turn so far, and room for the reply (`MODEL_MAX_TOKENS`). The history
is cut oldest first and a whole turn at a time (a user message with the tool calls, results and replies
that followed it), so a tool call is never separated from its result. The current turn is never cut: if
it alone does not fit, the turn fails with `context_length_exceeded`, and a message that cannot fit even
on an empty conversation is refused with 422 before it is stored or any model is called.

The estimate is deliberately pessimistic (3 characters per token; English prose averages about 4 with
OpenAI's and Llama's tokenizers, JSON about 3), plus a few tokens of framing per item: a budget that is
too small only drops an old turn early, one that is too large fails the turn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from agents import TResponseInputItem
from agents.run_config import CallModelData, ModelInputData
from mcp import Tool as MCPTool

from .errors import ContextLengthExceeded, ModelError

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3
TOKENS_PER_ITEM = 4
# A tool goes out wrapped ({"type": "function", "function": {..., "strict": false}}): about 75 characters.
TOKENS_PER_TOOL = 25


def estimate_text(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_item(item: Any) -> int:
    if isinstance(item, dict):
        text = json.dumps(item, ensure_ascii=False, default=str, separators=(",", ":"))
    elif hasattr(item, "model_dump_json"):
        text = item.model_dump_json(exclude_none=True)
    else:
        text = str(item)
    return estimate_text(text) + TOKENS_PER_ITEM


def estimate_tools(tools: Sequence[MCPTool]) -> int:
    return sum(
        estimate_text(
            json.dumps([tool.name, tool.description or "", tool.input_schema], separators=(",", ":"))
        )
        + TOKENS_PER_TOOL
        for tool in tools
    )


def _is_user_message(item: Any) -> bool:
    return isinstance(item, dict) and item.get("role") == "user"


def turns_of(items: Sequence[TResponseInputItem]) -> list[list[TResponseInputItem]]:
    """Items grouped by turn: each group starts at a user message (a leading group may not)."""
    groups: list[list[TResponseInputItem]] = []
    for item in items:
        if _is_user_message(item) or not groups:
            groups.append([item])
        else:
            groups[-1].append(item)
    return groups


class ContextBudget:
    def __init__(self, context_tokens: int, reply_tokens: int) -> None:
        self.context_tokens = context_tokens
        self.reply_tokens = reply_tokens

    def available(self, instructions: str | None, tool_tokens: int) -> int:
        """Tokens left for the input items."""
        return self.context_tokens - self.reply_tokens - estimate_text(instructions or "") - tool_tokens

    def check_message(self, message: str, instructions: str, tool_tokens: int) -> None:
        """Before anything is stored: the message must fit on an empty conversation."""
        needed = estimate_text(message) + TOKENS_PER_ITEM
        room = self.available(instructions, tool_tokens)
        if room < self.reply_tokens // 2:
            # Not the user's doing: the settings leave no room for a conversation at all.
            logger.warning(
                "MODEL_CONTEXT_TOKENS (%d) is too small: the instructions and tool schemas take about %d "
                "tokens and MODEL_MAX_TOKENS reserves %d",
                self.context_tokens,
                self.context_tokens - self.reply_tokens - room,
                self.reply_tokens,
            )
            error = ModelError("The assistant is misconfigured: its language model's context is too small.")
            error.reason = "context budget leaves no room for a conversation"
            raise error
        if needed > room:
            raise ContextLengthExceeded(
                f"The message is too long for the language model (about {needed} tokens; "
                f"at most about {max(room, 0)} fit). Shorten it."
            )

    def fit(self, items: list[TResponseInputItem], room: int) -> list[TResponseInputItem]:
        """The newest whole turns that fit in `room` tokens; the last (current) turn always, or an error."""
        groups = turns_of(items)
        if not groups:
            return items
        costs = [sum(estimate_item(item) for item in group) for group in groups]
        total = costs[-1]
        if total > room:
            error = ContextLengthExceeded(
                "This turn no longer fits the language model (its tool results are too large). "
                "Ask for less at once, or start a new conversation."
            )
            error.reason = f"current turn ~{total} tokens, room ~{room}"
            raise error
        first = len(groups) - 1
        while first > 0 and total + costs[first - 1] <= room:
            first -= 1
            total += costs[first]
        if first == 0:
            return items
        return [item for group in groups[first:] for item in group]


class BudgetFilter:
    """The SDK's `call_model_input_filter`: runs before every model call of the turn, so the input is
    trimmed again as tool results pile up within the turn."""

    def __init__(self, budget: ContextBudget, tool_tokens: int) -> None:
        self.budget = budget
        self.tool_tokens = tool_tokens
        self.dropped_items = 0

    def __call__(self, data: CallModelData[Any]) -> ModelInputData:
        model_data = data.model_data
        room = self.budget.available(model_data.instructions, self.tool_tokens)
        kept = self.budget.fit(list(model_data.input), room)
        self.dropped_items = len(model_data.input) - len(kept)
        return ModelInputData(input=kept, instructions=model_data.instructions)
