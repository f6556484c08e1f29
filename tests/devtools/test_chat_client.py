"""The terminal chat client, driven the way a person types into it."""

from __future__ import annotations

import subprocess
import sys

from tests.support.gateway_fixtures import user_token
from tests.support.processes import ROOT, Service, service_env


def test_terminal_chat_streams_replies_and_shows_tool_calls(gateway: Service, clean_db: str) -> None:
    typed = 'call add_task {"title": "Typed in a terminal"}\nhello again\n/new\nfresh start\n/quit\n'
    done = subprocess.run(
        [sys.executable, "-m", "devtools.chat", "--url", gateway.base_url, "--user", "typist"],
        input=typed.encode(),
        env=service_env({"TOKEN": user_token("typist")}),
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "-> add_task(title='Typed in a terminal')" in out
    assert "<- [ok]" in out
    assert "echo: hello again" in out
    assert "(new conversation)" in out
    assert "echo: fresh start" in out


def test_terminal_chat_shows_errors_from_the_gateway(gateway: Service) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.chat", "--url", gateway.base_url, "--user", "someone-else"],
        input=b"hi\n",
        env=service_env({"TOKEN": user_token("typist")}),
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "[403]" in done.stdout.decode()
