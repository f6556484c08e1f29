"""The rules of tasks and conversations. Services flush through repositories; the caller commits."""

from __future__ import annotations

from typing import Any

from shared.schemas import (
    ConversationOut,
    ConversationPage,
    MessageOut,
    MessagePage,
    ReplyRecorded,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskOut,
    TaskPage,
    TaskStatusFilter,
    TaskUpdated,
    ToolCallRecord,
    TurnStarted,
)

from . import cursors
from .errors import InvalidArgument, NotFound
from .models import CONVERSATION_TITLE_MAX, Task
from .repository import ConversationRepository, TaskRepository

_COMPLETED_FILTER: dict[str, bool | None] = {"all": None, "pending": False, "completed": True}


def _task_not_found(task_id: int) -> NotFound:
    return NotFound(f"Task {task_id} was not found. Call list_tasks to see the user's tasks and their ids.")


def _clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned:
        raise InvalidArgument("title must not be blank.")
    return cleaned


def _clean_description(description: str | None) -> str | None:
    if description is None:
        return None
    cleaned = description.strip()
    return cleaned or None


class TaskService:
    def __init__(self, repo: TaskRepository, user_id: str) -> None:
        self.repo = repo
        self.user_id = user_id

    async def add(self, title: str, description: str | None) -> TaskCreated:
        task = await self.repo.add(self.user_id, _clean_title(title), _clean_description(description))
        return TaskCreated(task_id=task.id, title=task.title, task=TaskOut.model_validate(task))

    async def list(self, status: TaskStatusFilter, limit: int, cursor: str | None) -> TaskPage:
        after_id = None
        if cursor is not None:
            payload = cursors.decode(cursor, "tasks")
            if cursors.str_field(payload, "s") != status:
                raise InvalidArgument(
                    "The cursor belongs to a different status filter; call without `cursor`."
                )
            after_id = cursors.int_field(payload, "after")
        # One extra row tells whether another page exists without a COUNT.
        rows = await self.repo.page(self.user_id, _COMPLETED_FILTER[status], after_id, limit + 1)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = cursors.encode({"k": "tasks", "s": status, "after": rows[-1].id})
        return TaskPage(tasks=[TaskOut.model_validate(t) for t in rows], next_cursor=next_cursor)

    async def complete(self, task_id: int) -> TaskCompleted:
        task = await self.repo.complete(self.user_id, task_id)
        if task is None:
            raise _task_not_found(task_id)
        return TaskCompleted(task_id=task.id, title=task.title, task=TaskOut.model_validate(task))

    async def delete(self, task_id: int) -> TaskDeleted:
        task = await self.repo.delete(self.user_id, task_id)
        if task is None:
            raise _task_not_found(task_id)
        return TaskDeleted(task_id=task.id, title=task.title)

    async def update(
        self, task_id: int, title: str | None, description: str | None, completed: bool | None
    ) -> TaskUpdated:
        values: dict[str, Any] = {}
        if title is not None:
            values["title"] = _clean_title(title)
        if description is not None:
            # An empty description clears it.
            values["description"] = _clean_description(description)
        if completed is not None:
            values["completed"] = completed
        if not values:
            raise InvalidArgument("Nothing to change: give a new title, description or completed state.")
        task: Task | None = await self.repo.update(self.user_id, task_id, values)
        if task is None:
            raise _task_not_found(task_id)
        return TaskUpdated(task_id=task.id, title=task.title, task=TaskOut.model_validate(task))


def _conversation_not_found(conversation_id: int) -> NotFound:
    return NotFound(f"Conversation {conversation_id} was not found.")


def _conversation_title(message: str) -> str:
    words = " ".join(message.split())
    if len(words) <= 80:
        return words
    return words[:79].rstrip() + "…"


class ConversationService:
    def __init__(self, repo: ConversationRepository, user_id: str) -> None:
        self.repo = repo
        self.user_id = user_id

    async def start_turn(self, message: str, conversation_id: int | None, history_limit: int) -> TurnStarted:
        if not message.strip():
            raise InvalidArgument("message must not be blank.")
        if conversation_id is None:
            title = _conversation_title(message)[:CONVERSATION_TITLE_MAX]
            window = [await self.repo.start(self.user_id, title, message)]
        else:
            window = await self.repo.continue_with(self.user_id, conversation_id, message, history_limit)
            if not window:
                raise _conversation_not_found(conversation_id)
        stored = window[0]
        return TurnStarted(
            conversation_id=stored.conversation_id,
            created=conversation_id is None,
            user_message_id=stored.id,
            messages=[MessageOut.model_validate(m) for m in reversed(window)],
        )

    async def record_reply(
        self, conversation_id: int, content: str, tool_calls: list[ToolCallRecord]
    ) -> ReplyRecorded:
        records = [call.model_dump(mode="json") for call in tool_calls]
        message_id = await self.repo.reply(self.user_id, conversation_id, content, records)
        if message_id is None:
            raise _conversation_not_found(conversation_id)
        return ReplyRecorded(conversation_id=conversation_id, message_id=message_id)

    async def list(self, limit: int, cursor: str | None) -> ConversationPage:
        before = None
        if cursor is not None:
            payload = cursors.decode(cursor, "conversations")
            before = (cursors.datetime_field(payload, "u"), cursors.int_field(payload, "id"))
        rows = await self.repo.page(self.user_id, before, limit + 1)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = cursors.encode(
                {"k": "conversations", "u": last.updated_at.isoformat(), "id": last.id}
            )
        return ConversationPage(
            conversations=[ConversationOut.model_validate(c) for c in rows], next_cursor=next_cursor
        )

    async def messages(self, conversation_id: int, limit: int, cursor: str | None) -> MessagePage:
        if await self.repo.get(self.user_id, conversation_id) is None:
            raise _conversation_not_found(conversation_id)
        before_id = None
        if cursor is not None:
            payload = cursors.decode(cursor, "messages")
            if cursors.int_field(payload, "c") != conversation_id:
                raise InvalidArgument("The cursor belongs to another conversation; call without `cursor`.")
            before_id = cursors.int_field(payload, "before")
        rows = await self.repo.latest_messages(conversation_id, limit + 1, before_id)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = cursors.encode({"k": "messages", "c": conversation_id, "before": rows[-1].id})
        return MessagePage(
            conversation_id=conversation_id,
            messages=[MessageOut.model_validate(m) for m in reversed(rows)],
            next_cursor=next_cursor,
        )
