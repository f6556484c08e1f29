"""Between the task server's stored rows and ChatKit's models.

A ChatKit item is stored whole (`item`, its JSON) beside the text the agent and /chat read (`content`).
A message written by /chat has no ChatKit JSON: it is shown as the user or assistant message it is, with
the id `chat_<message id>` the task server gives it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from chatkit.store import StoreItemType
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
)
from pydantic import TypeAdapter, ValidationError

from shared.schemas import ItemOut, ThreadOut

_ITEMS: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_PREFIXES: dict[str, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def new_id(kind: StoreItemType) -> str:
    """ChatKit's prefixes with 128 random bits (its default id has 32: guessable)."""
    return f"{_PREFIXES.get(kind, 'itm')}_{secrets.token_hex(16)}"


def thread_metadata(thread: ThreadOut) -> ThreadMetadata:
    return ThreadMetadata.model_validate(
        {
            "id": thread.thread_id,
            "title": thread.title,
            "created_at": thread.created_at,
            "status": thread.status,
            "metadata": thread.metadata,
        }
    )


def thread_item(row: ItemOut) -> ThreadItem | None:
    """The ChatKit item a stored row holds; None for a row ChatKit can no longer read (skipped)."""
    if row.item is not None:
        try:
            return _ITEMS.validate_python(row.item)
        except ValidationError:
            return None
    if row.role == "user":
        return UserMessageItem(
            id=row.item_id,
            thread_id=row.thread_id,
            created_at=row.created_at,
            content=[UserMessageTextContent(text=row.content)],
            inference_options=InferenceOptions(),
        )
    if row.role == "assistant":
        return AssistantMessageItem(
            id=row.item_id,
            thread_id=row.thread_id,
            created_at=row.created_at,
            content=[AssistantMessageContent(text=row.content)],
        )
    return None


def item_json(item: ThreadItem) -> dict[str, Any]:
    data: dict[str, Any] = item.model_dump(mode="json")
    return data


def assistant_item(item_id: str, thread_id: str, created_at: datetime, text: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id, thread_id=thread_id, created_at=created_at, content=[AssistantMessageContent(text=text)]
    )
