"""A terminal chat client for the gateway: streams the reply and shows tool calls as they happen.

    python -m devtools.chat [--url http://127.0.0.1:8000] [--user ID] [--token JWT] [--conversation ID]

Without --token it uses $TOKEN, or (in local development) mints one for --user (default: the demo user)
with the key in DATA_DIR. The user is the token's subject: a --user that names someone else is refused
before anything is sent. --conversation resumes a conversation, showing its last few messages first.
Type /new for a new conversation, /quit (or Ctrl-D) to leave.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, NoReturn, TextIO

import httpx2
import jwt

from shared.local_auth import DEMO_USER_ID, LocalSigner
from shared.settings import CommonSettings

# How many of a resumed conversation's messages are shown before the prompt.
RESUME_SHOWN = 6


def _fail(message: str) -> NoReturn:
    print(f"chat: {message}", file=sys.stderr)
    raise SystemExit(2)


def _subject(token: str, source: str) -> str:
    """The token's `sub`, read without verifying it (the gateway verifies): to agree with --user before
    anything is sent, and to say so when the token has expired."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        _fail(f"the token from {source} is not a JWT")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        _fail(f"the token from {source} names no user (no `sub` claim)")
    expires = claims.get("exp")
    if isinstance(expires, int | float) and expires < time.time():
        _fail(f"the token from {source} (for {subject!r}) has expired: get a new one (make run prints one)")
    return subject


def credentials(given: str | None, user: str | None) -> tuple[str, str]:
    """(token, user id): the user is the token's subject. A --user naming someone else is one clear line
    rather than a 403 from the gateway; without a token, local development mints one for --user."""
    source = "--token" if given else "$TOKEN"
    token = given or os.environ.get("TOKEN")
    if not token:
        settings = CommonSettings()
        if not settings.local_auth:
            _fail("pass --token (or set TOKEN): tokens come from your identity provider (AUTH_JWKS_URL)")
        user = user or DEMO_USER_ID
        return LocalSigner.load_or_create(settings.data_dir).mint(user, ttl=timedelta(hours=12)), user
    subject = _subject(token, source)
    if user is not None and user != subject:
        remedy = f"drop --user to chat as {subject!r}"
        if source == "$TOKEN" and CommonSettings().local_auth:
            remedy += f", or unset TOKEN to chat as {user!r} with a local token"
        else:
            remedy += f", or use a token for {user!r}"
        _fail(f"--user {user!r} does not match the token from {source}, which is for {subject!r}: {remedy}")
    return token, subject


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


def _error_message(response: httpx2.Response) -> str:
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return response.text[:200]
    return str(error.get("message", response.text[:200]))


def show_history(client: httpx2.Client, user: str, conversation_id: int, out: TextIO) -> None:
    """The last RESUME_SHOWN messages of a conversation, oldest first; exits if it cannot be read."""
    response = client.get(
        f"/api/{user}/conversations/{conversation_id}/messages", params={"limit": RESUME_SHOWN}
    )
    if response.status_code == 404:
        _fail(f"{user!r} has no conversation {conversation_id}")
    if response.status_code != 200:
        _fail(
            f"cannot read conversation {conversation_id}: [{response.status_code}] {_error_message(response)}"
        )
    page = response.json()
    earlier = " (earlier messages not shown)" if page.get("next_cursor") else ""
    out.write(f"(conversation {conversation_id}{earlier})\n")
    for message in page["messages"]:
        who = "you" if message["role"] == "user" else "assistant"
        for call in message.get("tool_calls") or []:
            out.write(f"  -> {call['name']}({_arguments(call.get('arguments') or {})})\n")
        out.write(f"{who}> {message['content']}\n")
    out.flush()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--user", default=None, help="whose tasks (default: the token's user, else the demo user)"
    )
    parser.add_argument("--token", default=None, help="a bearer token (default: $TOKEN)")
    parser.add_argument(
        "--conversation", type=int, default=None, metavar="ID", help="resume this conversation"
    )
    args = parser.parse_args()
    token, user = credentials(args.token, args.user)
    headers = {"Authorization": f"Bearer {token}"}
    conversation_id: int | None = args.conversation
    with httpx2.Client(base_url=args.url, headers=headers, timeout=120) as client:
        if conversation_id is not None:
            try:
                show_history(client, user, conversation_id, sys.stdout)
            except httpx2.HTTPError as e:
                _fail(f"cannot reach the gateway at {args.url}: {type(e).__name__}")
        print("Chat with your task assistant. /new starts a new conversation, /quit leaves.")
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
            with client.stream("POST", f"/api/{user}/chat/stream", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    print(f"[{response.status_code}] {_error_message(response)}")
                    continue
                for event, data in sse_events(response.iter_lines()):
                    finished = render(event, data, sys.stdout)
                    if finished is not None:
                        if conversation_id is None:
                            print(f"(conversation {finished}: --conversation {finished} resumes it)")
                        conversation_id = finished


if __name__ == "__main__":
    main()
