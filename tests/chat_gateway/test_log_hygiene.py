"""Both services' logs, at INFO and at DEBUG, after hostile and ordinary traffic: no token, no password,
no credential-bearing URL, no chat text or task title and no traceback, unless `LOG_SENSITIVE=true`.

The services run as real processes (task server, a gateway on the builtin model and one on the scripted
model through the real `openai` client), so every library's own logger is in play: the MCP SDK, uvicorn,
httpx/httpcore, openai, the Agents SDK and SQLAlchemy all log payloads at DEBUG if let.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx2
import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.gateway_fixtures import (
    GATEWAY_AUDIENCE,
    TASK_AUDIENCE,
    gateway_env,
    task_server_env,
    user_token,
)
from tests.support.processes import Service, free_port, run_service
from tests.support.tokens import ED, JwksServer, sign

pytestmark = pytest.mark.timeout(120)


@dataclass
class Secrets:
    """Everything that must never reach a log, each unique to this run so a match cannot be chance."""

    run: str = field(default_factory=lambda: secrets.token_hex(6))
    tokens: list[str] = field(default_factory=list)

    @property
    def chat(self) -> str:
        return f"chat-text-{self.run}"

    @property
    def title(self) -> str:
        return f"title-{self.run}"

    @property
    def password(self) -> str:
        return f"pw{self.run}"

    def all(self) -> list[str]:
        # A JWT's signature alone is enough to matter; its header part is shared by every token.
        signatures = [token.rsplit(".", 1)[-1] for token in self.tokens]
        return [self.chat, self.title, self.password, *self.tokens, *signatures]


def _with_password(database_url: str, password: str) -> str:
    # The test PostgreSQL trusts loopback, so any password works; it only has to be in the DSN.
    parts = urlsplit(database_url)
    netloc = parts.netloc.split("@")[-1]
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{netloc}"))


@dataclass
class Stack:
    task_server: Service
    gateways: list[Service]

    def logs(self) -> dict[str, str]:
        named = {"task_server": self.task_server, **{f"gateway-{i}": g for i, g in enumerate(self.gateways)}}
        return {name: service.log() for name, service in named.items()}


@pytest.fixture(scope="module")
def log_jwks() -> Iterator[JwksServer]:
    server = JwksServer({"keys": [ED.jwk()]})
    yield server
    server.stop()


def _start_stack(
    stack: ExitStack,
    tmp: Path,
    database_url: str,
    jwks: JwksServer,
    llm: FakeLLM,
    found: Secrets,
    **env: str,
) -> Stack:
    port = free_port()
    task_env = task_server_env(database_url, jwks, port, **env)
    task_env["DATABASE_URL"] = _with_password(database_url, found.password)
    task_server = stack.enter_context(run_service("mcp_task_server", task_env, port, tmp / "task_server.log"))
    gateways = []
    for model in ("builtin", "scripted"):
        gw_port = free_port()
        gw_env = gateway_env(
            jwks, task_server, llm, gw_port, OPENAI_API_KEY=f"sk-{found.run}", AGENT_MODEL=model, **env
        )
        found.tokens.append(f"sk-{found.run}")
        gateways.append(
            stack.enter_context(run_service("chat_gateway", gw_env, gw_port, tmp / f"gw-{model}.log"))
        )
    return Stack(task_server, gateways)


def _traffic(stack: Stack, found: Secrets) -> None:
    """Ordinary turns that carry the chat text and the title, and the hostile inputs of the hardening
    issue: forged, expired and malformed tokens, credentials in headers and query strings, NUL bytes,
    oversized and malformed bodies, unknown conversations, hostile tool arguments."""
    user = f"log-user-{found.run}"
    token = user_token(user)
    expired = user_token(user, exp=1)
    forged = sign(ED, sub=user, aud=[GATEWAY_AUDIENCE, TASK_AUDIENCE])[:-6] + "AAAAAA"
    basic = base64.b64encode(f"admin:{found.password}".encode()).decode()
    found.tokens += [token, expired, forged, basic]
    good = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(timeout=30) as http:
        for gateway in stack.gateways:
            url = f"{gateway.base_url}/api/{user}"
            scripted = gateway is stack.gateways[1]
            add = f'call add_task {{"title": "{found.title}"}}' if scripted else f"add {found.title}"
            for message in (add, f"{found.chat} what is on my list", "show my tasks"):
                assert http.post(f"{url}/chat", headers=good, json={"message": message}).status_code == 200
                with http.stream("POST", f"{url}/chat/stream", headers=good, json={"message": message}) as r:
                    assert r.status_code == 200
                    r.read()
            other = f"{gateway.base_url}/api/someone-else"
            hostile = [
                ({"Authorization": f"Bearer {expired}"}, {"message": found.chat}),
                ({"Authorization": f"Bearer {forged}"}, {"message": found.chat}),
                ({"Authorization": f"Basic {basic}"}, {"message": found.chat}),
                ({"Authorization": f"Bearer {found.chat}"}, {"message": found.chat}),
                (good, {"message": f"{found.chat}\x00"}),
                (good, {"message": found.chat * 400}),
                (good, {"message": found.chat, "conversation_id": 2**62}),
                (good, {"message": found.chat, "conversation_id": True}),
                (good, {"message": [found.chat]}),
            ]
            for headers, body in hostile:
                assert http.post(f"{url}/chat", headers=headers, json=body).status_code in {
                    400,
                    401,
                    404,
                    422,
                }
            assert http.post(f"{other}/chat", headers=good, json={"message": found.chat}).status_code == 403
            bad_json = http.post(
                f"{url}/chat",
                headers={**good, "Content-Type": "application/json"},
                content=f'{{"message": "{found.chat}',
            )
            assert bad_json.status_code == 422
            query = http.get(
                f"{url}/conversations?access_token={token}&password={found.password}", headers=good
            )
            assert query.status_code in {200, 422}
            _chatkit_traffic(http, gateway.base_url, good, found, add)

        base = stack.task_server.base_url
        hostile_calls: list[tuple[str, dict[str, object]]] = [
            ("add_task", {"title": f"{found.title}\x00"}),
            ("add_task", {"title": found.title, "description": "\ud800"}),
            ("add_task", {"title": found.title}),
            ("complete_task", {"task_id": 2**63}),
            ("update_task", {"task_id": 1, "title": found.title, "completed": "yes"}),
            ("list_tasks", {"cursor": found.chat}),
            ("start_turn", {"message": found.chat, "conversation_id": True}),
            ("record_reply", {"conversation_id": 1, "content": found.chat}),
            ("no_such_tool", {"title": found.title}),
        ]
        nested: object = found.chat
        for _ in range(500):
            nested = [nested]
        hostile_calls.append(("add_task", {"title": nested}))
        for tool, arguments in hostile_calls:
            assert _tool_call(http, base, good, tool, arguments).status_code in {200, 400}
        for headers in ({"Authorization": f"Bearer {forged}"}, {"Authorization": f"Bearer {expired}"}):
            assert _tool_call(http, base, headers, "add_task", {"title": found.title}).status_code == 401
        not_json = http.post(
            f"{base}/mcp",
            headers={
                **good,
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            },
            content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call"})[:-3] + found.chat,
        )
        assert not_json.status_code == 400


def _chatkit_traffic(
    http: httpx2.Client, base_url: str, good: dict[str, str], found: Secrets, add: str
) -> None:
    """A ChatKit thread with a turn that fails midway (openai-chatkit logs on its own logger), and
    ChatKit requests that are not valid, all carrying the chat text."""

    def said(text: str) -> dict[str, object]:
        return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}

    url = f"{base_url}/chatkit"
    created = http.post(url, headers=good, json={"type": "threads.create", "params": {"input": said(add)}})
    assert created.status_code == 200
    thread_id = json.loads(created.text.split("data: ", 2)[1].split("\n", 1)[0])["thread"]["id"]
    for text in (f"{found.chat} drop", "drop", f"{found.chat} refuse"):
        sent = http.post(
            url,
            headers=good,
            json={
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": said(text)},
            },
        )
        assert sent.status_code == 200
    hostile: list[object] = [
        {"type": "threads.create", "params": {"input": {"content": found.chat}}},
        {"type": found.chat, "params": {}},
        {"type": "threads.get_by_id", "params": {"thread_id": found.chat}},
        {"type": "threads.add_user_message", "params": {"thread_id": "thr_x", "input": said(found.chat)}},
    ]
    for body in hostile:
        assert http.post(url, headers=good, json=body).status_code in {400, 404}


def _tool_call(
    http: httpx2.Client, base_url: str, headers: dict[str, str], tool: str, arguments: dict[str, object]
) -> httpx2.Response:
    """One stateless `tools/call`; the JSON is ASCII-escaped so a lone surrogate can travel as `\\ud800`."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    return http.post(
        f"{base_url}/mcp",
        headers={
            **headers,
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        },
        content=json.dumps(body),
    )


