"""The rules of single-task calls. The repository writes each change with its activity record; the
caller's unit of work commits."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.dates import Due, Recurrence, next_occurrence
from shared.schemas import (
    Priority,
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
from .fields import clean_tags, columns_of, due_columns, priority_value, zone_or_error
from .repository import Keyset, SettingsRepository, TaskQuery, TaskRepository

DueFilter = Literal["overdue", "today", "tomorrow", "next_7_days", "no_date", "any_date"]
TaskSort = Literal["created", "due", "priority"]

DEFAULT_ZONE = "UTC"


def task_not_found(task_id: int) -> NotFound:
    return NotFound(f"Task {task_id} was not found. Call list_tasks to see the user's tasks and their ids.")


def conflict_with(task: Any, message: str) -> Conflict:
    """A conflict that shows the task as it is now, so the caller can decide again."""
    current = TaskOut.model_validate(task)
    return Conflict(message, details={"task": current.model_dump(mode="json")})


@dataclass(frozen=True)
class ListRequest:
    """list_tasks' filters as the caller gave them."""

    status: TaskListFilter = "all"
    due: DueFilter | None = None
    due_from: str | None = None
    due_to: str | None = None
    tag: str | None = None
    priority: Priority | None = None
    query: str | None = None
    completed_from: str | None = None
    completed_to: str | None = None
    sort: TaskSort | None = None
    timezone: str | None = None

    @property
    def order(self) -> TaskSort:
        """The sort asked for; without one, a list filtered by due date is in due order, else creation."""
        if self.sort is not None:
            return self.sort
        return "due" if self.due not in (None, "no_date") or self.due_from or self.due_to else "created"

    def digest(self) -> str:
        """A short digest of the filters and the sort (not the zone), or "" for none."""
        shown = {k: v for k, v in asdict(self).items() if k not in ("status", "timezone") and v is not None}
        if shown in ({}, {"sort": "created"}):
            return ""
        return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:12]


_DAY_WORDS = {"yesterday": -1, "today": 0, "tomorrow": 1}


def _day(value: str | None, name: str, today: date | None = None) -> date | None:
    """A YYYY-MM-DD date, or "yesterday", "today" or "tomorrow" in the caller's zone."""
    if value is None:
        return None
    if value in _DAY_WORDS and today is not None:
        return today + timedelta(days=_DAY_WORDS[value])
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{name}: expected a date as YYYY-MM-DD.") from None


def _keyset(payload: dict[str, Any], sort: str) -> Keyset:
    after = cursors.int_field(payload, "after")
    if sort == "due":
        day, moment = payload.get("d"), payload.get("t")
        if day is None:
            return Keyset(after)
        due_at = None
        if moment is not None:
            try:
                due_at = datetime.fromisoformat(moment) if isinstance(moment, str) else None
            except ValueError:
                due_at = None
            if due_at is None or due_at.tzinfo is None:
                raise InvalidArgument("The cursor is not valid. Call again without `cursor`.")
        return Keyset(after, due_date=_day(day if isinstance(day, str) else "x", "cursor"), due_at=due_at)
    if sort == "priority":
        level = payload.get("p")
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 3:
            raise InvalidArgument("The cursor is not valid. Call again without `cursor`.")
        return Keyset(after, priority=level)
    return Keyset(after)


