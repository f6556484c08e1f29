"""`BuiltinModel`: the offline model behind the Agents SDK `Model` interface.

One call reads the input, decides the next step, and answers either with function calls (the SDK runs
them over MCP and calls again with their outputs) or with the final assistant message. The streamed
form emits the same output as Responses stream events, so a UI streams the builtin model's reply the
way it streams a hosted model's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from agents import Handoff, ModelResponse, ModelSettings, Tool, TResponseInputItem, Usage
from agents.agent_output import AgentOutputSchemaBase
from agents.items import TResponseOutputItem, TResponseStreamEvent
from agents.models.interface import Model, ModelTracing
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from ..response_events import completed_response, stream_events
from .conversation import read_turn, understand
from .parser import Features
from .planner import Call, plan
from .replies import compose
from .toolbox import ADD, UPDATE, Toolbox

if TYPE_CHECKING:
    from openai.types.responses.response_prompt_param import ResponsePromptParam

MODEL_NAME = "builtin"


class BuiltinModel(Model):
    """Deterministic and stateless: the same input and tools always give the same output."""

    def __init__(self, *, today: Callable[[], date] = date.today) -> None:
        self._today = today
        _prepare_types()

    def respond(
        self, model_input: str | list[TResponseInputItem], tools: list[Tool]
    ) -> tuple[str, list[Any]]:
        """The whole decision for one model call, without any I/O: (response id, output items)."""
        turn = read_turn(model_input)
        toolbox = Toolbox(tools)
        features = Features(add=toolbox.features(ADD), update=toolbox.features(UPDATE), today=self._today())
        step = plan(understand(turn, features), turn, toolbox)
        output: list[TResponseOutputItem]
        if step and isinstance(step[0], Call):
            output = [_function_call(call) for call in step if isinstance(call, Call)]
        else:
            text = compose(cast(list[Any], step), toolbox)
            output = [_message(text, f"msg_{turn.key}")]
        return f"resp_{turn.key}_{len(turn.results)}", output

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        response_id, output = self.respond(input, tools)
        return ModelResponse(output=output, usage=Usage(requests=1), response_id=response_id)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        for event in stream_events(completed_response(*self.respond(input, tools), model=MODEL_NAME)):
            yield event


@cache
def _prepare_types() -> None:
    """Have pydantic finish the openai response types now, once per process.

    They are built lazily and the first use costs ~100 ms; paying that when the model is created (at
    start-up) keeps it out of the first user's turn. Afterwards plain construction takes microseconds,
    several times less than the openai SDK's `construct`, which is why the model does not use that.
    """
    response = completed_response(
        "warm-up", [_message("", "warm-up"), _function_call(Call("warm-up", "x", {}))], model=MODEL_NAME
    )
    for event in stream_events(response):
        event.model_dump()


def _function_call(call: Call) -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        id=call.call_id,
        call_id=call.call_id,
        type="function_call",
        name=call.name,
        arguments=json.dumps(call.arguments, ensure_ascii=False, separators=(",", ":")),
        status="completed",
    )


def _message(text: str, item_id: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=item_id,
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])],
    )
