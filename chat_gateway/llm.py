"""The one seam where the agent's model is chosen: builtin (offline), OpenAI, or OpenAI-compatible."""

from __future__ import annotations

from agents import Model, OpenAIChatCompletionsModel, OpenAIResponsesModel, set_tracing_disabled
from openai import AsyncOpenAI

from .settings import BUILTIN_MODEL, GatewaySettings


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
    if settings.openai_base_url:
        # Compatible servers implement Chat Completions; few implement the Responses API.
        return OpenAIChatCompletionsModel(model=settings.model_name, openai_client=client)
    return OpenAIResponsesModel(model=settings.model_name, openai_client=client)
