"""The one seam where the agent's model is chosen: builtin (offline), OpenAI, or OpenAI-compatible."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agents import (
    Model,
    ModelResponse,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    set_tracing_disabled,
)
from agents.items import TResponseStreamEvent
from openai import AsyncOpenAI

from .model_guard import guard_client
from .response_events import completed_response, stream_events
from .settings import BUILTIN_MODEL, GatewaySettings


class WholeReplies(Model):
    """A model asked for whole replies, even by a streamed run (MODEL_STREAM=false): some servers cannot
    stream tool calls. Cancelling the turn still closes the request; whether the server then stops
    generating is up to it."""

    def __init__(self, inner: Model, name: str) -> None:
        self.inner = inner
        self.name = name

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return await self.inner.get_response(*args, **kwargs)

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        reply = await self.inner.get_response(*args, **kwargs)
        for event in stream_events(
            completed_response(reply.response_id or "whole", reply.output, model=self.name)
        ):
            yield event


def build_model(settings: GatewaySettings) -> Model:
    # Tracing would send conversation content to OpenAI's trace store; only when asked for.
    set_tracing_disabled(not settings.agent_tracing)
    if settings.model_name == BUILTIN_MODEL:
        from .builtin_model import BuiltinModel

        return BuiltinModel()
    client = AsyncOpenAI(
        # Local OpenAI-compatible servers (Ollama, vLLM) accept any key, but the client insists on one.
        api_key=settings.openai_api_key or "unused",
        base_url=settings.openai_base_url,
        timeout=settings.turn_timeout_seconds,
        max_retries=1,
    )
    model: Model
    if settings.openai_base_url:
        # Compatible servers implement Chat Completions; few implement the Responses API.
        model = OpenAIChatCompletionsModel(model=settings.model_name, openai_client=guard_client(client))
    else:
        model = OpenAIResponsesModel(model=settings.model_name, openai_client=client)
    return model if settings.model_stream else WholeReplies(model, settings.model_name)


def model_settings(settings: GatewaySettings) -> ModelSettings:
    """What every model call carries; unset settings are not sent, so the server's defaults apply."""
    return ModelSettings(
        max_tokens=settings.model_max_tokens,
        temperature=settings.model_temperature,
        tool_choice=settings.model_tool_choice,
        parallel_tool_calls=settings.model_parallel_tool_calls,
    )
