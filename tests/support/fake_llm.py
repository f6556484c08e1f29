"""A small OpenAI-compatible Chat Completions server on loopback: the scripted model for tests that run
the gateway as a real process (it reaches this server through the real `openai` client, over HTTP).

The user's message is a tiny script, so every test says what the "model" does in its own words:
- `call NAME {json}` (several joined by ` ; `): ask for those tool calls, then, once their outputs
  come back, answer `done: <outputs>`;
- `raw NAME TEXT`: ask for one call of NAME whose arguments are TEXT as it stands (malformed JSON, a JSON
  array), then answer `done: <outputs>`;
- `loop`: ask for `list_tasks` again after every tool output (to hit the turn limit);
- `slow SECONDS`: wait, then answer (to hit the turn timeout);
- `generate SECONDS`: stream a word every 50 ms for SECONDS; `generations` records whether each such
  generation `finished` or was `cancelled` (the client closed the stream, as a turn that stops must);
- `fail`: answer HTTP 500;
- `context openai` / `context llamacpp`: answer HTTP 400 the way each says "the prompt is too long";
- `refuse`: answer HTTP 400 for another reason (a setting the server does not support); `refuse once
  TAG`: only the first time for that TAG (the openai client does not retry a 400: the turn fails);
- `empty`: answer with no text and no tool call; `empty once TAG`: only the first time for that TAG;
- `length TEXT`: answer TEXT with `finish_reason: "length"` (cut off at max_tokens);
- `drop`: start streaming the answer, then break the connection off;
- `FIRST then SECOND`: FIRST (the calls) before any tool output, SECOND (any script above) after it;
- anything else: answer `echo: <message>`.
Bodies are streamed in at most ~40 chunks, so a megabyte of text is not half a million events.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.processes import free_port


class _Drop(Exception):
    """Raised inside a streamed body: uvicorn then cuts the connection off mid-response."""


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.raw_bodies: list[bytes] = []
        self.generations: list[str] = []
        self._seen: set[str] = set()
        self._ids = itertools.count(1)
        app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> FakeLLM:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake LLM did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _completions(self, request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw)
        self.raw_bodies.append(raw)
        self.requests.append(body)
        if any(m["role"] == "assistant" and m.get("content") is None for m in body["messages"]):
            # As strict as llama-cpp-python's server, which refuses `content: null` (HTTP 500).
            return JSONResponse(
                {"error": {"message": "content: Input should be a valid string"}}, status_code=500
            )
        reply = await self._respond(body["messages"])
        if reply is None:
            return JSONResponse(
                {"error": {"message": "scripted failure", "type": "server_error"}}, status_code=500
            )
        if "status" in reply:
            return JSONResponse(reply["body"], status_code=reply["status"])
        if body.get("stream"):
            return StreamingResponse(self._chunks(reply), media_type="text/event-stream")
        return JSONResponse(self._completion(reply))

    async def _respond(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        script = _last_user_text(messages)
        after_tools = messages[-1]["role"] == "tool"
        if " then " in script:
            first, second = script.split(" then ", 1)
            script = second if after_tools else first
            if after_tools and second == "fail":
                return None
            if after_tools and not second.startswith(("call ", "raw ")):
                return await self._misbehave(second, messages) or {"content": f"echo: {second}"}
        misbehaviour = await self._misbehave(script, messages)
        if misbehaviour is not None or script == "fail":
            return misbehaviour
        if script.startswith("slow "):
            await asyncio.sleep(float(script.split()[1]))
            return {"content": "slept"}
        if script == "loop":
            return {"tool_calls": [self._call("list_tasks", {})]}
        if script.startswith("raw ") and not after_tools:
            _, name, arguments = script.split(" ", 2)
            return {"tool_calls": [self._call(name, arguments)]}
        if script.startswith("call ") and not after_tools:
            calls = []
            for part in script.split(" ; "):
                _, name, arguments = part.split(" ", 2)
                calls.append(self._call(name, json.loads(arguments)))
            return {"tool_calls": calls}
        if after_tools:
            outputs: list[str] = []
            for message in reversed(messages):
                if message["role"] != "tool":
                    break
                outputs.insert(0, str(message["content"]))
            return {"content": "done: " + " | ".join(outputs)}
        return {"content": f"echo: {script}"}

    async def _misbehave(self, script: str, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The scripts of a model server misbehaving; None when `script` is none of them."""
        if script == "context openai":
            message = (
                "This model's maximum context length is 128000 tokens. "
                "However, your messages resulted in 130512 tokens."
            )
            return {
                "status": 400,
                "body": {
                    "error": {
                        "message": message,
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "context_length_exceeded",
                    }
                },
            }
        if script == "context llamacpp":
            message = "the request exceeds the available context size, try increasing it"
            return {
                "status": 400,
                "body": {"error": {"code": 400, "message": message, "type": "exceed_context_size_error"}},
            }
        if script == "refuse" or (script.startswith("refuse once ") and script not in self._seen):
            self._seen.add(script)
            return {
                "status": 400,
                "body": {
                    "error": {
                        "message": "tool_choice is not supported",
                        "type": "invalid_request_error",
                        "code": "unsupported",
                    }
                },
            }
        if script.startswith("refuse once "):
            return {"content": f"echo: {script}"}
        if script == "empty":
            return {"content": ""}
        if script.startswith("empty once "):
            if script not in self._seen:
                self._seen.add(script)
                return {"content": ""}
            return {"content": f"echo: {script}"}
        if script.startswith("length "):
            return {"content": script.removeprefix("length "), "finish_reason": "length"}
        if script.startswith("generate "):
            return {"generate": float(script.split()[1])}
        if script == "drop":
            return {"content": "this answer will break off " * 4, "drop": True}
        return None

    def _call(self, name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
        return {
            "id": f"call_{next(self._ids)}",
            "type": "function",
            "function": {
                "name": name,
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            },
        }

    @staticmethod
    def _completion(reply: dict[str, Any]) -> dict[str, Any]:
        message = {
            "role": "assistant",
            "content": reply.get("content"),
            "tool_calls": reply.get("tool_calls"),
        }
        if not message["tool_calls"]:
            del message["tool_calls"]
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "scripted",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls"
                    if reply.get("tool_calls")
                    else reply.get("finish_reason", "stop"),
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    async def _chunks(self, reply: dict[str, Any]) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": "scripted",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        yield chunk({"role": "assistant"})
        if "generate" in reply:
            outcome = "cancelled"
            try:
                deadline = time.monotonic() + reply["generate"]
                while time.monotonic() < deadline:
                    yield chunk({"content": "word "})
                    await asyncio.sleep(0.05)
                outcome = "finished"
            finally:
                self.generations.append(outcome)
            yield chunk({}, "stop")
        elif reply.get("tool_calls"):
            for index, call in enumerate(reply["tool_calls"]):
                yield chunk({"tool_calls": [{"index": index, **call}]})
            yield chunk({}, "tool_calls")
        else:
            text = str(reply.get("content", ""))
            size = max(8, len(text) // 40)
            for start in range(0, len(text), size):
                yield chunk({"content": text[start : start + size]})
            if reply.get("drop"):
                raise _Drop()
            yield chunk({}, reply.get("finish_reason", "stop"))
        yield b"data: [DONE]\n\n"


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            return str(content)
    return ""
