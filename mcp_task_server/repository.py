"""All SQL of the task server. Every query is scoped to one user; nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Conversation, Message, Task


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user_id: str, title: str, description: str | None) -> Task:
        # One round trip: INSERT ... RETURNING brings back the id and the server-side timestamps.
        stmt = insert(Task).values(user_id=user_id, title=title, description=description).returning(Task)
        return (await self.session.scalars(stmt)).one()

    async def get(self, user_id: str, task_id: int) -> Task | None:
        stmt = select(Task).where(Task.id == task_id, Task.user_id == user_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def page(
        self, user_id: str, completed: bool | None, after_id: int | None, limit: int
    ) -> list[Task]:
        """Up to `limit` tasks in id order after `after_id` (keyset paging: cost does not grow with depth)."""
        stmt = select(Task).where(Task.user_id == user_id)
        if completed is not None:
            stmt = stmt.where(Task.completed == completed)
        if after_id is not None:
            stmt = stmt.where(Task.id > after_id)
        stmt = stmt.order_by(Task.id).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def update(self, user_id: str, task_id: int, values: dict[str, Any]) -> Task | None:
        stmt = (
            update(Task)
            .where(Task.id == task_id, Task.user_id == user_id)
            .values(**values, updated_at=func.now())
            .returning(Task)
        )
        return (
            await self.session.scalars(stmt, execution_options={"synchronize_session": False})
        ).one_or_none()

    async def complete(self, user_id: str, task_id: int) -> Task | None:
        """Mark done. Completing a completed task changes nothing, not even `updated_at` (idempotent)."""
        stmt = (
            update(Task)
            .where(Task.id == task_id, Task.user_id == user_id)
            .values(completed=True, updated_at=case((Task.completed, Task.updated_at), else_=func.now()))
            .returning(Task)
        )
        return (
            await self.session.scalars(stmt, execution_options={"synchronize_session": False})
        ).one_or_none()

    async def delete(self, user_id: str, task_id: int) -> Task | None:
        stmt = delete(Task).where(Task.id == task_id, Task.user_id == user_id).returning(Task)
        return (
            await self.session.scalars(stmt, execution_options={"synchronize_session": False})
        ).one_or_none()


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, user_id: str, title: str | None) -> Conversation:
        stmt = insert(Conversation).values(user_id=user_id, title=title).returning(Conversation)
        return (await self.session.scalars(stmt)).one()

    async def get(self, user_id: str, conversation_id: int) -> Conversation | None:
        stmt = select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def touch(self, user_id: str, conversation_id: int) -> Conversation | None:
        """Mark a conversation active now; None when it is missing or someone else's."""
        stmt = (
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
            .values(updated_at=func.now())
            .returning(Conversation)
        )
        return (
            await self.session.scalars(stmt, execution_options={"synchronize_session": False})
        ).one_or_none()

    async def page(self, user_id: str, before: tuple[datetime, int] | None, limit: int) -> list[Conversation]:
        """Most recently active first; `before` is the (updated_at, id) of the last row already shown."""
        stmt = select(Conversation).where(Conversation.user_id == user_id)
        if before is not None:
            stmt = stmt.where(tuple_(Conversation.updated_at, Conversation.id) < tuple_(*before))
        stmt = stmt.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def add_message(
        self,
        conversation_id: int,
        user_id: str,
        role: str,
        content: str,
        tool_calls: Sequence[dict[str, Any]] | None = None,
    ) -> Message:
        stmt = (
            insert(Message)
            .values(
                conversation_id=conversation_id,
                user_id=user_id,
                role=role,
                content=content,
                tool_calls=list(tool_calls) if tool_calls else None,
            )
            .returning(Message)
        )
        return (await self.session.scalars(stmt)).one()

    async def latest_messages(
        self, conversation_id: int, limit: int, before_id: int | None = None
    ) -> list[Message]:
        """The newest `limit` messages (older than `before_id` when given), newest first.

        Served by the (conversation_id, id) index, so the cost is the window, not the history.
        """
        stmt = select(Message).where(Message.conversation_id == conversation_id)
        if before_id is not None:
            stmt = stmt.where(Message.id < before_id)
        stmt = stmt.order_by(Message.id.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())
