"""Hostile tool arguments get `invalid_argument` naming the field, never `internal`, never a traceback.

PostgreSQL cannot store NUL or a lone surrogate, ids are bigint, and JSON `true` is not the number 1:
each of these used to reach the database (or be silently coerced) and now stops at the boundary.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest
from fastmcp import Client

from devtools.postgres import with_database
from shared.schemas import ERROR_META_KEY
from tests.support.processes import Service, free_port, run_service
from tests.support.tokens import AUDIENCE, ED, ISSUER, KEYS, JwksServer, sign

from .helpers import call_error, call_ok

BIG = 2**63
NUL = "a\x00b"
SURROGATE = "a\ud800b"

# (tool, arguments, the field the message must name)
HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("add_task", {"title": NUL}, "title"),
    ("add_task", {"title": SURROGATE}, "title"),
    ("add_task", {"title": "t", "description": NUL}, "description"),
    ("add_task", {"title": 5}, "title"),
    ("add_task", {"title": "t", "idempotency_key": NUL}, "idempotency_key"),
    ("complete_task", {"task_id": True}, "task_id"),
    ("complete_task", {"task_id": "1"}, "task_id"),
    ("complete_task", {"task_id": 1.0}, "task_id"),
    ("complete_task", {"task_id": BIG}, "task_id"),
    ("complete_task", {"task_id": -BIG}, "task_id"),
    ("complete_task", {"task_id": 2**200}, "task_id"),
    ("complete_task", {"task_id": 1, "expected_version": True}, "expected_version"),
    ("delete_task", {"task_id": False}, "task_id"),
    ("restore_task", {"task_id": [1]}, "task_id"),
    ("update_task", {"task_id": 1, "completed": "yes"}, "completed"),
    ("update_task", {"task_id": 1, "completed": 1}, "completed"),
    ("update_task", {"task_id": 1, "title": SURROGATE}, "title"),
    ("update_task", {"task_id": 1, "description": NUL}, "description"),
    ("list_tasks", {"limit": "5"}, "limit"),
    ("list_tasks", {"limit": True}, "limit"),
    ("list_tasks", {"cursor": NUL}, "cursor"),
    ("list_tasks", {"cursor": SURROGATE}, "cursor"),
    ("complete_tasks", {"task_ids": [True]}, "task_ids"),
    ("complete_tasks", {"task_ids": [BIG]}, "task_ids"),
    ("delete_tasks", {"task_ids": "[1]"}, "task_ids"),
    ("delete_tasks", {"confirmation_token": NUL}, "confirmation_token"),
    ("undo", {"change_id": True}, "change_id"),
    ("undo", {"change_id": BIG}, "change_id"),
    ("list_activity", {"task_id": "1"}, "task_id"),
    ("list_activity", {"limit": 2.5}, "limit"),
    ("list_activity", {"cursor": NUL}, "cursor"),
    ("start_turn", {"message": NUL}, "message"),
    ("start_turn", {"message": SURROGATE}, "message"),
    ("start_turn", {"message": "hi", "conversation_id": True}, "conversation_id"),
    ("start_turn", {"message": "hi", "history_limit": "20"}, "history_limit"),
    ("record_reply", {"conversation_id": 1, "content": NUL}, "content"),
    ("record_reply", {"conversation_id": BIG, "content": "x"}, "conversation_id"),
    ("list_conversations", {"cursor": NUL}, "cursor"),
    ("list_conversations", {"limit": True}, "limit"),
    ("get_conversation_messages", {"conversation_id": "1"}, "conversation_id"),
    ("get_conversation_messages", {"conversation_id": 1, "cursor": SURROGATE}, "cursor"),
    ("save_thread", {"thread_id": NUL}, "thread_id"),
    ("save_thread", {"thread_id": 1}, "thread_id"),
    ("save_thread", {"thread_id": "thr_a", "title": SURROGATE}, "title"),
    ("save_thread", {"thread_id": "thr_a", "metadata": {"k": SURROGATE}}, "metadata"),
    ("save_thread", {"thread_id": "thr_a", "status": {"type": "active", NUL: 1}}, "status"),
    ("get_thread", {"thread_id": "thr_a", "history_limit": "5"}, "history_limit"),
    ("list_threads", {"after": SURROGATE}, "after"),
    ("list_threads", {"limit": True}, "limit"),
    ("delete_thread", {"thread_id": ["thr_a"]}, "thread_id"),
    ("save_thread_item", {"thread_id": "thr_a", "item": {"id": "m_1", "type": "widget", "v": NUL}}, "item"),
    ("save_thread_item", {"thread_id": "thr_a", "item": {"id": NUL, "type": "widget"}}, "item"),
    ("save_thread_item", {"thread_id": "thr_a", "item": "{}"}, "item"),
    ("list_thread_items", {"thread_id": "thr_a", "item_id": NUL}, "item_id"),
    ("list_thread_items", {"thread_id": "thr_a", "limit": 2.5}, "limit"),
    ("delete_thread_item", {"thread_id": "thr_a", "item_id": SURROGATE}, "item_id"),
]


@pytest.mark.parametrize(("tool", "arguments", "field"), HOSTILE, ids=[f"{t}-{f}" for t, _, f in HOSTILE])
async def test_hostile_argument_is_an_invalid_argument_naming_the_field(
    alice: Client[Any], caplog: pytest.LogCaptureFixture, tool: str, arguments: dict[str, Any], field: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        code, message = await call_error(alice, tool, **arguments)
    assert code == "invalid_argument", message
    assert field in message
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.INFO]


async def test_true_is_not_task_one(alice: Client[Any]) -> None:
    added = await call_ok(alice, "add_task", title="first")
    assert added["task_id"] == 1
    await call_error(alice, "complete_task", task_id=True)
    await call_error(alice, "update_task", task_id=1, completed="yes")
    listed = await call_ok(alice, "list_tasks")
    assert [(t["id"], t["completed"], t["version"]) for t in listed["tasks"]] == [(1, False, 1)]


async def test_ordinary_unicode_still_round_trips(alice: Client[Any]) -> None:
    title = "Café ☕ 𝄞 — 日本語 \u200b"
    added = await call_ok(alice, "add_task", title=title, description="línea\nnueva\ttab")
    assert added["task"]["title"] == title.strip()


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


FORGED_IDS: list[Any] = [BIG, 2**64, -1, 0, 1.5, True, "1", None, [1], {"a": 1}]
NOT_CURSORS = [
    "!!!",
    "a",
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    _cursor([1]),
    _cursor("x"),
    "=" * 8,
]


@pytest.mark.parametrize("forged", FORGED_IDS, ids=repr)
async def test_forged_cursor_ids_are_invalid_arguments(alice: Client[Any], forged: Any) -> None:
    started = await call_ok(alice, "start_turn", message="hello")
    conversation_id = started["conversation_id"]
    messages = {"k": "messages", "c": conversation_id, "before": forged}
    calls = [
        ("list_tasks", {"cursor": _cursor({"k": "tasks", "s": "all", "after": forged})}),
        ("list_activity", {"cursor": _cursor({"k": "activity", "t": None, "before": forged})}),
        (
            "list_conversations",
            {"cursor": _cursor({"k": "conversations", "u": "2026-01-01T00:00Z", "id": forged})},
        ),
        ("get_conversation_messages", {"conversation_id": conversation_id, "cursor": _cursor(messages)}),
        (
            "get_conversation_messages",
            {"conversation_id": conversation_id, "cursor": _cursor({**messages, "c": forged, "before": 1})},
        ),
    ]
    for tool, arguments in calls:
        code, message = await call_error(alice, tool, **arguments)
        assert code == "invalid_argument", (tool, message)
        assert "cursor" in message


@pytest.mark.parametrize("cursor", NOT_CURSORS)
async def test_cursors_that_do_not_decode_are_invalid_arguments(alice: Client[Any], cursor: str) -> None:
    for tool in ("list_tasks", "list_activity", "list_conversations"):
        code, message = await call_error(alice, tool, cursor=cursor)
        assert code == "invalid_argument", (tool, message)
        assert "cursor" in message


def _nested(depth: int, leaf: Any = 1) -> Any:
    """`depth` objects, one inside the other."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


