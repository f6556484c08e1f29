"""A finished Responses API response, and the stream of events that would have delivered it.

The builtin model answers whole, and so does a model called without streaming (MODEL_STREAM=false); the
Agents SDK's streamed run still wants events, so these replay a whole reply as the stream would have.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

from agents.items import TResponseOutputItem, TResponseStreamEvent
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

# Words with their trailing space, so the deltas join back into exactly the reply.
_CHUNK = re.compile(r"\S+\s*|\s+")


def completed_response(response_id: str, output: list[TResponseOutputItem], *, model: str) -> Response:
    """A finished Responses API response holding `output`, as a stream ends with."""
    return Response(
        id=response_id,
        created_at=0,
        model=model,
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        top_p=None,
        parallel_tool_calls=True,
        status="completed",
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
