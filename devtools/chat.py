"""A terminal chat client for the gateway: streams the reply and shows tool calls as they happen.

    python -m devtools.chat [--url http://127.0.0.1:8000] [--user demo-user] [--token JWT]

Without --token it uses $TOKEN, or (in local development) mints one with the key in DATA_DIR.
Type /new for a new conversation, /quit (or Ctrl-D) to leave.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, TextIO

import httpx2

from shared.local_auth import DEMO_USER_ID, LocalSigner
from shared.settings import CommonSettings


def _token(given: str | None, user: str) -> str:
    if given:
        return given
    if os.environ.get("TOKEN"):
        return os.environ["TOKEN"]
    settings = CommonSettings()
    if not settings.local_auth:
        raise SystemExit("chat: pass --token (or set TOKEN): tokens come from your identity provider")
    return LocalSigner.load_or_create(settings.data_dir).mint(user, ttl=timedelta(hours=12))


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    event = "message"
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])


def _arguments(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in arguments.items())


def render(event: str, data: dict[str, Any], out: TextIO) -> int | None:
    """Print one event; returns the conversation id when the turn ends."""
    if event == "delta":
        out.write(data["text"])
    elif event == "tool_call":
        out.write(f"  -> {data['name']}({_arguments(data['arguments'])})\n")
    elif event == "tool_result":
        mark = "x" if data["is_error"] else "ok"
        result = data["result"] if isinstance(data["result"], str) else json.dumps(data["result"])
        out.write(f"  <- [{mark}] {result[:160]}\n")
    elif event == "done":
        out.write("\n")
        return int(data["conversation_id"])
    elif event == "error":
        out.write(f"\n[error] {data['error']['message']}\n")
    out.flush()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default=DEMO_USER_ID)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {_token(args.token, args.user)}"}
    conversation_id: int | None = None
    print("Chat with your task assistant. /new starts a new conversation, /quit leaves.")
    with httpx2.Client(base_url=args.url, headers=headers, timeout=120) as client:
        while True:
            try:
                message = input("\nyou> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return
            if message in ("/quit", "/exit"):
                return
            if message == "/new":
                conversation_id = None
                print("(new conversation)")
                continue
            if not message:
                continue
            body: dict[str, Any] = {"message": message}
            if conversation_id is not None:
                body["conversation_id"] = conversation_id
            sys.stdout.write("assistant> ")
            with client.stream("POST", f"/api/{args.user}/chat/stream", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    error = response.json().get("error", {})
                    print(f"[{response.status_code}] {error.get('message', response.text)}")
                    continue
                for event, data in sse_events(response.iter_lines()):
                    finished = render(event, data, sys.stdout)
                    if finished is not None:
                        conversation_id = finished


if __name__ == "__main__":
    main()