# Anything that looks like a credential in a URL, whatever its value.
_URL_CREDENTIALS = re.compile(r"\w+://[^/\s:@]+:[^/\s@]+@")
_SECRET_QUERY = re.compile(r"[?&](access_token|token|password|api_key)=", re.IGNORECASE)


def _leaks(log: str, found: Secrets) -> list[str]:
    problems = [f"secret {value[:24]!r}" for value in found.all() if value in log]
    problems += [f"credentials in a URL: {m.group(0)!r}" for m in _URL_CREDENTIALS.finditer(log)]
    problems += [f"secret query string: {m.group(0)!r}" for m in _SECRET_QUERY.finditer(log)]
    if "Traceback" in log:
        problems.append("a traceback")
    return problems


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_logs_hold_no_secret_no_chat_text_and_no_traceback(
    level: str, database_url: str, log_jwks: JwksServer, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    found = Secrets()
    with ExitStack() as stack:
        services = _start_stack(stack, tmp_path, database_url, log_jwks, fake_llm, found, LOG_LEVEL=level)
        _traffic(services, found)
    logs = services.logs()
    leaks = {name: _leaks(log, found) for name, log in logs.items()}
    assert leaks == {name: [] for name in logs}, leaks
    # The logs are not empty, so the scan looked at something: each service logged its requests.
    for name, log in logs.items():
        assert len(log.splitlines()) >= 5, (name, log)
    if level == "DEBUG":
        # DEBUG really is more: the SQL (without its values) is there.
        assert "INSERT INTO" in logs["task_server"] or "SELECT" in logs["task_server"]


def test_log_sensitive_lets_chat_text_and_parameters_through(
    database_url: str, log_jwks: JwksServer, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    """The documented escape hatch for debugging a deployment works, so the scan above is not passing
    merely because nothing is logged."""
    found = Secrets()
    with ExitStack() as stack:
        services = _start_stack(
            stack, tmp_path, database_url, log_jwks, fake_llm, found, LOG_LEVEL="DEBUG", LOG_SENSITIVE="true"
        )
        _traffic(services, found)
    logs = services.logs()
    assert found.title in logs["task_server"]
    assert found.chat in logs["gateway-1"]
