"""All SQL about tasks. Every statement is scoped to one user; nothing here commits.

A change to tasks and its activity record are one statement (data-modifying CTEs): atomic without a
transaction, one round trip on the hot path. The `old` CTE locks the rows (FOR UPDATE), so the log's
`before` is the state the change really replaced, even under concurrent writers.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Row, cast, func, literal_column, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from ..context import Origin
from ..models import Task

# The fields a change can touch, as the activity log names them, and their SQL on the tasks table.
FIELDS: Mapping[str, str] = {
    "title": "{t}.title",
    "description": "{t}.description",
    "completed": "{t}.completed",
    "trashed": "({t}.trashed_at IS NOT NULL)",
    "priority": "{t}.priority",
    "tags": "{t}.tags",
    # A due date is always set as these five together (see DUE_FIELDS).
    "due_date": "{t}.due_date",
    "due_datetime": "{t}.due_datetime",
    "due_timezone": "{t}.due_timezone",
    "due_string": "{t}.due_string",
    "due_recurrence": "{t}.due_recurrence",
}
DUE_FIELDS = ("due_date", "due_datetime", "due_timezone", "due_string", "due_recurrence")
# Values that come back from the activity log as JSON text must be cast to the column's type.
_CASTS: Mapping[str, str] = {
    "priority": "smallint",
    "tags": "varchar(50)[]",
    "due_date": "date",
    "due_datetime": "timestamptz",
}
_SNAPSHOT = "jsonb_build_object(" + ", ".join(f"'{field}', {sql}" for field, sql in FIELDS.items()) + ")"

# Built from constants only, never from input (values are bound parameters).
_ADD = text(
    f"""
WITH created AS (
    INSERT INTO tasks (user_id, title, description, priority, tags,
                       due_date, due_datetime, due_timezone, due_string, due_recurrence)
    VALUES (:user_id, :title, :description, :priority, CAST(:tags AS varchar(50)[]),
            :due_date, :due_datetime, :due_timezone, :due_string, :due_recurrence)
    RETURNING *
), logged AS (
    INSERT INTO task_changes (user_id, task_id, kind, title, after, client, request_id)
    SELECT user_id, id, 'create', title, {_SNAPSHOT.format(t="created")}, :client, :request_id
    FROM created
    RETURNING id
)
SELECT created.*, (SELECT id FROM logged) AS change_id FROM created
"""
)


@dataclass(frozen=True)
class TaskQuery:
    """Which of a user's tasks list_tasks shows, and in what order. Dates are the caller's local dates;
    `today` is today in the caller's zone, `now` the current instant (both for the due filters)."""

    status: str = "all"
    due: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    tag: str | None = None
    priority: int | None = None
    words: tuple[str, ...] = ()
    completed_from: datetime | None = None
    completed_before: datetime | None = None
    sort: str = "created"
    today: date | None = None
    now: datetime | None = None


@dataclass(frozen=True)
class Keyset:
    """Where the previous page ended, in the sort's terms: the last task's id and sort value."""

    after_id: int
    due_date: date | None = None
    due_at: datetime | None = None
    priority: int | None = None


# The due order's keys, as ix_tasks_user_due_order indexes them: undated tasks sort last as the day
# 'infinity', all-day tasks after the timed ones of their day. Literals, not parameters: PostgreSQL
# matches an expression index only against the same constants.
_NO_DAY: ColumnElement[Any] = literal_column("'infinity'::date")
_NO_TIME: ColumnElement[Any] = literal_column("'infinity'::timestamptz")
due_day = func.coalesce(Task.due_date, _NO_DAY)
due_time = func.coalesce(Task.due_datetime, _NO_TIME)


