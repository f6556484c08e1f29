"""All SQL about tasks. Every statement is scoped to one user; nothing here commits.

A change to tasks and its activity record are one statement (data-modifying CTEs): atomic without a
transaction, one round trip on the hot path. The `old` CTE locks the rows (FOR UPDATE), so the log's
`before` is the state the change really replaced, even under concurrent writers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, func, select, text
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
}
_SNAPSHOT = "jsonb_build_object('title', {t}.title, 'description', {t}.description, " \
    "'completed', {t}.completed, 'trashed', {t}.trashed_at IS NOT NULL)"  # fmt: skip

# Built from constants only, never from input (values are bound parameters).
_ADD = text(
    f"""
WITH created AS (
    INSERT INTO tasks (user_id, title, description) VALUES (:user_id, :title, :description)
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
class Changed:
    """A task as one change left it, with the id of the change's activity record."""

    row: Row[Any]
    change_id: int


@lru_cache(maxsize=64)
def _change_sql(fields: tuple[str, ...], *, in_trash: bool, check_version: bool) -> TextClause:
    """UPDATE the caller's tasks among `:task_ids` that are on the list (or in the trash) and differ
    from the new values, and log each change. Rows already as asked are left alone (not logged)."""
    assignments, differs, before, after = [], [], [], []
    for field in fields:
        if field == "trashed":
            assignments.append("trashed_at = CASE WHEN :trashed THEN now() END")
            differs.append("(t.trashed_at IS NOT NULL) <> :trashed")
        else:
            assignments.append(f"{field} = :{field}")
            differs.append(f"t.{field} IS DISTINCT FROM :{field}")
        before.append(f"'{field}', " + FIELDS[field].format(t="old"))
        after.append(f"'{field}', " + FIELDS[field].format(t="changed"))
    version = "AND old.version = :expected_version" if check_version else ""
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

    async def add(self, user_id: str, title: str, description: str | None, origin: Origin) -> Changed:
        params = {"user_id": user_id, "title": title, "description": description, **_origin(origin)}
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
    ) -> list[Changed]:
        """Apply `values` (keys from FIELDS) to the tasks and log one `kind` change per task changed.

        Tasks are looked for in the trash when the change takes them out of it, on the list otherwise.
        Tasks that are missing, elsewhere, at another version, or already as asked come back absent.
        """
        fields = tuple(sorted(values))
        statement = _change_sql(
            fields, in_trash=values.get("trashed") is False, check_version=expected_version is not None
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
        stmt = select(Task).where(Task.user_id == user_id)
        if status == "trashed":
            stmt = stmt.where(Task.trashed_at.is_not(None))
        else:
            stmt = stmt.where(Task.trashed_at.is_(None))
            if status != "all":
                stmt = stmt.where(Task.completed == (status == "completed"))
        if ids:
            stmt = stmt.where(Task.id.in_(list(ids)))
        if after_id is not None:
            stmt = stmt.where(Task.id > after_id)
        stmt = stmt.order_by(Task.id).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def now(self) -> Any:
        return (await self.session.execute(select(func.now()))).scalar_one()


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
