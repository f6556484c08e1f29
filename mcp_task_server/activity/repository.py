"""All SQL about the activity log. Rows are written by the tasks repository, in the same statement as
the change they record; this module reads them and marks what an undo reverted."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import TaskChange

_SET_UNDONE = text(
    "UPDATE task_changes SET undone_by = (CAST(:undone AS jsonb) ->> id::text)::bigint "
    "WHERE user_id = :user_id AND id = ANY(CAST(:ids AS bigint[]))"
)


class ActivityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest_in_effect(self, user_id: str) -> TaskChange | None:
        """The caller's newest change that no undo has reverted, undos themselves aside."""
        stmt = (
            select(TaskChange)
            .where(
                TaskChange.user_id == user_id,
                TaskChange.kind != "undo",
                TaskChange.undone_by.is_(None),
            )
            .order_by(TaskChange.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def get(self, user_id: str, change_id: int) -> TaskChange | None:
        stmt = (
            select(TaskChange)
            .where(TaskChange.id == change_id, TaskChange.user_id == user_id)
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def batch(self, user_id: str, batch_id: uuid.UUID) -> list[TaskChange]:
        stmt = (
            select(TaskChange)
            .where(TaskChange.user_id == user_id, TaskChange.batch_id == batch_id)
            .order_by(TaskChange.id)
            .with_for_update()
        )
        return list((await self.session.scalars(stmt)).all())

    async def set_undone(self, user_id: str, undone: Mapping[int, int | None]) -> None:
        """Mark each change as reverted by the given undo (None: back in effect, after a redo)."""
        await self.session.execute(
            _SET_UNDONE,
            {
                "user_id": user_id,
                "ids": list(undone),
                "undone": json.dumps({str(change): undo for change, undo in undone.items()}),
            },
        )

    async def page(
        self, user_id: str, task_id: int | None, before_id: int | None, limit: int
    ) -> Sequence[TaskChange]:
        """Newest first; served by (user_id, id) or (user_id, task_id, id)."""
        stmt = select(TaskChange).where(TaskChange.user_id == user_id)
        if task_id is not None:
            stmt = stmt.where(TaskChange.task_id == task_id)
        if before_id is not None:
            stmt = stmt.where(TaskChange.id < before_id)
        stmt = stmt.order_by(TaskChange.id.desc()).limit(limit)
        return (await self.session.scalars(stmt)).all()
