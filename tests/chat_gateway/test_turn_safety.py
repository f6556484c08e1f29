"""Nothing is lost through the chat: idempotent writes, retries, the confirmation rule and whole records.

Everything runs as it does in production: the gateway and the task server as processes on loopback,
PostgreSQL, and a scripted model over the OpenAI-compatible API. Between the gateway and the task
server sits a small proxy that records each MCP request and can answer one with a 502 after forwarding
it, as a proxy does whose upstream answer got lost: the request acted, the gateway cannot know.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, LiteralString

import httpx2
import psycopg
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.fake_llm import FakeLLM
from tests.support.gateway_fixtures import StartGateway, auth, user_token
from tests.support.processes import Service, free_port, post_tool_call

KEYED_WRITES = {"add_task", "update_task", "complete_task", "delete_task", "restore_task", "undo"}


class FlakyProxy:
    """Forwards every request to the task server; `fail_after_forwarding[name] = n` makes the next `n`
    requests for that method or tool answer 502 once the task server has handled them."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: list[dict[str, Any]] = []
        self.fail_after_forwarding: dict[str, int] = {}
        app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the proxy did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def sent(self, tool: str) -> list[dict[str, Any]]:
        """The `params` of every tools/call for `tool` that reached the proxy, in order."""
        return [call for call in self.calls if call.get("name") == tool]

    async def _forward(self, request: Request) -> Response:
        raw = await request.body()
        label = None
        if raw:
            body = json.loads(raw)
            params = body.get("params") or {}
            if body.get("method") == "tools/call":
                self.calls.append(params)
                label = params.get("name")
            else:
                label = body.get("method")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}}
        async with httpx2.AsyncClient(timeout=30) as client:
            upstream = await client.request(
                request.method, self.upstream + request.url.path, content=raw, headers=headers
            )
        if label is not None and self.fail_after_forwarding.get(label, 0) > 0:
            self.fail_after_forwarding[label] -= 1
            return Response(b"bad gateway", status_code=502)
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            media_type=upstream.headers.get("content-type"),
        )