async def _reply(client: Client[Any], **record: Any) -> tuple[str, str]:
    started = await call_ok(client, "start_turn", message="hello")
    call = {"name": "add_task", **record}
    return await call_error(
        client, "record_reply", conversation_id=started["conversation_id"], content="ok", tool_calls=[call]
    )


@pytest.mark.parametrize(
    "record",
    [
        {"arguments": _nested(33)},
        {"result": [_nested(32)]},
        {"arguments": {"title": NUL}},
        {"arguments": {NUL: 1}},
        {"arguments": {"deep": [[{"x": SURROGATE}]]}},
        {"result": {"n": 2**64}},
        {"result": NUL},
        {"name": NUL},
        {"name": "add_task", "is_error": "yes"},
    ],
    ids=[
        "args-33-deep",
        "result-33-deep",
        "nul-value",
        "nul-key",
        "surrogate",
        "huge-int",
        "nul-result",
        "nul-name",
        "is-error-str",
    ],
)
async def test_unstorable_tool_call_records_are_invalid_arguments(
    alice: Client[Any], record: dict[str, Any]
) -> None:
    code, message = await _reply(alice, **record)
    assert code == "invalid_argument", message
    assert "tool_calls" in message


async def test_a_record_at_the_depth_limit_is_stored(alice: Client[Any]) -> None:
    started = await call_ok(alice, "start_turn", message="hello")
    record = {"name": "add_task", "arguments": _nested(32), "result": {"ok": [1, 2.5, None, True, "é"]}}
    await call_ok(
        alice, "record_reply", conversation_id=started["conversation_id"], content="ok", tool_calls=[record]
    )
    page = await call_ok(alice, "get_conversation_messages", conversation_id=started["conversation_id"])
    assert page["messages"][-1]["tool_calls"] == [{**record, "is_error": False}]


