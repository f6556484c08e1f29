"""The rules of single-task calls. The repository writes each change with its activity record; the
caller's unit of work commits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.schemas import (
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskListFilter,
    TaskOut,
    TaskPage,
    TaskRestored,
    TaskUpdated,
)

from .. import cursors
from ..context import Origin
from ..errors import Conflict, InvalidArgument, NotFound
from .repository import TaskRepository


def task_not_found(task_id: int) -> NotFound:
    return NotFound(f"Task {task_id} was not found. Call list_tasks to see the user's tasks and their ids.")


def conflict_with(task: Any, message: str) -> Conflict:
    """A conflict that shows the task as it is now, so the caller can decide again."""
    current = TaskOut.model_validate(task)
    return Conflict(message, details={"task": current.model_dump(mode="json")})


def clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned:
        raise InvalidArgument("title must not be blank.")
    return cleaned


def clean_description(description: str | None) -> str | None:
    if description is None:
        return None
    cleaned = description.strip()
    return cleaned or None


class TaskService:
    def __init__(
        self, repo: TaskRepository, user_id: str, origin: Origin, trash_retention: timedelta
    ) -> None:
        self.repo = repo
        self.user_id = user_id
        self.origin = origin
        self.trash_retention = trash_retention

    async def add(self, title: str, description: str | None) -> TaskCreated:
        created = await self.repo.add(
            self.user_id, clean_title(title), clean_description(description), self.origin
        )
        task = TaskOut.model_validate(created.row)
        return TaskCreated(task_id=task.id, title=task.title, task=task)

    async def list(self, status: TaskListFilter, limit: int, cursor: str | None) -> TaskPage:
        after_id = None
        if cursor is not None:
            payload = cursors.decode(cursor, "tasks")
            if cursors.str_field(payload, "s") != status:
                raise InvalidArgument(
                    "The cursor belongs to a different status filter; call without `cursor`."
                )
            after_id = cursors.int_field(payload, "after")
        # One extra row tells whether another page exists without a COUNT.
        rows = await self.repo.page(self.user_id, status, after_id, limit + 1)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = cursors.encode({"k": "tasks", "s": status, "after": rows[-1].id})
        return TaskPage(tasks=[TaskOut.model_validate(t) for t in rows], next_cursor=next_cursor)

    async def complete(self, task_id: int, expected_version: int | None) -> TaskCompleted:
        """Completing a completed task changes nothing, not even its version (idempotent)."""
        task = await self._change(task_id, {"completed": True}, "complete", expected_version)
        return TaskCompleted(task_id=task.id, title=task.title, task=task)

    async def update(
        self,
        task_id: int,
        title: str | None,
        description: str | None,
        completed: bool | None,
        expected_version: int | None,
    ) -> TaskUpdated:
        values: dict[str, Any] = {}
        if title is not None:
            values["title"] = clean_title(title)
        if description is not None:
            # An empty description clears it.
            values["description"] = clean_description(description)
        if completed is not None:
            values["completed"] = completed
        if not values:
            raise InvalidArgument("Nothing to change: give a new title, description or completed state.")
        kind = "update"
        if set(values) == {"completed"}:
            kind = "complete" if completed else "reopen"
        task = await self._change(task_id, values, kind, expected_version)
        return TaskUpdated(task_id=task.id, title=task.title, task=task)

    async def delete(self, task_id: int, expected_version: int | None) -> TaskDeleted:
        task = await self._change(task_id, {"trashed": True}, "delete", expected_version)
        assert task.trashed_at is not None
        return TaskDeleted(
            task_id=task.id, title=task.title, restorable_until=task.trashed_at + self.trash_retention
        )

    async def restore(self, task_id: int) -> TaskRestored:
        task = await self._change(task_id, {"trashed": False}, "restore", None)
        return TaskRestored(task_id=task.id, title=task.title, task=task)

    async def _change(
        self, task_id: int, values: dict[str, Any], kind: str, expected_version: int | None
    ) -> TaskOut:
        changed = await self.repo.change(
            self.user_id, [task_id], values, kind, self.origin, expected_version=expected_version
        )
        if changed:
            return TaskOut.model_validate(changed[0].row)
        # Nothing changed: find out why (only on this path, so a change stays one round trip).
        task = await self.repo.get(self.user_id, task_id)
        if task is None:
            raise task_not_found(task_id)
        restoring = values.get("trashed") is False
        if restoring and task.trashed_at is None:
            raise NotFound(f"Task {task_id} is not in the trash; it is already on the list.")
        if not restoring and task.trashed_at is not None:
            raise NotFound(
                f"Task {task_id} is in the trash. Call restore_task to bring it back to the list first."
            )
        if expected_version is not None and task.version != expected_version:
            raise conflict_with(
                task,
                f"Task {task_id} is at version {task.version}, not {expected_version}: it changed since "
                "you read it. Nothing was changed; look at the current task and try again.",
            )
        # Already as asked: nothing to change and nothing to log.
        return TaskOut.model_validate(task)