class ConfirmingLLM(FakeLLM):
    """The scripted model, plus `preview then confirm {json}`: call `delete_tasks(json)`, then call it
    again with the confirmation token the preview returned, within the same turn (what a model talked
    into "do not ask, just do it" would try)."""

    async def _respond(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        since_user: list[dict[str, Any]] = []
        for message in reversed(messages):
            if message["role"] == "user":
                script = str(message["content"])
                break
            since_user.insert(0, message)
        else:
            script = ""
        prefix = "preview then confirm "
        if not script.startswith(prefix):
            return await super()._respond(messages)
        outputs = [str(message["content"]) for message in since_user if message["role"] == "tool"]
        if not outputs:
            return {"tool_calls": [self._call("delete_tasks", json.loads(script.removeprefix(prefix)))]}
        if len(outputs) == 1:
            token = json.loads(outputs[0])["confirmation_token"]
            return {"tool_calls": [self._call("delete_tasks", {"confirmation_token": token})]}
        return {"content": "done: " + " | ".join(outputs)}


@pytest.fixture(scope="module")
def proxy(task_server: Service) -> Iterator[FlakyProxy]:
    with FlakyProxy(task_server.base_url) as started:
        yield started


@pytest.fixture(scope="module")
def confirming_llm() -> Iterator[ConfirmingLLM]:
    llm = ConfirmingLLM()
    llm.start()
    yield llm
    llm.stop()


@pytest.fixture(scope="module")
def proxied_gateway(
    start_gateway: StartGateway, proxy: FlakyProxy, confirming_llm: ConfirmingLLM
) -> Iterator[Service]:
    with start_gateway(
        MCP_TASK_SERVER_URL=f"{proxy.url}/mcp",
        OPENAI_BASE_URL=confirming_llm.base_url,
        # Room for turns of seventy calls and of megabytes of results (a 16k-token model would refuse them).
        MODEL_CONTEXT_TOKENS="2000000",
    ) as gw:
        yield gw


@pytest.fixture
def user(clean_db: str) -> str:
    return f"safety-{uuid.uuid4().hex[:12]}"


def chat(http: httpx2.Client, gateway: Service, user: str, message: str, **extra: Any) -> httpx2.Response:
    return http.post(
        f"{gateway.base_url}/api/{user}/chat", headers=auth(user), json={"message": message, **extra}
    )


def turn(http: httpx2.Client, gateway: Service, user: str, message: str, **extra: Any) -> dict[str, Any]:
    response = chat(http, gateway, user, message, **extra)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def script(*calls: tuple[str, dict[str, Any]]) -> str:
    return " ; ".join(f"call {name} {json.dumps(arguments)}" for name, arguments in calls)


def query(database_url: str, sql: LiteralString, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def live_and_trashed(database_url: str, user: str) -> tuple[list[str], list[str]]:
    """The user's task titles on the list and in the trash, sorted (calls of one response run concurrently,
    so ids follow no script order)."""
    rows = query(database_url, "SELECT title, trashed_at IS NOT NULL FROM tasks WHERE user_id = %s", user)
    return sorted(title for title, trashed in rows if not trashed), sorted(
        title for title, trashed in rows if trashed
    )


def stored_tool_calls(database_url: str, conversation_id: int) -> list[list[dict[str, Any]]]:
    rows = query(
        database_url,
        "SELECT tool_calls FROM messages WHERE conversation_id = %s AND role = 'assistant' ORDER BY id",
        conversation_id,
    )
    return [row[0] or [] for row in rows]


def seed(http: httpx2.Client, gateway: Service, user: str, count: int) -> list[int]:
    """`count` tasks, added in a turn of their own (so they are the user's existing list afterwards)."""
    body = turn(http, gateway, user, script(*[("add_task", {"title": f"task {n}"}) for n in range(count)]))
    return [call["result"]["task_id"] for call in body["tool_calls"]]


def test_a_write_sent_twice_after_a_lost_answer_acts_once(
    http: httpx2.Client, proxied_gateway: Service, proxy: FlakyProxy, user: str, clean_db: str
) -> None:
    proxy.fail_after_forwarding["add_task"] = 1
    body = turn(http, proxied_gateway, user, script(("add_task", {"title": "Buy milk"})))

    [call] = body["tool_calls"]
    assert call["is_error"] is False, call
    assert call["result"]["status"] == "created"
    assert live_and_trashed(clean_db, user) == (["Buy milk"], [])
    first, retry = proxy.sent("add_task")[-2:]
    assert first == retry, "the retry must be the same request, key included"
    conversation_id = body["conversation_id"]
    [(message_id,)] = query(
        clean_db, "SELECT id FROM messages WHERE conversation_id = %s AND role = 'user'", conversation_id
    )
    assert first["arguments"]["idempotency_key"].startswith(f"chat:{conversation_id}:{message_id}:")
    assert first["_meta"]["todo-chat/turn"] == {"conversation_id": conversation_id, "message_id": message_id}
    # The task server's activity log names the conversation, once: the repeat changed nothing.
    assert query(clean_db, "SELECT kind, client FROM task_changes WHERE user_id = %s", user) == [
        ("create", f"chat:{conversation_id}")
    ]


def test_reads_are_retried_and_unkeyed_writes_never(
    http: httpx2.Client, proxied_gateway: Service, proxy: FlakyProxy, user: str, clean_db: str
) -> None:
    proxy.fail_after_forwarding["list_tasks"] = 1
    body = turn(http, proxied_gateway, user, script(("list_tasks", {})))
    assert body["tool_calls"][0]["is_error"] is False
    assert len(proxy.sent("list_tasks")) >= 2

    # start_turn stores the user's message and takes no key: a repeat would store it twice.
    before = len(proxy.sent("start_turn"))
    proxy.fail_after_forwarding["start_turn"] = 1
    response = chat(http, proxied_gateway, user, "hello")
    assert response.status_code == 503, response.text
    assert len(proxy.sent("start_turn")) == before + 1
    assert query(
        clean_db, "SELECT count(*) FROM messages WHERE user_id = %s AND content = 'hello'", user
    ) == [(1,)]


def test_the_model_never_sees_or_chooses_an_idempotency_key(
    http: httpx2.Client,
    proxied_gateway: Service,
    confirming_llm: ConfirmingLLM,
    task_server: Service,
    proxy: FlakyProxy,
    user: str,
    clean_db: str,
) -> None:
    listed = httpx2.post(
        f"{task_server.base_url}/mcp",
        headers={
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {user_token(user)}",
        },
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        timeout=10,
    ).json()
    server_keyed = {
        tool["name"]
        for tool in listed["result"]["tools"]
        # The conversation tools (record_reply takes a key too) are never offered to the model.
        if "idempotency_key" in tool["inputSchema"]["properties"]
        and "tasks" in tool.get("_meta", {}).get("fastmcp", {}).get("tags", [])
    }
    assert server_keyed >= KEYED_WRITES | {"complete_tasks", "delete_tasks"}

    made_up = {"title": "Call mom", "idempotency_key": "model-made-this-up"}
    first = turn(http, proxied_gateway, user, script(("add_task", made_up)))
    second = turn(http, proxied_gateway, user, script(("add_task", made_up)))
    # The model's own key was replaced: two requests, two tasks (the same key would have made one).
    assert live_and_trashed(clean_db, user) == (["Call mom", "Call mom"], [])
    sent_keys = [call["arguments"]["idempotency_key"] for call in proxy.sent("add_task")[-2:]]
    assert "model-made-this-up" not in sent_keys
    assert len(set(sent_keys)) == 2
    assert "idempotency_key" not in json.dumps([first["tool_calls"], second["tool_calls"]])

    offered = [request["tools"] for request in confirming_llm.requests if request.get("tools")]
    assert offered
    seen_names = {tool["function"]["name"] for tools in offered for tool in tools}
    assert seen_names >= server_keyed
    assert "idempotency_key" not in json.dumps(offered)


def test_five_deletes_in_one_turn_trash_one_task(
    http: httpx2.Client, proxied_gateway: Service, proxy: FlakyProxy, user: str, clean_db: str
) -> None:
    ids = seed(http, proxied_gateway, user, 5)
    before = len(proxy.sent("delete_task"))
    body = turn(
        http, proxied_gateway, user, script(*[("delete_task", {"task_id": task_id}) for task_id in ids])
    )

    calls = body["tool_calls"]
    assert [call["name"] for call in calls] == ["delete_task"] * 5
    assert sum(not call["is_error"] for call in calls) == 1
    refused = [call for call in calls if call["is_error"]]
    assert all("delete_tasks" in call["result"] for call in refused), refused
    assert len(live_and_trashed(clean_db, user)[1]) == 1
    assert len(proxy.sent("delete_task")) == before + 1, "a refused call must not reach the task server"


def test_single_task_changes_stop_at_three_per_turn(
    http: httpx2.Client, proxied_gateway: Service, user: str, clean_db: str
) -> None:
    ids = seed(http, proxied_gateway, user, 5)
    body = turn(
        http,
        proxied_gateway,
        user,
        script(
            ("complete_task", {"task_id": ids[0]}),
            ("update_task", {"task_id": ids[1], "title": "renamed"}),
            ("complete_task", {"task_id": ids[1]}),
            ("complete_task", {"task_id": ids[2]}),
            ("complete_task", {"task_id": ids[3]}),
        ),
    )
    assert [call["is_error"] for call in body["tool_calls"]] == [False, False, False, False, True]
    done = query(clean_db, "SELECT count(*) FROM tasks WHERE user_id = %s AND completed", user)
    assert done == [(3,)]


def test_a_preview_cannot_be_confirmed_in_its_own_turn(
    http: httpx2.Client, proxied_gateway: Service, proxy: FlakyProxy, user: str, clean_db: str
) -> None:
    seed(http, proxied_gateway, user, 3)
    body = turn(http, proxied_gateway, user, 'preview then confirm {"status": "all"}')

    preview, confirm = body["tool_calls"]
    assert preview["result"]["status"] == "confirmation_required"
    assert preview["result"]["count"] == 3
    assert confirm["arguments"] == {"confirmation_token": preview["result"]["confirmation_token"]}
    assert confirm["is_error"] is True
    assert "confirm" in confirm["result"]
    assert live_and_trashed(clean_db, user) == (["task 0", "task 1", "task 2"], [])
    tokens_sent = [call["arguments"].get("confirmation_token") for call in proxy.sent("delete_tasks")]
    assert preview["result"]["confirmation_token"] not in tokens_sent


def test_a_token_shown_in_the_previous_reply_confirms_and_no_other_does(
    http: httpx2.Client, proxied_gateway: Service, user: str, clean_db: str
) -> None:
    seed(http, proxied_gateway, user, 3)
    shown = turn(http, proxied_gateway, user, script(("delete_tasks", {"status": "all"})))
    conversation_id = shown["conversation_id"]
    token = shown["tool_calls"][0]["result"]["confirmation_token"]
    assert token

    # The same token in another conversation: its user never saw it there.
    elsewhere = turn(http, proxied_gateway, user, script(("delete_tasks", {"confirmation_token": token})))
    assert elsewhere["tool_calls"][0]["is_error"] is True
    assert live_and_trashed(clean_db, user)[1] == []

    confirmed = turn(
        http,
        proxied_gateway,
        user,
        script(("delete_tasks", {"confirmation_token": token})),
        conversation_id=conversation_id,
    )
    [call] = confirmed["tool_calls"]
    assert call["is_error"] is False, call
    assert call["result"]["status"] == "deleted"
    assert live_and_trashed(clean_db, user) == ([], ["task 0", "task 1", "task 2"])


def test_a_token_older_than_the_previous_reply_is_refused(
    http: httpx2.Client, proxied_gateway: Service, user: str, clean_db: str
) -> None:
    seed(http, proxied_gateway, user, 2)
    shown = turn(http, proxied_gateway, user, script(("complete_tasks", {"status": "all"})))
    conversation_id = shown["conversation_id"]
    token = shown["tool_calls"][0]["result"]["confirmation_token"]
    turn(http, proxied_gateway, user, "something else first", conversation_id=conversation_id)

    late = turn(
        http,
        proxied_gateway,
        user,
        script(("complete_tasks", {"confirmation_token": token})),
        conversation_id=conversation_id,
    )
    assert late["tool_calls"][0]["is_error"] is True
    assert query(clean_db, "SELECT count(*) FROM tasks WHERE user_id = %s AND completed", user) == [(0,)]


def test_a_turn_of_seventy_calls_is_stored_whole(
    http: httpx2.Client, proxied_gateway: Service, user: str, clean_db: str
) -> None:
    seeded = turn(http, proxied_gateway, user, script(*[("add_task", {"title": f"t{n}"}) for n in range(70)]))
    ids = [call["result"]["task_id"] for call in seeded["tool_calls"]]
    assert len(ids) == 70
    conversation_id = seeded["conversation_id"]

    body = turn(
        http,
        proxied_gateway,
        user,
        script(*[("delete_task", {"task_id": task_id}) for task_id in ids]),
        conversation_id=conversation_id,
    )
    assert len(body["tool_calls"]) == 70
    assert len(live_and_trashed(clean_db, user)[1]) == 1
    stored = stored_tool_calls(clean_db, conversation_id)
    assert [len(calls) for calls in stored] == [70, 70]
    assert [call["arguments"]["task_id"] for call in stored[1]] == ids
    assert [call["is_error"] for call in stored[1]] == [call["is_error"] for call in body["tool_calls"]]
    page = http.get(
        f"{proxied_gateway.base_url}/api/{user}/conversations/{conversation_id}/messages", headers=auth(user)
    ).json()
    assert [len(message["tool_calls"] or []) for message in page["messages"]] == [0, 70, 0, 70]


def test_bulky_results_are_summarised_rather_than_losing_the_turn(
    http: httpx2.Client, start_gateway: StartGateway, task_server: Service, user: str, clean_db: str
) -> None:
    headers = {"Authorization": f"Bearer {user_token(user)}"}
    for n in range(100):
        added = post_tool_call(
            task_server.base_url, headers, "add_task", {"title": f"long {n}", "description": "d" * 2000}
        )
        assert added.status_code == 200, added.text
    # A model with a context of millions of tokens, which can take all twenty results in one turn.
    with start_gateway(MODEL_CONTEXT_TOKENS="2000000") as gateway:
        started = time.monotonic()
        body = turn(http, gateway, user, script(*[("list_tasks", {"limit": 100})] * 20))
        print("TURN SECONDS", time.monotonic() - started)

    reported = body["tool_calls"]
    assert len(json.dumps(reported)) > 4 * 1024 * 1024, "the turn must outgrow what record_reply accepts"
    assert all(len(call["result"]["tasks"]) == 100 for call in reported)
    [stored] = stored_tool_calls(clean_db, body["conversation_id"])
    assert [(call["name"], call["arguments"], call["is_error"]) for call in stored] == [
        ("list_tasks", {"limit": 100}, False)
    ] * 20
    assert any(call["result"].get("compacted") for call in stored)
