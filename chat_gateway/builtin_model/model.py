"""`BuiltinModel`: the offline model behind the Agents SDK `Model` interface.

One call reads the input, decides the next step, and answers either with function calls (the SDK runs
them over MCP and calls again with their outputs) or with the final assistant message. The streamed
form emits the same output as Responses stream events, so a UI streams the builtin model's reply the
way it streams a hosted model's.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from agents import Handoff, ModelResponse, ModelSettings, Tool, TResponseInputItem, Usage
from agents.agent_output import AgentOutputSchemaBase
from agents.items import TResponseOutputItem, TResponseStreamEvent
from agents.models.interface import Model, ModelTracing
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)

from .conversation import read_turn, understand
from .parser import Features
from .planner import Call, plan
from .replies import compose
from .toolbox import ADD, UPDATE, Toolbox

if TYPE_CHECKING:
    from openai.types.responses.response_prompt_param import ResponsePromptParam

MODEL_NAME = "builtin"
# Words with their trailing space, so the deltas join back into exactly the reply.
_CHUNK = re.compile(r"\S+\s*|\s+")


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
        for event in stream_events(_response(*self.respond(input, tools))):
            yield event


def _response(response_id: str, output: list[TResponseOutputItem]) -> Response:
    return Response(
        id=response_id,
        created_at=0,
        model=MODEL_NAME,
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        top_p=None,
        parallel_tool_calls=True,
        status="completed",
    )


@cache
def _prepare_types() -> None:
    """Have pydantic finish the openai response types now, once per process.

    They are built lazily and the first use costs ~100 ms; paying that when the model is created (at
    start-up) keeps it out of the first user's turn. Afterwards plain construction takes microseconds,
    several times less than the openai SDK's `construct`, which is why the model does not use that.
    """
    response = _response("warm-up", [_message("", "warm-up"), _function_call(Call("warm-up", "x", {}))])
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


def stream_events(response: Response) -> list[TResponseStreamEvent]:
    """The Responses stream for a finished response: created, items with their deltas, completed."""
    events: list[Any] = []

    def emit(kind: type[Any], **fields: Any) -> None:
        events.append(kind(**fields, sequence_number=len(events)))

    started = response.model_copy(update={"output": [], "status": "in_progress"})
    emit(ResponseCreatedEvent, type="response.created", response=started)
    emit(ResponseInProgressEvent, type="response.in_progress", response=started)
    for index, item in enumerate(response.output):
        if isinstance(item, ResponseFunctionToolCall):
            pending = item.model_copy(update={"arguments": "", "status": "in_progress"})
            emit(
                ResponseOutputItemAddedEvent,
                type="response.output_item.added",
                item=pending,
                output_index=index,
            )
            common = {"item_id": item.id or item.call_id, "output_index": index}
            emit(ResponseFunctionCallArgumentsDeltaEvent, type="response.function_call_arguments.delta",
                 delta=item.arguments, **common)  # fmt: skip
            emit(ResponseFunctionCallArgumentsDoneEvent, type="response.function_call_arguments.done",
                 arguments=item.arguments, name=item.name, **common)  # fmt: skip
        elif isinstance(item, ResponseOutputMessage):
            _message_events(emit, item, index)
        emit(ResponseOutputItemDoneEvent, type="response.output_item.done", item=item, output_index=index)
    emit(ResponseCompletedEvent, type="response.completed", response=response)
    return cast(list[TResponseStreamEvent], events)


def _message_events(emit: Callable[..., None], item: ResponseOutputMessage, index: int) -> None:
    opening = item.model_copy(update={"content": [], "status": "in_progress"})
    emit(ResponseOutputItemAddedEvent, type="response.output_item.added", item=opening, output_index=index)
    for part_index, part in enumerate(item.content):
        if not isinstance(part, ResponseOutputText):
            continue
        common = {"item_id": item.id, "output_index": index, "content_index": part_index}
        emit(ResponseContentPartAddedEvent, type="response.content_part.added",
             part=part.model_copy(update={"text": ""}), **common)  # fmt: skip
        for chunk in _CHUNK.findall(part.text):
            emit(
                ResponseTextDeltaEvent, type="response.output_text.delta", delta=chunk, logprobs=[], **common
            )
        emit(ResponseTextDoneEvent, type="response.output_text.done", text=part.text, logprobs=[], **common)
        emit(ResponseContentPartDoneEvent, type="response.content_part.done", part=part, **common)
