"""`stream_response` end to end: `Runner.run_streamed` against the real task server.

The reply arrives as `response.output_text.delta` events that join into the final output, function
calls arrive as output items, and the streamed turn says and does exactly what the plain one does.
"""

from __future__ import annotations

import re

import pytest
from agents import RawResponsesStreamEvent, RunItemStreamEvent, Runner

from .harness import RUN_CONFIG, TaskServerConnection, TimedBuiltinModel, agent_for, tool_calls

INITIAL = (("Buy milk", False), ("Call mom", False), ("Pay rent", True))


def _shape(text: str) -> str:
    """The text with each distinct number replaced by its order of appearance, since users' ids differ."""
    seen: dict[str, str] = {}
    return re.sub(r"\d+", lambda m: seen.setdefault(m.group(0), f"<{len(seen)}>"), text)


@pytest.mark.parametrize(
    "message",
    [
        "add eggs and bread",
        "what's on my list?",
        "mark the milk one done and show pending",
        "delete task 999999999",
        "hi there",
    ],
)
async def test_streamed_turn_matches_the_plain_one(
    builtin_connection: TaskServerConnection, message: str
) -> None:
    agent = agent_for(TimedBuiltinModel(), builtin_connection)
    async with builtin_connection.fresh_user(INITIAL):
        plain = await Runner.run(agent, message, run_config=RUN_CONFIG)
        plain_tasks = await builtin_connection.tasks()

    async with builtin_connection.fresh_user(INITIAL):
        streamed = Runner.run_streamed(agent, message, run_config=RUN_CONFIG)
        deltas: list[str] = []
        event_types: list[str] = []
        called: list[str] = []
        async for event in streamed.stream_events():
            if isinstance(event, RawResponsesStreamEvent):
                event_types.append(event.data.type)
                if event.data.type == "response.output_text.delta":
                    deltas.append(event.data.delta)
            elif isinstance(event, RunItemStreamEvent) and event.name == "tool_called":
                called.append(str(getattr(event.item.raw_item, "name", "")))
        streamed_tasks = await builtin_connection.tasks()

    assert len(deltas) > 1, "the reply should arrive in several pieces"
    assert "".join(deltas) == streamed.final_output
    assert _shape(streamed.final_output) == _shape(str(plain.final_output))
    assert called == [call.name for call in tool_calls(plain)] == [call.name for call in tool_calls(streamed)]
    assert streamed_tasks == plain_tasks
    assert event_types[0] == "response.created"
    assert event_types[-1] == "response.completed"
    if called:
        assert "response.function_call_arguments.delta" in event_types
