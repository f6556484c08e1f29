"""The terminal chat client, driven the way a person types into it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx2

from tests.support.gateway_fixtures import auth, user_token
from tests.support.processes import ROOT, Service, free_port, service_env


def _chat(
    *args: str, typed: str = "/quit\n", env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devtools.chat", *args],
        input=typed,
        env=service_env(env or {}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_terminal_chat_streams_replies_and_shows_tool_calls(gateway: Service, clean_db: str) -> None:
    typed = 'call add_task {"title": "Typed in a terminal"}\nhello again\n/new\nfresh start\n/quit\n'
    done = _chat(
        "--url", gateway.base_url, "--user", "typist", typed=typed, env={"TOKEN": user_token("typist")}
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "-> add_task(title='Typed in a terminal')" in out
    assert "<- [ok]" in out
    assert "echo: hello again" in out
    assert "(new conversation)" in out
    assert "echo: fresh start" in out


def test_terminal_chat_shows_errors_from_the_gateway(gateway: Service) -> None:
    # Longer than MESSAGE_MAX_CHARS (4000 by default): the gateway refuses it, the client says so and goes on.
    done = _chat(
        "--url", gateway.base_url, typed="x" * 5000 + "\n/quit\n", env={"TOKEN": user_token("typist")}
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"\[4\d\d\] ", done.stdout), done.stdout


def test_a_user_the_token_is_not_for_is_one_line_before_anything_is_sent(tmp_path: Path) -> None:
    # Nothing listens at --url: the mismatch must be found from the token alone.
    url = f"http://127.0.0.1:{free_port()}"
    token = user_token("demo-user")
    for extra, source in (({"TOKEN": token}, "$TOKEN"), ({}, "--token")):
        args = ["--url", url, "--user", "alice"] + ([] if extra else ["--token", token])
        done = _chat(*args, env={**extra, "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "'alice'" in lines[0]
        assert "'demo-user'" in lines[0]
        assert source in lines[0]
        assert "drop --user" in lines[0]
        assert token not in done.stderr + done.stdout
    # In local development, unsetting TOKEN is the other way out (the client then mints for --user).
    done = _chat(
        "--url", url, "--user", "alice", env={"TOKEN": token, "DATA_DIR": str(tmp_path)}, cwd=tmp_path
    )
    assert "unset TOKEN" in done.stderr


def test_an_expired_or_malformed_token_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    expired = user_token("typist", iat_in=-7200, exp_in=-3600)
    for token, expected in ((expired, "expired"), ("not-a-token", "not a JWT")):
        done = _chat("--url", url, env={"TOKEN": token, "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
        assert done.returncode == 2
        assert expected in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_without_user_the_token_says_whose_tasks(gateway: Service, clean_db: str) -> None:
    done = _chat("--url", gateway.base_url, typed="hello\n/quit\n", env={"TOKEN": user_token("typist")})
    assert done.returncode == 0, done.stderr
    assert "echo: hello" in done.stdout


def test_conversation_resumes_with_its_last_messages_shown(
    gateway: Service, clean_db: str, http: httpx2.Client
) -> None:
    env = {"TOKEN": user_token("resumer")}
    first = _chat("--url", gateway.base_url, typed="one\ntwo\nthree\nfour\n/quit\n", env=env)
    assert first.returncode == 0, first.stderr
    started = re.search(r"\(conversation (\d+): --conversation \1 resumes it\)", first.stdout)
    assert started, first.stdout
    conversation_id = started.group(1)

    resumed = _chat(
        "--url", gateway.base_url, "--conversation", conversation_id, typed="five\n/quit\n", env=env
    )
    assert resumed.returncode == 0, resumed.stderr
    shown = resumed.stdout.split("Chat with your task assistant")[0]
    # The last six messages, oldest first, and a note that there are earlier ones.
    assert f"(conversation {conversation_id} (earlier messages not shown))" in shown
    assert "one" not in shown
    order = ["you> two", "assistant> echo: two", "you> three", "assistant> echo: three", "you> four"]
    positions = [shown.index(line) for line in order]
    assert positions == sorted(positions), shown
    assert "assistant> echo: four" in shown
    assert "echo: five" in resumed.stdout
    # The new turn went to the same conversation, so no new one was announced.
    assert "resumes it)" not in resumed.stdout
    page = http.get(
        f"{gateway.base_url}/api/resumer/conversations/{conversation_id}/messages",
        headers=auth("resumer"),
    ).json()
    assert [m["content"] for m in page["messages"] if m["role"] == "user"] == [
        "one",
        "two",
        "three",
        "four",
        "five",
    ]


def test_resuming_a_conversation_that_is_not_there_is_one_line(gateway: Service, clean_db: str) -> None:
    done = _chat("--url", gateway.base_url, "--conversation", "987654", env={"TOKEN": user_token("resumer")})
    assert done.returncode == 2
    assert "no conversation 987654" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
