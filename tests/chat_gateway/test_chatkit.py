"""POST /chatkit over real HTTP: the gateway process, the task server process and PostgreSQL, with the
scripted Chat Completions model (and the builtin one), driven as the ChatKit web component drives it."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import psycopg
import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.gateway_fixtures import StartGateway, auth
from tests.support.processes import Service

from .chatkit_client import ChatKit, texts, user_input

ADD_MILK = 'call add_task {"title": "Buy milk"}'


def tasks_of(database_url: str, user: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT title FROM tasks WHERE user_id = %s ORDER BY id", (user,)).fetchall()
    return [row[0] for row in rows]


def assert_error(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


def test_a_new_thread_is_answered_streamed_and_stored(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    kit = ChatKit(http, gateway, "kit-amy")
    created = kit.create(ADD_MILK)
    assert created.status == 200, created.body
    kinds = [event["type"] for event in created.events]
    assert kinds[0] == "thread.created"
    assert re.fullmatch(r"thr_[0-9a-f]{32}", created.thread_id)
    assert created.done_items("user_message")[0]["content"][0]["text"] == ADD_MILK
    assert created.of("progress_update")[0]["text"] == "Adding a task…"
    assert "thread.item.added" in kinds
    assert any(
        e["update"]["type"] == "assistant_message.content_part.text_delta"
        for e in created.of("thread.item.updated")
    )
    assert created.reply.startswith("done: ")
    assert "error" not in kinds
    # The thread is titled from its first message, and the client is told.
    assert created.of("thread.updated")[-1]["thread"]["title"] == ADD_MILK
    assert tasks_of(clean_db, "kit-amy") == ["Buy milk"]
    # Stored whole: both items with their ChatKit ids, the reply with the tool call it made.
    thread = kit.thread(created.thread_id)
    assert thread["title"] == ADD_MILK
    assert texts(thread["items"]["data"]) == [
        ("user_message", ADD_MILK),
        ("assistant_message", created.reply),
    ]
    assert [i["id"] for i in thread["items"]["data"]] == [
        created.done_items("user_message")[0]["id"],
        created.done_items("assistant_message")[0]["id"],
    ]
    with psycopg.connect(clean_db) as conn:
        [(calls,)] = conn.execute(
            "SELECT tool_calls FROM messages WHERE role = 'assistant' AND user_id = 'kit-amy'"
        ).fetchall()
    assert [(c["name"], c["arguments"]) for c in calls] == [("add_task", {"title": "Buy milk"})]


def test_every_thread_operation(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    kit = ChatKit(http, gateway, "kit-ops")
    first = kit.create("hello one")
    second = kit.create("hello two")
    for n in range(3):
        assert kit.send(second.thread_id, f"more {n}").status == 200
    # threads.list: newest first by default, paged with `after`.
    page = kit.call("threads.list", limit=1).json()
    assert [t["id"] for t in page["data"]] == [second.thread_id]
    assert page["has_more"] is True
    rest = kit.call("threads.list", limit=5, after=page["after"]).json()
    assert [t["id"] for t in rest["data"]] == [first.thread_id]
    assert rest["has_more"] is False
    ascending = kit.call("threads.list", limit=5, order="asc").json()
    assert [t["id"] for t in ascending["data"]] == [first.thread_id, second.thread_id]
    # items.list: in both orders, paged.
    items = kit.items(second.thread_id, limit=3)
    assert texts(items["data"]) == [
        ("user_message", "hello two"),
        ("assistant_message", "echo: hello two"),
        ("user_message", "more 0"),
    ]
    assert items["has_more"] is True
    later = kit.items(second.thread_id, limit=50, after=items["after"])
    assert len(later["data"]) == 5
    assert later["has_more"] is False
    newest = kit.items(second.thread_id, limit=2, order="desc")
    assert texts(newest["data"]) == [("assistant_message", "echo: more 2"), ("user_message", "more 2")]
    # threads.update renames; threads.delete deletes, after which the thread is gone.
    renamed = kit.call("threads.update", thread_id=first.thread_id, title="Groceries")
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Groceries"
    assert kit.thread(first.thread_id)["title"] == "Groceries"
    feedback = kit.call(
        "items.feedback", thread_id=second.thread_id, item_ids=[newest["data"][0]["id"]], kind="positive"
    )
    assert feedback.status_code == 200, feedback.text
    assert kit.call("threads.delete", thread_id=first.thread_id).status_code == 200
    assert_error(kit.call("threads.get_by_id", thread_id=first.thread_id), 404, "not_found")
    remaining = kit.call("threads.list", limit=5).json()
    assert [t["id"] for t in remaining["data"]] == [second.thread_id]


def test_neither_user_can_touch_the_others_thread(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    owner = ChatKit(http, gateway, "kit-owner")
    thief = ChatKit(http, gateway, "kit-thief")
    thread_id = owner.create(ADD_MILK).thread_id
    item_id = owner.items(thread_id)["data"][0]["id"]
    attempts: dict[str, dict[str, Any]] = {
        "threads.get_by_id": {"thread_id": thread_id},
        "items.list": {"thread_id": thread_id},
        "threads.update": {"thread_id": thread_id, "title": "mine now"},
        "threads.delete": {"thread_id": thread_id},
        "items.feedback": {"thread_id": thread_id, "item_ids": [item_id], "kind": "negative"},
        "threads.add_user_message": {"thread_id": thread_id, "input": user_input("call delete_tasks {}")},
        "threads.retry_after_item": {"thread_id": thread_id, "item_id": item_id},
    }
    messages = set()
    for kind, params in attempts.items():
        body = assert_error(thief.call(kind, **params), 404, "not_found")
        messages.add(body["error"]["message"])
    assert len(messages) == 1, "a foreign thread and a missing one must read the same"
    assert_error(thief.call("threads.get_by_id", thread_id="thr_" + "0" * 32), 404, "not_found")
    assert thief.call("threads.list", limit=20).json()["data"] == []
    # The owner's thread is exactly as it was.
    thread = owner.thread(thread_id)
    assert thread["title"] == ADD_MILK
    assert len(thread["items"]["data"]) == 2
    assert tasks_of(clean_db, "kit-owner") == ["Buy milk"]


def test_a_conversation_moves_between_chat_and_chatkit(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, clean_db: str
) -> None:
    user = "kit-mover"
    started = http.post(
        f"{gateway.base_url}/api/{user}/chat", headers=auth(user), json={"message": "from chat"}
    )
    assert started.status_code == 200, started.text
    conversation_id = started.json()["conversation_id"]
    [listed] = http.get(f"{gateway.base_url}/api/{user}/conversations", headers=auth(user)).json()[
        "conversations"
    ]
    thread_id = listed["thread_id"]
    kit = ChatKit(http, gateway, user)
    # The /chat conversation opens as a thread, with its history.
    assert texts(kit.thread(thread_id)["items"]["data"]) == [
        ("user_message", "from chat"),
        ("assistant_message", "echo: from chat"),
    ]
    # Continued through ChatKit: the model sees the /chat history.
    assert kit.send(thread_id, "from chatkit").reply == "echo: from chatkit"
    seen = [m.get("content") for m in fake_llm.requests[-1]["messages"]]
    assert "from chat" in seen
    assert "echo: from chat" in seen
    # And back through /chat: the model sees the ChatKit turn.
    back = http.post(
        f"{gateway.base_url}/api/{user}/chat",
        headers=auth(user),
        json={"message": "from chat again", "conversation_id": conversation_id},
    )
    assert back.status_code == 200, back.text
    seen = [m.get("content") for m in fake_llm.requests[-1]["messages"]]
    assert "from chatkit" in seen
    assert "echo: from chatkit" in seen
    # A thread started in ChatKit is a conversation for /chat too.
    created = kit.create("started in chatkit")
    page = http.get(f"{gateway.base_url}/api/{user}/conversations", headers=auth(user)).json()
    by_thread = {c["thread_id"]: c for c in page["conversations"]}
    assert by_thread[created.thread_id]["title"] == "started in chatkit"
    messages = http.get(
        f"{gateway.base_url}/api/{user}/conversations/{by_thread[created.thread_id]['id']}/messages",
        headers=auth(user),
    ).json()["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "started in chatkit"),
        ("assistant", "echo: started in chatkit"),
    ]


def test_a_thread_continues_on_another_replica(
    http: httpx2.Client, gateway: Service, second_gateway: Service, clean_db: str
) -> None:
    first = ChatKit(http, gateway, "kit-replicas")
    second = ChatKit(http, second_gateway, "kit-replicas")
    thread_id = first.create(ADD_MILK).thread_id
    assert second.send(thread_id, 'call add_task {"title": "Call mom"}').reply.startswith("done: ")
    assert first.send(thread_id, "thanks").reply == "echo: thanks"
    assert len(second.thread(thread_id)["items"]["data"]) == 6
    assert tasks_of(clean_db, "kit-replicas") == ["Buy milk", "Call mom"]


def test_a_failed_turn_ends_with_an_error_event_and_retry_answers_it_without_repeating_tools(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    kit = ChatKit(http, gateway, "kit-retry")
    failing = 'call add_task {"title": "Only once"} then refuse once kit-retry'
    created = kit.create(failing)
    assert created.status == 200
    [error] = created.of("error")
    assert error["message"] == "The language model refused the request."
    assert error["allow_retry"] is True
    assert created.done_items("assistant_message") == []
    assert tasks_of(clean_db, "kit-retry") == ["Only once"]
    # What the thread holds: the message and the note saying what was done (never a half reply).
    items = kit.items(created.thread_id)["data"]
    assert items[0]["type"] == "user_message"
    assert texts(items)[1][1].startswith("⚠ This turn did not finish")
    user_item = items[0]["id"]
    retried = kit.stream("threads.retry_after_item", thread_id=created.thread_id, item_id=user_item)
    assert retried.status == 200, retried.body
    assert retried.of("error") == []
    assert retried.reply == "echo: refuse once kit-retry"
    # The note went, the task was not added twice (the retry's tool call got the first try's key).
    assert texts(kit.items(created.thread_id)["data"]) == [
        ("user_message", failing),
        ("assistant_message", "echo: refuse once kit-retry"),
    ]
    assert tasks_of(clean_db, "kit-retry") == ["Only once"]
    # Retrying after an item that is not a user message is refused.
    reply_item = kit.items(created.thread_id)["data"][1]["id"]
    assert_error(
        kit.call("threads.retry_after_item", thread_id=created.thread_id, item_id=reply_item),
        400,
        "invalid_request",
    )


def test_a_reply_that_breaks_off_is_removed_not_kept_half_written(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    kit = ChatKit(http, gateway, "kit-drop")
    broken = kit.create("drop")
    kinds = [event["type"] for event in broken.events]
    assert "error" in kinds
    # Text had streamed before the break: the client is told to drop it.
    [added] = broken.of("thread.item.added")
    assert broken.of("thread.item.removed")[0]["item_id"] == added["item"]["id"]
    items = kit.items(broken.thread_id)["data"]
    assert [item["type"] for item in items] == ["user_message", "assistant_message"]
    assert texts(items)[1][1].startswith("⚠ This turn did not finish")
    # The next turn works (and the thread keeps its order).
    assert kit.send(broken.thread_id, "again").reply == "echo: again"


def test_invalid_requests_are_400_in_the_one_error_shape(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    kit = ChatKit(http, gateway, "kit-bad")
    assert_error(kit.post(b'{"type": '), 400, "invalid_request")
    assert_error(kit.post({"type": "threads.nonsense", "params": {}}), 400, "invalid_request")
    assert_error(kit.post({"type": "threads.get_by_id", "params": {}}), 400, "invalid_request")
    assert_error(kit.call("threads.create", input=user_input("   ")), 400, "invalid_request")
    assert_error(kit.call("threads.create", input=user_input("x" * 5000)), 400, "invalid_request")
    with_file = {**user_input("see file"), "attachments": ["atc_1"]}
    assert_error(kit.call("threads.create", input=with_file), 400, "invalid_request")
    assert_error(
        kit.call("attachments.create", name="a.txt", size=1, mime_type="text/plain"), 400, "invalid_request"
    )
    bad_zone = ChatKit(http, gateway, "kit-bad", **{"X-Timezone": "Mars/Olympus"})
    assert_error(bad_zone.call("threads.create", input=user_input("hi")), 400, "invalid_request")
    assert_error(kit.call("threads.get_by_id", thread_id="../../etc"), 400, "invalid_request")
    unsigned = http.post(f"{gateway.base_url}/chatkit", json={"type": "threads.list", "params": {}})
    assert_error(unsigned, 401, "unauthenticated")
    # Nothing was stored by any of them.
    assert kit.call("threads.list", limit=20).json()["data"] == []


def test_the_rate_limit_counts_chatkit_messages(
    start_gateway: StartGateway, http: httpx2.Client, clean_db: str
) -> None:
    with start_gateway(RATE_LIMIT_PER_MINUTE="2") as limited:
        kit = ChatKit(http, limited, "kit-limited")
        thread_id = kit.create("one").thread_id
        assert kit.send(thread_id, "two").status == 200
        refused = kit.call("threads.add_user_message", thread_id=thread_id, input=user_input("three"))
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) >= 1
        # Reading is not a message: still allowed.
        assert kit.call("threads.get_by_id", thread_id=thread_id).status_code == 200


def test_the_users_zone_reaches_the_tools(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    kit = ChatKit(http, gateway, "kit-zone", **{"X-Timezone": "Asia/Tokyo"})
    assert kit.create('call add_task {"title": "Call mom", "due": "tomorrow at 9"}').reply.startswith(
        "done: "
    )
    with psycopg.connect(clean_db) as conn:
        [(zone,)] = conn.execute("SELECT due_timezone FROM tasks WHERE user_id = 'kit-zone'").fetchall()
    assert zone == "Asia/Tokyo"


def test_the_builtin_model_answers_chatkit(
    start_gateway: StartGateway, http: httpx2.Client, clean_db: str
) -> None:
    with start_gateway(AGENT_MODEL="builtin") as builtin:
        kit = ChatKit(http, builtin, "kit-builtin")
        created = kit.create("add buy milk and call mom")
        assert "Buy milk" in created.reply
        listed = kit.send(created.thread_id, "what's on my list?")
        assert "Buy milk" in listed.reply
        assert "Call mom" in listed.reply
        done = kit.send(created.thread_id, "mark it done")
        assert done.of("error") == []
    # The two adds of one message run concurrently, so their ids come in either order.
    assert sorted(tasks_of(clean_db, "kit-builtin")) == ["Buy milk", "Call mom"]


def _requests_by_tool(http: httpx2.Client, gateway: Service) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in http.get(f"{gateway.base_url}/metrics").text.splitlines():
        found = re.match(
            r'gateway_task_server_requests_total\{method="tools/call",tool="(\w+)"\} (\S+)', line
        )
        if found:
            counts[found[1]] = float(found[2])
    return counts


def test_a_chatkit_turn_costs_three_store_round_trips(
    start_gateway: StartGateway, http: httpx2.Client, clean_db: str
) -> None:
    with start_gateway() as alone:  # Its own process: nothing else moves its counters.
        kit = ChatKit(http, alone, "kit-trips")
        thread_id = kit.create("warm up").thread_id
        before = _requests_by_tool(http, alone)
        assert kit.send(thread_id, ADD_MILK).reply.startswith("done: ")
        after = _requests_by_tool(http, alone)
    spent = {tool: after.get(tool, 0) - before.get(tool, 0) for tool in after}
    spent = {tool: n for tool, n in spent.items() if n}
    assert spent == {"get_thread": 1, "save_thread_item": 2, "add_task": 1}


@pytest.mark.parametrize("origin", ["https://app.example"])
def test_chatkit_gets_the_same_cors_and_security_headers(
    start_gateway: StartGateway, http: httpx2.Client, origin: str, clean_db: str
) -> None:
    with start_gateway(CORS_ALLOW_ORIGINS=origin) as gateway:
        preflight = http.options(
            f"{gateway.base_url}/chatkit",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-timezone",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        response = ChatKit(http, gateway, "kit-headers").call("threads.list", limit=5)
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "x-request-id" in response.headers