def owner_lexeme(user_id: str) -> str:
    """The lexeme the search vector ends with for `user_id` (migration 0004): `~` and the md5 of the id."""
    return "~" + hashlib.md5(user_id.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Changed:
    """A task as one change left it, with the id of the change's activity record."""

    row: Row[Any]
    change_id: int


@lru_cache(maxsize=64)
def _change_sql(
    fields: tuple[str, ...], *, in_trash: bool, check_version: bool, skip_recurring: bool = False
) -> TextClause:
    """UPDATE the caller's tasks among `:task_ids` that are on the list (or in the trash) and differ
    from the new values, and log each change. Rows already as asked are left alone (not logged)."""
    assignments, differs, before, after = [], [], [], []
    for field in fields:
        if field == "trashed":
            assignments.append("trashed_at = CASE WHEN :trashed THEN now() END")
            differs.append("(t.trashed_at IS NOT NULL) <> :trashed")
        else:
            value = f"CAST(:{field} AS {_CASTS[field]})" if field in _CASTS else f":{field}"
            assignments.append(f"{field} = {value}")
            differs.append(f"t.{field} IS DISTINCT FROM {value}")
        if field == "completed":
            assignments.append("completed_at = CASE WHEN :completed THEN now() END")
        before.append(f"'{field}', " + FIELDS[field].format(t="old"))
        after.append(f"'{field}', " + FIELDS[field].format(t="changed"))
    version = "AND old.version = :expected_version" if check_version else ""
    if skip_recurring:
        # Completing a recurring task moves its due date instead (TaskService.complete).
        version += " AND old.due_recurrence IS NULL"
    trash = "IS NOT NULL" if in_trash else "IS NULL"
    # Column names come from FIELDS, never from input; every value is a bound parameter.
    return text(
        f"""
WITH old AS (
    SELECT * FROM tasks
    WHERE user_id = :user_id AND id = ANY(CAST(:task_ids AS bigint[])) AND trashed_at {trash}
    FOR UPDATE
), changed AS (
    UPDATE tasks AS t SET {", ".join(assignments)}, version = t.version + 1, updated_at = now()
    FROM old
    WHERE t.id = old.id {version} AND ({" OR ".join(differs)})
    RETURNING t.*
), logged AS (
    INSERT INTO task_changes
        (user_id, task_id, kind, title, before, after, batch_id, reverts, client, request_id)
    SELECT changed.user_id, changed.id, :kind, changed.title,
           jsonb_build_object({", ".join(before)}), jsonb_build_object({", ".join(after)}),
           CAST(:batch_id AS uuid), (CAST(:reverts AS jsonb) ->> changed.id::text)::bigint,
           :client, :request_id
    FROM changed JOIN old ON old.id = changed.id
    RETURNING id, task_id
)
SELECT changed.*, logged.id AS change_id FROM changed JOIN logged ON logged.task_id = changed.id
ORDER BY changed.id
"""
    )


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        user_id: str,
        title: str,
        description: str | None,
        origin: Origin,
        extra: Mapping[str, Any] | None = None,
    ) -> Changed:
        """`extra`: priority, tags and the DUE_FIELDS, when given."""
        params = {
            "user_id": user_id,
            "title": title,
            "description": description,
            "priority": 0,
            "tags": [],
            **dict.fromkeys(DUE_FIELDS),
            **(extra or {}),
            **_origin(origin),
        }
        row = (await self.session.execute(_ADD, params)).one()
        return Changed(row, row.change_id)

    async def change(
        self,
        user_id: str,
        task_ids: Sequence[int],
        values: Mapping[str, Any],
        kind: str,
        origin: Origin,
        *,
        expected_version: int | None = None,
        batch_id: uuid.UUID | None = None,
        reverts: Mapping[int, int] | None = None,
        skip_recurring: bool = False,
    ) -> list[Changed]:
        """Apply `values` (keys from FIELDS) to the tasks and log one `kind` change per task changed.

        Tasks are looked for in the trash when the change takes them out of it, on the list otherwise.
        Tasks that are missing, elsewhere, at another version, or already as asked come back absent.
        """
        fields = tuple(sorted(values))
        statement = _change_sql(
            fields,
            in_trash=values.get("trashed") is False,
            check_version=expected_version is not None,
            skip_recurring=skip_recurring,
        )
        params: dict[str, Any] = {
            **values,
            "user_id": user_id,
            "task_ids": list(task_ids),
            "kind": kind,
            "batch_id": batch_id,
            "reverts": json.dumps({str(task): change for task, change in (reverts or {}).items()}),
            **_origin(origin),
        }
        if expected_version is not None:
            params["expected_version"] = expected_version
        rows = (await self.session.execute(statement, params)).all()
        return [Changed(row, row.change_id) for row in rows]

    async def get(self, user_id: str, task_id: int) -> Task | None:
        """The caller's task, on the list or in the trash."""
        stmt = select(Task).where(Task.id == task_id, Task.user_id == user_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def lock(self, user_id: str, task_ids: Sequence[int]) -> dict[int, Task]:
        """The caller's tasks among `task_ids` (list or trash), locked until the transaction ends."""
        stmt = (
            select(Task)
            .where(Task.user_id == user_id, Task.id.in_(list(task_ids)))
            .order_by(Task.id)
            .with_for_update()
        )
        return {task.id: task for task in (await self.session.scalars(stmt)).all()}

    async def page(
        self, user_id: str, status: str, after_id: int | None, limit: int, *, ids: Sequence[int] = ()
    ) -> list[Task]:
        """Up to `limit` tasks in id order after `after_id` (keyset paging: cost does not grow with depth).

        `status` is all / pending / completed (tasks on the list) or trashed (the trash only)."""
        keyset = Keyset(after_id) if after_id is not None else None
        return await self.query(user_id, TaskQuery(status=status), keyset, limit, ids=ids)

    async def query(
        self,
        user_id: str,
        query: TaskQuery,
        keyset: Keyset | None,
        limit: int,
        *,
        ids: Sequence[int] = (),
    ) -> list[Task]:
        """Up to `limit` tasks matching `query`, in its order, after `keyset`. Keyset paging in every
        order, on indexes that lead with the user and the sort column: page 100 costs what page 1 does."""
        status = query.status
        stmt = select(Task).where(Task.user_id == user_id)
        if status == "trashed":
            stmt = stmt.where(Task.trashed_at.is_not(None))
        else:
            stmt = stmt.where(Task.trashed_at.is_(None))
            if status != "all":
                stmt = stmt.where(Task.completed == (status == "completed"))
        if ids:
            stmt = stmt.where(Task.id.in_(list(ids)))
        stmt = stmt.where(*_filters(query, user_id))
        if query.sort == "due":
            if keyset is not None:
                day = _NO_DAY if keyset.due_date is None else keyset.due_date
                moment = _NO_TIME if keyset.due_at is None else keyset.due_at
                stmt = stmt.where(tuple_(due_day, due_time, Task.id) > tuple_(day, moment, keyset.after_id))
            stmt = stmt.order_by(due_day, due_time, Task.id)
        elif query.sort == "priority":
            if keyset is not None:
                stmt = stmt.where(
                    tuple_(Task.priority, Task.id) < tuple_(keyset.priority or 0, keyset.after_id)
                )
            stmt = stmt.order_by(Task.priority.desc(), Task.id.desc())
        else:
            if keyset is not None:
                stmt = stmt.where(Task.id > keyset.after_id)
            stmt = stmt.order_by(Task.id)
        return list((await self.session.scalars(stmt.limit(limit))).all())

    async def now(self) -> Any:
        return (await self.session.execute(select(func.now()))).scalar_one()


class SettingsRepository:
    """Each user's last known time zone."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def zone(self, user_id: str) -> str | None:
        stmt = text("SELECT timezone FROM user_settings WHERE user_id = :user_id")
        return (await self.session.execute(stmt, {"user_id": user_id})).scalar_one_or_none()

    async def remember_zone(self, user_id: str, zone: str) -> None:
        # Written only when it differs, so a client that sends its zone on every call costs no row churn.
        stmt = text(
            "INSERT INTO user_settings (user_id, timezone) VALUES (:user_id, :zone) "
            "ON CONFLICT (user_id) DO UPDATE SET timezone = EXCLUDED.timezone, updated_at = now() "
            "WHERE user_settings.timezone IS DISTINCT FROM EXCLUDED.timezone"
        )
        await self.session.execute(stmt, {"user_id": user_id, "zone": zone})


def _filters(query: TaskQuery, user_id: str) -> list[ColumnElement[bool]]:
    """The WHERE terms of `query`. Due dates are compared as due_day, so the due order's index serves
    both the filter and the order."""
    where: list[ColumnElement[bool]] = []
    today = query.today
    if query.due is not None and today is not None:
        if query.due == "overdue":
            now = query.now
            if now is None:
                where.append(due_day < today)
            else:
                # The range first, so the index starts and stops there; then today's timed tasks past.
                where.append(due_day <= today)
                where.append(or_(due_day < today, Task.due_datetime < now))
        elif query.due == "today":
            where.append(due_day == today)
        elif query.due == "tomorrow":
            where.append(due_day == today + timedelta(days=1))
        elif query.due == "next_7_days":
            where.append(due_day.between(today, today + timedelta(days=6)))
        elif query.due == "no_date":
            where.append(due_day == _NO_DAY)
        elif query.due == "any_date":
            where.append(due_day < _NO_DAY)
    if query.due_from is not None:
        where.append(due_day >= query.due_from)
        if query.due_to is None:
            where.append(due_day < _NO_DAY)
    if query.due_to is not None:
        where.append(due_day <= query.due_to)
    if query.tag is not None:
        where.append(Task.tags.contains([query.tag]))
    if query.priority is not None:
        where.append(Task.priority == query.priority)
    if query.words:
        # Each word, as a prefix ("mortg" finds "mortgage"); the words are letters and digits only.
        # ANDed with the owner's lexeme, so the GIN index answers with this user's matches only; the
        # lexeme is hex after `~`, quoted as tsquery input wants.
        tsquery = " & ".join(f"{word}:*" for word in query.words)
        owner = cast(f"'{owner_lexeme(user_id)}'", TSQUERY)
        where.append(Task.search.op("@@")(func.to_tsquery("simple", tsquery).op("&&")(owner)))
    if query.completed_from is not None:
        where.append(Task.completed_at >= query.completed_from)
    if query.completed_before is not None:
        where.append(Task.completed_at < query.completed_before)
    return where


def _origin(origin: Origin) -> dict[str, Any]:
    return {"client": origin.client, "request_id": origin.request_id}


class ConfirmationRepository:
    """Bulk previews waiting for the user's yes. Only a token's SHA-256 is stored."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, token_hash: str, user_id: str, action: str, versions: Mapping[int, int], ttl_seconds: float
    ) -> Any:
        """Store the preview; returns when it expires (by the database's clock, as the check uses)."""
        stmt = text(
            "INSERT INTO bulk_confirmations (token_hash, user_id, action, tasks, expires_at) "
            "VALUES (:token_hash, :user_id, :action, CAST(:tasks AS jsonb), "
            "now() + make_interval(secs => :ttl)) RETURNING expires_at"
        )
        params = {
            "token_hash": token_hash,
            "user_id": user_id,
            "action": action,
            "tasks": json.dumps({str(task): version for task, version in versions.items()}),
            "ttl": ttl_seconds,
        }
        return (await self.session.execute(stmt, params)).scalar_one()

    async def take(self, token_hash: str, user_id: str) -> Row[Any] | None:
        """Use up the caller's unexpired preview (the deletion rolls back if the bulk call fails)."""
        stmt = text(
            "DELETE FROM bulk_confirmations WHERE token_hash = :token_hash AND user_id = :user_id "
            "AND expires_at > now() RETURNING action, tasks"
        )
        return (
            await self.session.execute(stmt, {"token_hash": token_hash, "user_id": user_id})
        ).one_or_none()
