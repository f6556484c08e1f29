"""A small OpenAI-compatible Chat Completions server on loopback: the scripted model for tests that run
the gateway as a real process (it reaches this server through the real `openai` client, over HTTP).

The user's message is a tiny script, so every test says what the "model" does in its own words:
- `call NAME {json}` (several joined by ` ; `): ask for those tool calls, then, once their outputs
  come back, answer `done: <outputs>`;
- `loop`: ask for `list_tasks` again after every tool output (to hit the turn limit);
- `slow SECONDS`: wait, then answer (to hit the turn timeout);
- `fail`: answer HTTP 500;
- anything else: answer `echo: <message>`.
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


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.raw_bodies: list[bytes] = []
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
        reply = await self._respond(body["messages"])
        if reply is None:
            return JSONResponse(
                {"error": {"message": "scripted failure", "type": "server_error"}}, status_code=500
            )
        if body.get("stream"):
            return StreamingResponse(self._chunks(reply), media_type="text/event-stream")
        return JSONResponse(self._completion(reply))

    async def _respond(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        script = _last_user_text(messages)
        after_tools = messages[-1]["role"] == "tool"
        if script == "fail":
            return None
        if script.startswith("slow "):
            await asyncio.sleep(float(script.split()[1]))
            return {"content": "slept"}
        if script == "loop":
            return {"tool_calls": [self._call("list_tasks", {})]}
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

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"call_{next(self._ids)}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
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
                    "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    @staticmethod
    async def _chunks(reply: dict[str, Any]) -> AsyncIterator[bytes]:
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
        if reply.get("tool_calls"):
            for index, call in enumerate(reply["tool_calls"]):
                yield chunk({"tool_calls": [{"index": index, **call}]})
            yield chunk({}, "tool_calls")
        else:
            text = str(reply.get("content", ""))
            for start in range(0, len(text), 8):
                yield chunk({"content": text[start : start + 8]})
            yield chunk({}, "stop")
        yield b"data: [DONE]\n\n"


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            return str(content)
    return ""
