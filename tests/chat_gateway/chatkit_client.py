"""A ChatKit client as the web component would be, reduced to the protocol: JSON requests to POST /chatkit
with the caller's bearer token, Server-Sent Events read back as ChatKit's event objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx2

from tests.support.gateway_fixtures import auth
from tests.support.processes import Service


def user_input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


@dataclass
class Streamed:
    status: int
    events: list[dict[str, Any]]
    body: str

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    @property
    def thread_id(self) -> str:
        return str(self.of("thread.created")[0]["thread"]["id"])

    def done_items(self, item_type: str) -> list[dict[str, Any]]:
        return [e["item"] for e in self.of("thread.item.done") if e["item"]["type"] == item_type]

    @property
    def reply(self) -> str:
        [item] = self.done_items("assistant_message")
        return "".join(part["text"] for part in item["content"])


class ChatKit:
    def __init__(self, http: httpx2.Client, gateway: Service, user: str, **headers: str) -> None:
        self.http = http
        self.url = f"{gateway.base_url}/chatkit"
        self.headers = {**auth(user), **headers}

    def post(self, request: dict[str, Any] | bytes) -> httpx2.Response:
        if isinstance(request, bytes):
            return self.http.post(
                self.url, headers={**self.headers, "Content-Type": "application/json"}, content=request
            )
        return self.http.post(self.url, headers=self.headers, json=request)

    def call(self, op: str, /, **params: Any) -> httpx2.Response:
        return self.post({"type": op, "params": params})

    def stream(self, op: str, /, **params: Any) -> Streamed:
        response = self.call(op, **params)
        events = []
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            events = [
                json.loads(line.removeprefix("data: "))
                for line in response.text.splitlines()
                if line.startswith("data: ")
            ]
        return Streamed(response.status_code, events, response.text)

    def create(self, text: str) -> Streamed:
        return self.stream("threads.create", input=user_input(text))

    def send(self, thread_id: str, text: str) -> Streamed:
        return self.stream("threads.add_user_message", thread_id=thread_id, input=user_input(text))

    def thread(self, thread_id: str) -> dict[str, Any]:
        response = self.call("threads.get_by_id", thread_id=thread_id)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def items(self, thread_id: str, **params: Any) -> dict[str, Any]:
        """Oldest first unless `order` says otherwise (ChatKit's own default is newest first)."""
        response = self.call("items.list", thread_id=thread_id, **{"order": "asc", **params})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def texts(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, text) of each item, as a person reading the thread sees it."""
    return [
        (item["type"], "".join(part.get("text", "") for part in item.get("content", []))) for item in items
    ]
