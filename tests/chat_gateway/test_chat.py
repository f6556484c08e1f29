"""Chat turns through the gateway process, the task server process and PostgreSQL, with a scripted model
served over the OpenAI-compatible API (the real `openai` client talks to it over HTTP)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import psycopg
import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.gateway_fixtures import StartGateway, auth, user_token
from tests.support.processes import Service


def chat(http: httpx2.Client, gateway: Service, user: str, message: str, **extra: Any) -> httpx2.Response:
    return http.post(
        f"{gateway.base_url}/api/{user}/chat", headers=auth(user), json={"message": message, **extra}
    )


def tasks_of(database_url: str, user: str) -> list[tuple[str, bool]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT title, completed FROM tasks WHERE user_id = %s ORDER BY id", (user,)
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def test_a_turn_calls_the_tools_and_reports_what_happened(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    response = chat(http, gateway, "amy", 'call add_task {"title": "Buy milk"}')
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"].startswith("done: ")
    [call] = body["tool_calls"]
    assert call["name"] == "add_task"
    assert call["arguments"] == {"title": "Buy milk"}
    assert call["is_error"] is False
    assert call["result"]["status"] == "created"
    assert call["result"]["title"] == "Buy milk"
    assert tasks_of(clean_db, "amy") == [("Buy milk", False)]


def test_tool_calls_match_the_rows_including_failures(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    added = chat(http, gateway, "bo", 'call add_task {"title": "Pay rent"}').json()
    task_id = added["tool_calls"][0]["result"]["task_id"]
    body = chat(
        http,
        gateway,
        "bo",
        f'call complete_task {{"task_id": {task_id}}} ; call delete_task {{"task_id": 999999}}',
    ).json()
    by_name = {call["name"]: call for call in body["tool_calls"]}
    assert by_name["complete_task"]["is_error"] is False
    assert by_name["complete_task"]["result"]["task"]["completed"] is True
    assert by_name["delete_task"]["is_error"] is True
    assert by_name["delete_task"]["result"].startswith("Task 999999 was not found.")
    assert tasks_of(clean_db, "bo") == [("Pay rent", True)]


def test_a_conversation_continues_across_requests_and_replicas(
    http: httpx2.Client, gateway: Service, second_gateway: Service, clean_db: str
) -> None:
    first = chat(http, gateway, "cy", "hello there").json()
    conversation_id = first["conversation_id"]
    second = chat(http, second_gateway, "cy", 'call add_task {"title": "x"}', conversation_id=conversation_id)
    assert second.status_code == 200
    assert second.json()["conversation_id"] == conversation_id
    third = chat(http, gateway, "cy", "and again", conversation_id=conversation_id).json()
    assert third["conversation_id"] == conversation_id

    listed = http.get(f"{second_gateway.base_url}/api/cy/conversations", headers=auth("cy")).json()
    assert [c["id"] for c in listed["conversations"]] == [conversation_id]
    assert listed["conversations"][0]["title"] == "hello there"
    page = http.get(
        f"{gateway.base_url}/api/cy/conversations/{conversation_id}/messages", headers=auth("cy")
    ).json()
    assert [(m["role"], m["content"]) for m in page["messages"]] == [
        ("user", "hello there"),
        ("assistant", "echo: hello there"),
        ("user", 'call add_task {"title": "x"}'),
        ("assistant", page["messages"][3]["content"]),
        ("user", "and again"),
        ("assistant", "echo: and again"),
    ]
    assert page["messages"][3]["tool_calls"][0]["name"] == "add_task"


def test_the_model_sees_the_history_with_past_tool_calls(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, clean_db: str
) -> None:
    first = chat(http, gateway, "dee", 'call add_task {"title": "Walk dog"}').json()
    chat(http, gateway, "dee", "what did you do?", conversation_id=first["conversation_id"])
    messages = fake_llm.requests[-1]["messages"]
    roles = [m["role"] for m in messages]
    assert roles[0] == "system"
    assert roles[1:] == ["user", "assistant", "tool", "assistant", "user"]
    assert messages[2]["tool_calls"][0]["function"]["name"] == "add_task"
    assert "Walk dog" in messages[3]["content"]


def test_the_model_never_sees_the_users_token(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, clean_db: str
) -> None:
    chat(http, gateway, "eve", "call list_tasks {}")
    token = user_token("eve")
    signature = token.rsplit(".", 1)[1]
    assert all(signature.encode() not in body for body in fake_llm.raw_bodies)


def test_the_agent_gets_only_the_task_tools(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, clean_db: str
) -> None:
    chat(http, gateway, "fay", "which tools?")
    names = {tool["function"]["name"] for tool in fake_llm.requests[-1]["tools"]}
    assert names == {
        *("add_task", "list_tasks", "complete_task", "delete_task", "update_task"),
        *("restore_task", "complete_tasks", "delete_tasks", "undo", "list_activity"),
    }
    # The conversation tools stay hidden, and the gateway keeps idempotency keys away from the model.
    for tool in fake_llm.requests[-1]["tools"]:
        assert "idempotency_key" not in tool["function"]["parameters"].get("properties", {})
    # Nor length limits (the task server enforces them; llama-cpp-python cannot turn them into a grammar).
    sent = json.dumps(fake_llm.requests[-1]["tools"])
    assert "maxLength" not in sent
    assert "minLength" not in sent


def test_a_title_over_the_limit_comes_back_to_the_model_as_an_error_naming_it(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    body = chat(http, gateway, "gus", 'call add_task {"title": "' + "x" * 600 + '"}').json()
    [call] = body["tool_calls"]
    assert call["is_error"] is True
    assert "title" in json.dumps(call["result"])


def test_streaming_sends_events_in_order_and_stores_the_same_turn(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    with http.stream(
        "POST",
        f"{gateway.base_url}/api/gus/chat/stream",
        headers=auth("gus"),
        json={"message": 'call add_task {"title": "Stream me"}'},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "done"
    assert kinds.index("tool_call") < kinds.index("tool_result") < kinds.index("delta")
    deltas = "".join(data["text"] for kind, data in events if kind == "delta")
    done = events[-1][1]
    assert deltas == done["response"]
    assert done["tool_calls"][0]["result"]["title"] == "Stream me"
    page = http.get(
        f"{gateway.base_url}/api/gus/conversations/{done['conversation_id']}/messages", headers=auth("gus")
    ).json()
    assert page["messages"][-1]["content"] == done["response"]
    assert tasks_of(clean_db, "gus") == [("Stream me", False)]


async def test_concurrent_turns_from_many_users_each_act_as_their_own_user(
    gateway: Service, clean_db: str
) -> None:
    users = [f"crowd-{n}" for n in range(6)]

    async def turns(client: httpx2.AsyncClient, user: str) -> list[dict[str, Any]]:
        async def one(n: int) -> dict[str, Any]:
            response = await client.post(
                f"{gateway.base_url}/api/{user}/chat",
                headers=auth(user),
                json={"message": f'call add_task {{"title": "{user} task {n}"}} ; call list_tasks {{}}'},
            )
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        return await asyncio.gather(*(one(n) for n in range(5)))

    async with httpx2.AsyncClient(timeout=60) as client:
        results = await asyncio.gather(*(turns(client, user) for user in users))
    for user, bodies in zip(users, results, strict=True):
        for body in bodies:
            listed = next(c for c in body["tool_calls"] if c["name"] == "list_tasks")["result"]["tasks"]
            assert all(task["title"].startswith(f"{user} task") for task in listed)
        assert sorted(title for title, _ in tasks_of(clean_db, user)) == sorted(
            f"{user} task {n}" for n in range(5)
        )


def test_the_chat_requests_time_zone_goes_with_every_tool_call_and_not_to_the_model(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, clean_db: str
) -> None:
    body = chat(
        http,
        gateway,
        "tz",
        'call add_task {"title": "Call mom", "due": "tomorrow at 9"}',
        timezone="Asia/Tokyo",
    ).json()
    due = body["tool_calls"][0]["result"]["task"]["due"]
    assert (due["timezone"], due["string"]) == ("Asia/Tokyo", "tomorrow at 9")
    assert due["datetime"].endswith("T09:00:00+09:00")
    # The model can neither see nor set the zone; a zone it sends anyway is replaced by the request's.
    for tool in fake_llm.requests[-1]["tools"]:
        assert "timezone" not in tool["function"]["parameters"].get("properties", {})
    body = chat(
        http,
        gateway,
        "tz",
        'call add_task {"title": "x", "due": "today", "timezone": "America/New_York"}',
        timezone="Europe/Berlin",
    ).json()
    assert body["tool_calls"][0]["result"]["task"]["due"]["timezone"] == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "x" * 100])
def test_an_unknown_time_zone_is_422_naming_it(http: httpx2.Client, gateway: Service, zone: str) -> None:
    response = http.post(
        f"{gateway.base_url}/api/tz2/chat", headers=auth("tz2"), json={"message": "hi", "timezone": zone}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert "timezone" in response.json()["error"]["message"]


def test_the_builtin_model_reads_dates_in_the_users_zone_and_says_them_back(
    start_gateway: StartGateway, http: httpx2.Client, clean_db: str
) -> None:
    with start_gateway(AGENT_MODEL="builtin") as builtin:
        added = chat(
            http, builtin, "kei", "remind me to call mom tomorrow at 9", timezone="Asia/Tokyo"
        ).json()
        listed = chat(
            http, builtin, "kei", "what's due tomorrow?", conversation_id=added["conversation_id"]
        ).json()
    [call] = added["tool_calls"]
    assert call["arguments"]["due"] == "tomorrow at 9"
    due = call["result"]["task"]["due"]
    assert (due["timezone"], due["datetime"][-6:]) == ("Asia/Tokyo", "+09:00")
    assert "due tomorrow," in added["response"]
    assert "09:00" in added["response"]
    # The zone was remembered by the task server: the next turn, without one, still reads Tokyo days.
    assert listed["tool_calls"][-1]["arguments"]["due"] == "tomorrow"
    assert "Call mom" in listed["response"]