def _local_time(moment: datetime | None, zone: str | None) -> Any:
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(zone or DEFAULT_ZONE)).time().replace(tzinfo=None)


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

    async def zone(self, given: str | None) -> str:
        """The caller's zone: the one given (then remembered), else the last one remembered, else UTC."""
        settings = SettingsRepository(self.repo.session)
        if given is not None:
            zone = zone_or_error(given)
            await settings.remember_zone(self.user_id, zone)
            return zone
        return await settings.zone(self.user_id) or DEFAULT_ZONE

    async def _extra(
        self, due: str | None, priority: Priority | None, tags: Sequence[str] | None, zone: str | None
    ) -> dict[str, Any]:
        """The column values of the newer fields a call gave."""
        values: dict[str, Any] = {}
        if priority is not None:
            values["priority"] = priority_value(priority)
        if tags is not None:
            values["tags"] = clean_tags(tags)
        if due is not None:
            values.update(due_columns(due, datetime.now(UTC), await self.zone(zone)))
        elif zone is not None:
            await self.zone(zone)
        return values

    async def add(
        self,
        title: str,
        description: str | None,
        due: str | None = None,
        priority: Priority | None = None,
        tags: list[str] | None = None,
        zone: str | None = None,
    ) -> TaskCreated:
        extra = await self._extra(due, priority, tags, zone)
        created = await self.repo.add(
            self.user_id, clean_title(title), clean_description(description), self.origin, extra
        )
        task = TaskOut.model_validate(created.row)
        return TaskCreated(task_id=task.id, title=task.title, task=task)

    async def list(self, request: ListRequest, limit: int, cursor: str | None) -> TaskPage:
        query = await self._query(request)
        # The cursor is bound to the filters it was made for (a digest of them; "" for none).
        bound = request.digest()
        keyset = None
        if cursor is not None:
            payload = cursors.decode(cursor, "tasks")
            if cursors.str_field(payload, "s") != request.status or payload.get("f", "") != bound:
                raise InvalidArgument("The cursor belongs to different filters; call without `cursor`.")
            keyset = _keyset(payload, query.sort)
        # One extra row tells whether another page exists without a COUNT.
        rows = await self.repo.query(self.user_id, query, keyset, limit + 1)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            position: dict[str, Any] = {"k": "tasks", "s": request.status, "after": last.id}
            if bound:
                position["f"] = bound
            if query.sort == "due":
                position["d"] = last.due_date.isoformat() if last.due_date else None
                position["t"] = last.due_datetime.isoformat() if last.due_datetime else None
            elif query.sort == "priority":
                position["p"] = last.priority
            next_cursor = cursors.encode(position)
        return TaskPage(tasks=[TaskOut.model_validate(t) for t in rows], next_cursor=next_cursor)

    async def _query(self, request: ListRequest) -> TaskQuery:
        days = (request.due_from, request.due_to, request.completed_from, request.completed_to)
        zone_needed = (
            request.due is not None
            or request.completed_from
            or request.completed_to
            or any(day in _DAY_WORDS for day in days)
        )
        zone = ZoneInfo(await self.zone(request.timezone)) if zone_needed or request.timezone else None
        now = datetime.now(UTC)
        today = now.astimezone(zone).date() if zone is not None else None

        def start_of(day: date) -> datetime:
            assert zone is not None
            return datetime.combine(day, time(), zone)

        completed_from = _day(request.completed_from, "completed_from", today)
        completed_to = _day(request.completed_to, "completed_to", today)
        words = tuple(re.findall(r"\w+", request.query.lower()))[:8] if request.query else ()
        return TaskQuery(
            status=request.status,
            due=request.due,
            due_from=_day(request.due_from, "due_from", today),
            due_to=_day(request.due_to, "due_to", today),
            tag=clean_tags([request.tag])[0] if request.tag is not None else None,
            priority=priority_value(request.priority) if request.priority is not None else None,
            words=words,
            completed_from=start_of(completed_from) if completed_from else None,
            completed_before=start_of(completed_to + timedelta(days=1)) if completed_to else None,
            sort=request.order,
            today=today,
            now=now,
        )

    async def complete(
        self, task_id: int, expected_version: int | None, forever: bool = False
    ) -> TaskCompleted:
        """Completing a completed task changes nothing, not even its version (idempotent). A recurring
        task moves to its next occurrence and stays pending (the log records the completion), unless
        `forever`."""
        changed = await self.repo.change(
            self.user_id,
            [task_id],
            {"completed": True},
            "complete",
            self.origin,
            expected_version=expected_version,
            skip_recurring=not forever,
        )
        if changed:
            task = TaskOut.model_validate(changed[0].row)
            return TaskCompleted(task_id=task.id, title=task.title, task=task)
        current = await self.repo.get(self.user_id, task_id)
        if (
            current is None
            or not current.due_recurrence
            or current.due_date is None
            or current.trashed_at is not None
            or current.completed
            or forever
        ):
            # Not a recurring task to move (or already done): the usual reasons, from the row just read.
            task = self._unchanged(task_id, {"completed": True}, expected_version, current)
            return TaskCompleted(task_id=task.id, title=task.title, task=task)
        due = Due(
            current.due_date,
            _local_time(current.due_datetime, current.due_timezone),
            current.due_timezone or DEFAULT_ZONE,
            current.due_string or "",
            Recurrence.from_text(current.due_recurrence),
        )
        moved = columns_of(next_occurrence(due, datetime.now(UTC)))
        task = await self._change(task_id, moved, "complete", expected_version)
        return TaskCompleted(task_id=task.id, title=task.title, task=task)

    async def update(
        self,
        task_id: int,
        title: str | None,
        description: str | None,
        completed: bool | None,
        expected_version: int | None,
        due: str | None = None,
        priority: Priority | None = None,
        tags: Sequence[str] | None = None,
        zone: str | None = None,
    ) -> TaskUpdated:
        values: dict[str, Any] = await self._extra(due, priority, tags, zone)
        if values.get("due_date") is not None and values.get("due_recurrence") is None:
            # "Move it to monday" on a recurring task moves this occurrence and keeps the rule (the
            # complaint about other task managers: rescheduling that loses the recurrence).
            current = await self.repo.get(self.user_id, task_id)
            if current is not None and current.due_recurrence:
                values["due_recurrence"] = current.due_recurrence
                values["due_string"] = current.due_string
        if title is not None:
            values["title"] = clean_title(title)
        if description is not None:
            # An empty description clears it.
            values["description"] = clean_description(description)
        if completed is not None:
            values["completed"] = completed
        if not values:
            raise InvalidArgument(
                "Nothing to change: give a new title, description, due, priority, tags or completed state."
            )
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
        return self._unchanged(task_id, values, expected_version, await self.repo.get(self.user_id, task_id))

    def _unchanged(
        self, task_id: int, values: dict[str, Any], expected_version: int | None, task: Any
    ) -> TaskOut:
        """Why a change changed nothing: an error, or the task already as asked."""
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
