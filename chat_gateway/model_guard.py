"""What the gateway checks on every call to an OpenAI-compatible model, below the Agents SDK.

The SDK turns a Chat Completion into output items and drops what a turn needs to tell the truth:
- `finish_reason`: a reply cut off at `max_tokens` ("length") would otherwise be stored as complete;
- an empty reply (no text, no tool call) would otherwise be a successful, empty turn;
- a context-length refusal is an HTTP 400 like any other, which would read as "model unavailable".

`guard_client` wraps the client's `chat.completions.create` (the one call the SDK's Chat Completions
model makes) so that each call is watched: an empty reply is retried once, transparently, before anything
reaches the user; the finish reason of the last call is kept for the turn (`ModelCalls`); a context-length
refusal becomes `ContextLengthExceeded`. Streams stay streams: chunks pass through as they arrive, and
closing ours closes the HTTP response, which is what stops a local server's generation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from .errors import ContextLengthExceeded, ModelError

logger = logging.getLogger(__name__)

# How servers say "too long": OpenAI and LiteLLM (`context_length_exceeded`), llama.cpp's server
# (`exceed_context_size_error`, "exceeds the available context size"), llama-cpp-python ("exceed context
# window"), vLLM ("maximum context length"), Anthropic-style proxies ("prompt is too long").
_CONTEXT_LENGTH = re.compile(
    r"context[ _-]?(length|size|window)|maximum context|exceeds? .{0,40}context|prompt is too long",
    re.IGNORECASE,
)


@dataclass
class ModelCalls:
    """The model calls of one turn, as far as the turn needs them."""

    count: int = 0
    empty_retries: int = 0
    last_finish_reason: str | None = None


_CALLS: ContextVar[ModelCalls | None] = ContextVar("model_calls", default=None)


def watch_calls() -> ModelCalls:
    """Start recording this turn's model calls. The SDK runs the agent in a task it creates, which
    copies the context, so the object set here is the one its calls update."""
    calls = ModelCalls()
    _CALLS.set(calls)
    return calls


def is_context_length_error(error: openai.APIStatusError) -> bool:
    body = error.body if isinstance(error.body, dict) else {}
    detail = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    fields = " ".join(str(detail.get(key, "")) for key in ("code", "type", "message"))
    return error.status_code in (400, 413) and bool(_CONTEXT_LENGTH.search(f"{fields} {error.message}"))


def short_reason(error: BaseException) -> str:
    """For the log: the status and the error's code or type, which name the failure without quoting
    anything (model servers' messages can echo the prompt)."""
    if isinstance(error, openai.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("error", body)
        code = ""
        if isinstance(detail, dict):
            code = str(detail.get("code") or detail.get("type") or "")[:60]
        return f"model server answered {error.status_code}{' ' + code if code else ''}"
    return type(error).__name__


Create = Callable[..., Awaitable[Any]]


def guard_client(client: AsyncOpenAI) -> AsyncOpenAI:
    completions = client.chat.completions
    original: Create = completions.create

    async def create(*args: Any, **kwargs: Any) -> Any:
        calls = _CALLS.get() or ModelCalls()
        if isinstance(kwargs.get("messages"), list):
            kwargs["messages"] = _with_text_content(kwargs["messages"])
        for attempt in (1, 2):
            calls.count += 1
            calls.last_finish_reason = None
            try:
                result = await original(*args, **kwargs)
            except openai.APIStatusError as e:
                if is_context_length_error(e):
                    too_long = ContextLengthExceeded()
                    too_long.reason = short_reason(e)
                    raise too_long from e
                raise
            if isinstance(result, ChatCompletion):
                choice = result.choices[0] if result.choices else None
                calls.last_finish_reason = choice.finish_reason if choice else None
                if choice is not None and (choice.message.content or choice.message.tool_calls):
                    return result
            else:
                first = await _first_substance(result, calls)
                if first is not None:
                    return _passing(first, result, calls)
            if attempt == 1:
                calls.empty_retries += 1
                logger.warning("the model returned an empty reply; asking once more")
        error = ModelError("The language model returned an empty reply twice. Try rephrasing.")
        error.reason = f"empty reply twice (finish_reason {calls.last_finish_reason})"
        raise error

    # The SDK calls `client.chat.completions.create`; an attribute on that (cached) object shadows it.
    completions.create = create  # type: ignore[method-assign]
    return client


def _with_text_content(messages: list[Any]) -> list[Any]:
    """An assistant message that only calls tools goes out with `content: ""`, not null: the OpenAI API
    takes both, llama-cpp-python's server refuses null (HTTP 500) and so could never see a tool result."""
    return [
        {**message, "content": ""}
        if isinstance(message, dict) and message.get("role") == "assistant" and message.get("content") is None
        else message
        for message in messages
    ]


def _substantive(chunk: ChatCompletionChunk) -> bool:
    for choice in chunk.choices:
        delta = choice.delta
        if delta is None:
            continue
        fields = delta.model_dump(exclude_none=True)
        fields.pop("role", None)
        if any(value not in ("", [], {}) for value in fields.values()):
            return True
    return False


def _note_finish(chunk: ChatCompletionChunk, calls: ModelCalls) -> None:
    for choice in chunk.choices:
        if choice.index == 0 and choice.finish_reason is not None:
            calls.last_finish_reason = choice.finish_reason


async def _first_substance(stream: Any, calls: ModelCalls) -> list[ChatCompletionChunk] | None:
    """Reads the stream up to its first chunk with content (text, a tool call, a refusal, reasoning):
    the chunks so far, or None if it ended without any (the stream is then closed)."""
    seen: list[ChatCompletionChunk] = []
    try:
        async for chunk in stream:
            seen.append(chunk)
            _note_finish(chunk, calls)
            if _substantive(chunk):
                return seen
    except BaseException:
        await stream.close()
        raise
    await stream.close()
    return None


async def _passing(
    first: list[ChatCompletionChunk], stream: Any, calls: ModelCalls
) -> AsyncIterator[ChatCompletionChunk]:
    """The rest of the stream, unchanged; closing this generator closes the HTTP response."""
    try:
        for chunk in first:
            yield chunk
        async for chunk in stream:
            _note_finish(chunk, calls)
            yield chunk
    finally:
        await stream.close()