# Over real HTTP: the same strictness holds after JSON-RPC parsing, and the DEBUG log keeps no values.
DB_PASSWORD = "pw-that-must-not-leak"
MARKER = "secret-chat-text-4711"


@pytest.fixture(scope="module")
def debug_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    jwks = JwksServer({"keys": [key.jwk() for key in KEYS.values()]})
    port = free_port()
    env = {
        "DATABASE_URL": database_url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1),
        "AUTH_JWKS_URL": jwks.url,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "TASK_SERVER_PORT": str(port),
        "DATA_DIR": str(tmp_path_factory.mktemp("hostile-data")),
        "LOG_LEVEL": "DEBUG",
    }
    try:
        with run_service(
            "mcp_task_server", env, port, tmp_path_factory.mktemp("logs") / "log.txt"
        ) as service:
            yield service
    finally:
        jwks.stop()


def _raw_call(server: Service, tool: str, arguments_json: str) -> dict[str, Any]:
    """A tools/call whose arguments are sent as exactly this JSON text (json.dumps escapes surrogates)."""
    params = f'{{"name": "{tool}", "arguments": {arguments_json}}}'
    body = f'{{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {params}}}'
    response = httpx2.post(
        f"{server.base_url}/mcp",
        content=body.encode(),
        headers={
            "Authorization": f"Bearer {sign(ED, sub='hostile')}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert response.status_code in (200, 400), response.text
    payload: dict[str, Any] = response.json()
    return payload


def _code(payload: dict[str, Any]) -> str | None:
    result = payload.get("result")
    if result is None:
        return "jsonrpc-error"  # Refused before any tool ran (e.g. unparseable JSON): not `internal`.
    return result["_meta"][ERROR_META_KEY]["code"] if result["isError"] else None


def test_strictness_holds_over_http_and_the_debug_log_stays_clean(
    debug_server: Service, clean_db: str
) -> None:
    added = _raw_call(debug_server, "add_task", json.dumps({"title": MARKER, "description": MARKER}))
    assert _code(added) is None
    task_id = added["result"]["structuredContent"]["task_id"]
    started = _raw_call(debug_server, "start_turn", json.dumps({"message": MARKER}))
    conversation_id = started["result"]["structuredContent"]["conversation_id"]
    deep_array = "[" * 500 + "]" * 500
    deep_object = '{"a": ' * 500 + json.dumps(MARKER) + "}" * 500
    nested_100 = '{"a": ' * 100 + "1" + "}" * 100
    reply = f'"conversation_id": {conversation_id}, "content": "ok"'
    hostile_cursor = _cursor({"k": "tasks", "s": "all", "after": BIG})
    cases = [
        ("complete_task", json.dumps({"task_id": True})),
        ("complete_task", json.dumps({"task_id": "1"})),
        ("complete_task", '{"task_id": 9223372036854775808}'),
        ("complete_task", '{"task_id": 1e400}'),
        ("update_task", json.dumps({"task_id": task_id, "completed": "yes"})),
        ("update_task", json.dumps({"task_id": task_id, "title": NUL})),
        ("add_task", json.dumps({"title": MARKER + "\x00"})),
        ("list_tasks", json.dumps({"cursor": hostile_cursor})),
        ("list_tasks", '{"limit": "5"}'),
        ("record_reply", f'{{{reply}, "tool_calls": [{{"name": "x", "arguments": {nested_100}}}]}}'),
    ]
    # The JSON-RPC layer itself refuses JSON with a lone surrogate or nested hundreds deep, before any tool
    # runs: a parse error, not a tool error, and not `internal`.
    unparseable = [
        ("add_task", json.dumps({"title": MARKER + SURROGATE})),
        ("record_reply", f'{{{reply}, "tool_calls": [{{"name": "x", "arguments": {{"a": "\\ud800"}}}}]}}'),
        ("record_reply", f'{{{reply}, "tool_calls": [{{"name": "x", "arguments": {deep_object}}}]}}'),
        ("record_reply", f'{{{reply}, "tool_calls": [{{"name": "x", "result": {deep_array}}}]}}'),
    ]
    codes = [(tool, _code(_raw_call(debug_server, tool, arguments))) for tool, arguments in cases]
    assert all(code == "invalid_argument" for _, code in codes), codes
    refused = [(tool, _code(_raw_call(debug_server, tool, arguments))) for tool, arguments in unparseable]
    not_objects = [
        _code(_raw_call(debug_server, "list_tasks", arguments)) for arguments in ("[1]", '"x"', "1")
    ]
    assert not_objects == ["jsonrpc-error"] * 3
    assert _code(_raw_call(debug_server, "no_such_tool", "{}")) == "not_found"
    assert _code(_raw_call(debug_server, "x" * 10_000 + "\\u0000", "{}")) == "not_found"
    assert all(code == "jsonrpc-error" for _, code in refused), refused
    with psycopg.connect(clean_db) as conn:
        row = conn.execute("SELECT completed, version FROM tasks WHERE id = %s", (task_id,)).fetchone()
    assert row == (False, 1)  # `true` did not complete task 1, "yes" did not set it.
    log = debug_server.log()
    assert "Traceback" not in log
    assert "Maximum serialization depth" not in log
    assert DB_PASSWORD not in log
    assert MARKER not in log  # SQL is logged at DEBUG, but never with its parameters.


def _start(database_url: str, tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "LOG_LEVEL": "DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "mcp_task_server", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _assert_one_clear_line(started: subprocess.CompletedProcess[str], names: str) -> None:
    assert started.returncode == 1
    output = started.stdout + started.stderr
    assert "Traceback" not in output
    assert DB_PASSWORD not in output
    lines = [line for line in started.stderr.splitlines() if line.startswith("mcp_task_server:")]
    assert len(lines) == 1, output
    assert "cannot open the database at" in lines[0]
    assert names in lines[0]


@pytest.mark.parametrize("command", [(), ("migrate",), ("purge",)], ids=["serve", "migrate", "purge"])
def test_an_unreachable_database_at_start_is_one_clear_line(command: tuple[str, ...], tmp_path: Path) -> None:
    port = free_port()
    started = _start(f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{port}/todo", tmp_path, *command)
    _assert_one_clear_line(started, f"127.0.0.1:{port}/todo")


def test_a_missing_database_at_start_is_one_clear_line(admin_url: str, tmp_path: Path) -> None:
    # Trust auth ignores the password; it must still never be printed.
    url = with_database(admin_url, "no_such_database_here").replace(
        "postgres@", f"postgres:{DB_PASSWORD}@", 1
    )
    started = _start(url, tmp_path)
    _assert_one_clear_line(started, "no_such_database_here")
    assert "does not exist" in started.stderr


async def test_sql_logged_at_debug_never_carries_its_parameters(
    alice: Client[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """SQLAlchemy logs nothing unless an operator turns its logger up; when they do, values stay out."""
    with caplog.at_level(logging.DEBUG, logger="sqlalchemy.engine"):
        await call_ok(alice, "add_task", title=MARKER, description=MARKER)
        await call_ok(alice, "start_turn", message=MARKER)
        await call_error(alice, "add_task", title=MARKER + "x" * 300)
    assert "INSERT INTO tasks" in caplog.text
    assert MARKER not in caplog.text
