"""Every way a model can misbehave has a defined outcome, in the one error shape, and a failed turn still
tells the truth.

The model is the scripted OpenAI-compatible server (tests/support/fake_llm.py), reached over loopback
through the real `openai` client; the task server and the gateway are real processes. For each case:
the status and code, what is stored, and that "try again" duplicates nothing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, LiteralString

import httpx2
import psycopg
import pytest

from chat_gateway.failed_turns import FAILURE_MARK
from tests.support.fake_llm import FakeLLM
from tests.support.gateway_fixtures import StartGateway, auth
from tests.support.processes import Service

pytestmark = pytest.mark.timeout(120)


def query(database_url: str, sql: LiteralString, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def stored(database_url: str, conversation_id: int) -> list[tuple[str, str, list[dict[str, Any]]]]:
    rows = query(
        database_url,
        "SELECT role, content, tool_calls FROM messages WHERE conversation_id = %s ORDER BY id",
        conversation_id,
    )
    return [(role, content, calls or []) for role, content, calls in rows]


def titles(database_url: str, user: str) -> list[str]:
    return [row[0] for row in query(database_url, "SELECT title FROM tasks WHERE user_id = %s", user)]


@pytest.fixture(scope="module")
def gateway(start_gateway: StartGateway) -> Iterator[Service]:
    with start_gateway(TURN_TIMEOUT_SECONDS="3", AGENT_MAX_TURNS="4") as service:
        yield service


@pytest.fixture
def user(request: pytest.FixtureRequest) -> str:
    return f"u-{re.sub(r'[^a-z0-9]+', '-', request.node.name.lower())[-40:]}-{time.time_ns()}"


def chat(http: httpx2.Client, gateway: Service, user: str, message: str, **extra: Any) -> httpx2.Response:
    return http.post(
        f"{gateway.base_url}/api/{user}/chat", headers=auth(user), json={"message": message, **extra}
    )


def failed(response: httpx2.Response, status: int, code: str) -> int:
    """The turn failed with this status and code, in the one shape, naming its conversation."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "conversation_id"}, body
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "Traceback" not in response.text
    conversation_id: int = body["conversation_id"]
    return conversation_id


def note_of(database_url: str, conversation_id: int, code: str) -> tuple[str, list[dict[str, Any]]]:
    """The failed turn stored its user message and a note (never an empty or half reply)."""
    messages = stored(database_url, conversation_id)
    assert [role for role, _, _ in messages][-2:] == ["user", "assistant"]
    _, content, calls = messages[-1]
    assert content.startswith(f"{FAILURE_MARK} ({code})"), content
    return content, calls


# --- The model calls a tool that does not exist, or with arguments that are not an object -----------


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("call no_such_tool {}", "not found"),
        ('raw add_task {"title": "unterminated', "not valid JSON"),
        ("raw add_task [1, 2]", "must be a JSON object"),
        ('raw add_task {"title": 5}', "title"),
    ],
)
def test_a_bad_tool_call_goes_back_to_the_model_as_a_tool_error(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str, script: str, expected: str
) -> None:
    response = chat(http, gateway, user, script)
    assert response.status_code == 200, response.text
    body = response.json()
    [call] = body["tool_calls"]
    assert call["is_error"] is True
    # The model read the error and answered (the scripted model echoes the tool outputs).
    assert expected in body["response"]
    assert titles(clean_db, user) == []
    assert stored(clean_db, body["conversation_id"])[-1][2][0]["is_error"] is True


# --- Empty replies and replies cut off at max_tokens ---------------------------------------------------


