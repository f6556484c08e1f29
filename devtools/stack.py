"""`make run`: the whole system on this machine with one command.

Starts an embedded PostgreSQL when DATABASE_URL is unset (its data stays in DATA_DIR between runs),
applies migrations, starts the task server and the chat gateway, prints a token and commands to try,
and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType

import httpx2

from chat_gateway.settings import GatewaySettings
from mcp_task_server.settings import TaskServerSettings
from shared.local_auth import LocalSigner

from .postgres import ensure_database, start_embedded

DATABASE_NAME = "todo"


def wait_ready(
    url: str, process: subprocess.Popen[bytes], timeout: float = 60.0, log: str = "the log above"
) -> None:
    """Until `url` answers 200; exits with a clear line if the process dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with code {process.returncode}; see {log}")
        try:
            if httpx2.get(url, timeout=1.0).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready within {timeout:.0f}s; see {log}")


def _mcp_curl(mcp_url: str) -> str:
    body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","arguments":{}}}'
    return (
        f"curl -s {mcp_url} -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
        f"-H 'Accept: application/json, text/event-stream' -d {shlex.quote(body)}"
    )


def _chat_curl(gateway_url: str, user_id: str) -> str:
    body = '{"message": "add buy milk"}'
    return (
        f'curl -s {gateway_url}/api/{user_id}/chat -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def main() -> None:
    settings = TaskServerSettings()
    gateway = GatewaySettings()
    env = dict(os.environ)
    if not settings.database_url:
        data_dir = Path(settings.data_dir) / "postgres"
        print(
            f"Starting an embedded PostgreSQL in {data_dir} (set DATABASE_URL to use yours) ...", flush=True
        )
        admin_url = start_embedded(data_dir)
        env["DATABASE_URL"] = ensure_database(admin_url, DATABASE_NAME)
    mcp_url = f"{settings.public_url}/mcp"
    env.setdefault("MCP_TASK_SERVER_URL", mcp_url)

    children = [subprocess.Popen([sys.executable, "-m", "mcp_task_server"], env=env)]

    def stop(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        wait_ready(f"{settings.public_url}/readyz", children[0])
        children.append(subprocess.Popen([sys.executable, "-m", "chat_gateway"], env=env))
        wait_ready(f"{gateway.public_url}/readyz", children[1])
        print(f"\nThe task server (MCP) is up at {mcp_url}")
        print(f"The chat gateway is up at {gateway.public_url} (API docs: {gateway.public_url}/docs)")
        print(f"The assistant's model: {gateway.model_name}")
        if settings.local_auth:
            user_id = settings.mcp_stdio_user_id
            token = LocalSigner.load_or_create(settings.data_dir).mint(user_id, ttl=timedelta(hours=12))
            print(f"\nA token for the user {user_id!r} (valid 12 hours):\n")
            print(f"export TOKEN={token}\n")
            print("Chat with the assistant:\n")
            print(_chat_curl(gateway.public_url, user_id) + "\n")
            print("Or chat in this terminal (streams replies and shows tool calls):\n")
            print(f"{sys.executable} -m devtools.chat --url {gateway.public_url} --user {user_id}\n")
            print("Call the task server's tools directly over MCP:\n")
            print(_mcp_curl(mcp_url) + "\n")
        print("Press Ctrl-C to stop.", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        raise SystemExit("a service stopped unexpectedly; see the log above")
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
    finally:
        _stop(children)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Stop each child once. Ctrl-C in a terminal has already sent SIGINT to the whole process group,
    and a second SIGINT makes uvicorn abandon its graceful shutdown, so give the children a moment to
    exit on their own and only then send SIGTERM (which uvicorn never escalates)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(child.poll() is None for child in children):
        time.sleep(0.1)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    main()