def test_an_empty_reply_is_retried_once_then_answered(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    before = len(fake_llm.requests)
    response = chat(http, gateway, user, f"empty once {user}")
    assert response.status_code == 200, response.text
    assert response.json()["response"] == f"echo: empty once {user}"
    assert len(fake_llm.requests) - before == 2
    assert stored(clean_db, response.json()["conversation_id"])[-1][1] == f"echo: empty once {user}"


def test_an_empty_reply_twice_is_a_model_error_and_nothing_empty_is_stored(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    before = len(fake_llm.requests)
    conversation_id = failed(chat(http, gateway, user, "empty"), 502, "model_error")
    assert len(fake_llm.requests) - before == 2
    content, calls = note_of(clean_db, conversation_id, "model_error")
    assert "empty" in content
    assert calls == []


def test_a_reply_cut_off_at_the_length_limit_is_reported_not_stored_as_complete(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str
) -> None:
    conversation_id = failed(chat(http, gateway, user, "length Sure, I added it and I'm"), 502, "model_error")
    content, _ = note_of(clean_db, conversation_id, "model_error")
    assert "cut off" in content
    # What the model had written is kept, marked as cut off, never as the reply.
    assert "«Sure, I added it and I'm…»" in content


# --- The model server says no, fails, hangs or breaks off ----------------------------------------------


@pytest.mark.parametrize("server", ["openai", "llamacpp"])
def test_a_context_length_refusal_is_its_own_error(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str, server: str
) -> None:
    conversation_id = failed(chat(http, gateway, user, f"context {server}"), 422, "context_length_exceeded")
    note_of(clean_db, conversation_id, "context_length_exceeded")


def test_another_refusal_is_a_model_error(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str
) -> None:
    conversation_id = failed(chat(http, gateway, user, "refuse"), 502, "model_error")
    note_of(clean_db, conversation_id, "model_error")


def test_a_server_error_is_model_unavailable(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str
) -> None:
    conversation_id = failed(chat(http, gateway, user, "fail"), 503, "model_unavailable")
    note_of(clean_db, conversation_id, "model_unavailable")


def test_a_dropped_stream_is_model_unavailable(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str
) -> None:
    conversation_id = failed(chat(http, gateway, user, "drop"), 503, "model_unavailable")
    content, _ = note_of(clean_db, conversation_id, "model_unavailable")
    assert "this answer will break off" not in content.split("\n")[0]


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_generation_past_the_timeout_is_stopped_at_the_model_server(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    generations = len(fake_llm.generations)
    started = time.monotonic()
    conversation_id = failed(chat(http, gateway, user, "generate 30"), 504, "timeout")
    assert time.monotonic() - started < 6
    # The gateway closed the model's stream, so the server's generation ended there, not 30 s later.
    assert wait_for(lambda: len(fake_llm.generations) > generations)
    assert fake_llm.generations[generations:] == ["cancelled"]
    note_of(clean_db, conversation_id, "timeout")


@pytest.mark.parametrize("path", ["chat", "chat/stream"])
def test_a_client_that_leaves_stops_the_generation_and_the_turn_is_noted(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, user: str, clean_db: str, path: str
) -> None:
    generations = len(fake_llm.generations)
    url = f"{gateway.base_url}/api/{user}/{path}"
    with httpx2.Client(timeout=1.0) as impatient:
        if path == "chat":
            with pytest.raises(httpx2.ReadTimeout):
                impatient.post(url, headers=auth(user), json={"message": "generate 30"})
        else:
            with impatient.stream(
                "POST", url, headers=auth(user), json={"message": "generate 30"}
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("event: delta"):
                        break  # Leave mid-stream: closing the response closes the connection.
    assert wait_for(lambda: len(fake_llm.generations) > generations)
    assert fake_llm.generations[generations:] == ["cancelled"]

    def rows() -> list[tuple[Any, ...]]:
        return query(clean_db, "SELECT content FROM messages WHERE user_id = %s AND role = 'assistant'", user)

    assert wait_for(lambda: len(rows()) == 1)
    assert rows()[0][0].startswith(f"{FAILURE_MARK} (client_closed)")


def test_a_tool_loop_stops_at_the_turn_limit_with_its_calls_recorded(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str
) -> None:
    conversation_id = failed(chat(http, gateway, user, "loop"), 422, "turn_limit_exceeded")
    _, calls = note_of(clean_db, conversation_id, "turn_limit_exceeded")
    assert [call["name"] for call in calls] == ["list_tasks"] * 4


# --- A turn that fails after its tools ran: recorded, and "try again" duplicates nothing ---------------


@pytest.mark.parametrize(
    ("after", "status", "code"),
    [("fail", 503, "model_unavailable"), ("generate 30", 504, "timeout"), ("empty", 502, "model_error")],
)
def test_a_failure_after_the_tools_ran_records_them_and_a_retry_repeats_nothing(
    http: httpx2.Client,
    gateway: Service,
    user: str,
    clean_db: str,
    after: str,
    status: int,
    code: str,
) -> None:
    message = f'call add_task {{"title": "milk"}} ; call add_task {{"title": "bread"}} then {after}'
    conversation_id = failed(chat(http, gateway, user, message), status, code)
    assert sorted(titles(clean_db, user)) == ["bread", "milk"]
    content, calls = note_of(clean_db, conversation_id, code)
    assert [(call["name"], call["is_error"]) for call in calls] == [("add_task", False)] * 2
    ids = sorted(call["result"]["task_id"] for call in calls)
    assert '"milk" created' in content
    assert '"bread" created' in content

    # The user tries again, in the same conversation (which the error named): nothing is added twice,
    # and the tools answer with the tasks the first try made.
    again = failed(chat(http, gateway, user, message, conversation_id=conversation_id), status, code)
    assert again == conversation_id
    assert sorted(titles(clean_db, user)) == ["bread", "milk"]
    _, retried = note_of(clean_db, conversation_id, code)
    assert sorted(call["result"]["task_id"] for call in retried) == ids
    # A third time, too (each retry chains back to the first try).
    failed(chat(http, gateway, user, message, conversation_id=conversation_id), status, code)
    assert sorted(titles(clean_db, user)) == ["bread", "milk"]

    # The same words after a turn that succeeded are a new request: they act again.
    chat(http, gateway, user, "hello", conversation_id=conversation_id)
    failed(chat(http, gateway, user, message, conversation_id=conversation_id), status, code)
    assert sorted(titles(clean_db, user)) == ["bread", "bread", "milk", "milk"]


def test_a_streamed_turn_that_fails_names_its_conversation(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str
) -> None:
    with http.stream(
        "POST", f"{gateway.base_url}/api/{user}/chat/stream", headers=auth(user), json={"message": "refuse"}
    ) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    start, error = json.loads(events[0][6:]), json.loads(events[-1][6:])
    assert error["error"]["code"] == "model_error"
    assert error["conversation_id"] == start["conversation_id"]
    note_of(clean_db, error["conversation_id"], "model_error")


# --- Model settings and the context budget --------------------------------------------------------------


def test_model_settings_reach_every_model_call(
    start_gateway: StartGateway, http: httpx2.Client, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    settings = {
        "MODEL_MAX_TOKENS": "300",
        "MODEL_TEMPERATURE": "0.2",
        "MODEL_TOOL_CHOICE": "auto",
        "MODEL_PARALLEL_TOOL_CALLS": "false",
    }
    with start_gateway(**settings) as configured:
        before = len(fake_llm.requests)
        assert chat(http, configured, user, 'call add_task {"title": "x"}').status_code == 200
    sent = fake_llm.requests[before:]
    assert len(sent) == 2
    for request in sent:
        assert request["max_tokens"] == 300
        assert request["temperature"] == 0.2
        assert request["tool_choice"] == "auto"
        assert request["parallel_tool_calls"] is False
        assert request["stream"] is True


def test_defaults_send_a_token_limit_and_nothing_else(
    http: httpx2.Client, gateway: Service, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    before = len(fake_llm.requests)
    assert chat(http, gateway, user, "hi").status_code == 200
    [request] = fake_llm.requests[before:]
    assert request["max_tokens"] == 1024
    assert not {"temperature", "tool_choice", "parallel_tool_calls"} & set(request)


def test_without_streaming_the_model_is_asked_for_whole_replies(
    start_gateway: StartGateway, http: httpx2.Client, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    with start_gateway(MODEL_STREAM="false") as whole:
        before = len(fake_llm.requests)
        body = chat(http, whole, user, 'call add_task {"title": "whole"}').json()
        with http.stream(
            "POST",
            f"{whole.base_url}/api/{user}/chat/stream",
            headers=auth(user),
            json={"message": "hi there"},
        ) as response:
            events = [line for line in response.iter_lines() if line.startswith("event: ")]
        empty = failed(chat(http, whole, user, "empty"), 502, "model_error")
    assert all(not request.get("stream") for request in fake_llm.requests[before:])
    assert body["tool_calls"][0]["result"]["title"] == "whole"
    assert "event: delta" in events
    assert events[-1] == "event: done"
    note_of(clean_db, empty, "model_error")


def test_history_is_trimmed_to_the_token_budget_oldest_turns_first(
    start_gateway: StartGateway, http: httpx2.Client, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    budget = {"MODEL_CONTEXT_TOKENS": "16000", "MODEL_MAX_TOKENS": "512", "HISTORY_LIMIT": "200"}
    with start_gateway(**budget) as small:
        first = chat(http, small, user, 'call add_task {"title": "first"}').json()
        conversation_id = first["conversation_id"]
        for n in range(16):
            long = f"turn {n} " + "words " * 600
            response = chat(http, small, user, long, conversation_id=conversation_id)
            assert response.status_code == 200, response.text
            sent = fake_llm.requests[-1]
            # What was sent fits the budget (3 characters of compact JSON a token, pessimistically) ...
            compact = json.dumps([sent["messages"], sent["tools"]], separators=(",", ":"))
            assert len(compact) < (16000 - 512) * 3
            # ... always ends with this turn's message, and never holds a tool result without its call.
            assert sent["messages"][-1]["content"].startswith(f"turn {n} ")
            called = {
                c["id"]
                for m in sent["messages"]
                if m["role"] == "assistant"
                for c in m.get("tool_calls") or []
            }
            assert all(m["tool_call_id"] in called for m in sent["messages"] if m["role"] == "tool")
        contents = [m.get("content") or "" for m in sent["messages"]]
    # The oldest turns went first: the first turn's call is gone, the latest turns are all there.
    assert not any("first" in content for content in contents if isinstance(content, str))
    assert any(content.startswith("turn 15 ") for content in contents)
    assert any(content.startswith("turn 14 ") for content in contents)
    # Nothing was dropped from the conversation itself, only from what the model was sent.
    assert len(stored(clean_db, conversation_id)) == 34


def test_a_message_that_cannot_fit_is_refused_before_it_is_stored(
    start_gateway: StartGateway, http: httpx2.Client, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    with start_gateway(
        MODEL_CONTEXT_TOKENS="8000", MODEL_MAX_TOKENS="512", MESSAGE_MAX_CHARS="32000"
    ) as small:
        before = len(fake_llm.requests)
        response = chat(http, small, user, "words " * 5000)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert "too long" in response.json()["error"]["message"]
    assert len(fake_llm.requests) == before
    assert query(clean_db, "SELECT count(*) FROM messages WHERE user_id = %s", user) == [(0,)]


def test_a_context_too_small_for_the_tools_is_a_clear_configuration_error(
    start_gateway: StartGateway, http: httpx2.Client, fake_llm: FakeLLM, user: str, clean_db: str
) -> None:
    with start_gateway(MODEL_CONTEXT_TOKENS="2048", MODEL_MAX_TOKENS="1024") as tiny:
        before = len(fake_llm.requests)
        response = chat(http, tiny, user, "hi")
        log = tiny.log()
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "model_error"
    assert "misconfigured" in response.json()["error"]["message"]
    assert len(fake_llm.requests) == before
    assert "MODEL_CONTEXT_TOKENS (2048) is too small" in log


def test_failed_turns_say_why_in_the_log(
    http: httpx2.Client, gateway: Service, user: str, clean_db: str
) -> None:
    secret = f"private words {user}"
    chat(http, gateway, user, f"{secret} then fail")  # no tools: "then" applies after tool outputs only
    failed(chat(http, gateway, user, "refuse"), 502, "model_error")
    failed(chat(http, gateway, user, "generate 30"), 504, "timeout")
    failed(chat(http, gateway, user, "loop"), 422, "turn_limit_exceeded")
    log = gateway.log()
    assert "turn failed: model_error (model server answered 400 unsupported)" in log
    assert "turn failed: timeout" in log
    assert "turn failed: turn_limit_exceeded" in log
    assert secret not in log
