"""All SQL about conversations and messages. Every query is scoped to one user; nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, Row, String, Text, func, insert, literal, select, tuple_, union_all, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement

from ..models import CHAT_ROLES, Conversation, Message


class ConversationRepository:
    """Each write is one statement (data-modifying CTEs), so it is atomic without a transaction and costs
    one round trip: a chat turn's bookkeeping is on the hot path of every message."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def start(self, user_id: str, title: str | None, content: str) -> Row[Any]:
        """Create a conversation with its first user message; returns the message."""
        created = insert(Conversation).values(user_id=user_id, title=title).returning(Conversation.id).cte()
        stmt = _insert_message(created.c.id, user_id, "user", content).returning(*_MESSAGE_COLUMNS)
        return (await self.session.execute(stmt)).one()

    async def continue_with(
        self, user_id: str, conversation_id: int, content: str, window: int
    ) -> list[Row[Any]]:
        """Append a user message to the caller's conversation and return it with the `window - 1` messages
        before it, newest first; empty when the conversation is missing or someone else's."""
        touched = _touch(user_id, conversation_id)
        added = (
            _insert_message(touched.c.id, user_id, "user", content).returning(*_MESSAGE_COLUMNS).cte("added")
        )
        # Sub-statements of one query share a snapshot, so this reads the history without the new row.
        earlier = (
            select(*_MESSAGE_COLUMNS)
            .where(Message.conversation_id == select(touched.c.id).scalar_subquery(), _IS_CHAT_MESSAGE)
            .order_by(Message.id.desc())
            .limit(window - 1)
            .subquery()
        )
        rows = list((await self.session.execute(union_all(select(added), select(earlier)))).all())
        return sorted(rows, key=lambda row: row.id, reverse=True)

    async def reply(
        self, user_id: str, conversation_id: int, content: str, tool_calls: Sequence[dict[str, Any]]
    ) -> int | None:
        """Append the assistant's reply; None when the conversation is missing or someone else's."""
        touched = _touch(user_id, conversation_id)
        stmt = _insert_message(touched.c.id, user_id, "assistant", content, tool_calls).returning(Message.id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, user_id: str, conversation_id: int) -> Conversation | None:
        stmt = select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def page(self, user_id: str, before: tuple[datetime, int] | None, limit: int) -> list[Conversation]:
        """Most recently active first; `before` is the (updated_at, id) of the last row already shown."""
        stmt = select(Conversation).where(Conversation.user_id == user_id)
        if before is not None:
            stmt = stmt.where(tuple_(Conversation.updated_at, Conversation.id) < tuple_(*before))
        stmt = stmt.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def latest_messages(
        self, conversation_id: int, limit: int, before_id: int | None = None
    ) -> list[Message]:
        """The newest `limit` messages (older than `before_id` when given), newest first.

        Served by the (conversation_id, id) index, so the cost is the window, not the history.
        """
        stmt = select(Message).where(Message.conversation_id == conversation_id, _IS_CHAT_MESSAGE)
        if before_id is not None:
            stmt = stmt.where(Message.id < before_id)
        stmt = stmt.order_by(Message.id.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())


# The conversation's own messages: ChatKit's other items (role `item`) are not /chat's to read. A filter
# on the rows the (conversation_id, id) index walks, newest first, so a window still costs its size.
_IS_CHAT_MESSAGE = Message.role.in_(CHAT_ROLES)
_MESSAGE_COLUMNS = (
    Message.id,
    Message.conversation_id,
    Message.role,
    Message.content,
    Message.tool_calls,
    Message.created_at,
)


def _insert_message(
    conversation_id: ColumnElement[int],
    user_id: str,
    role: str,
    content: str,
    tool_calls: Sequence[dict[str, Any]] | None = None,
) -> Insert:
    """INSERT a message into the conversation whose id the CTE column yields (none if it yields none)."""
    return insert(Message).from_select(
        ["conversation_id", "user_id", "role", "content", "tool_calls"],
        select(
            conversation_id,
            literal(user_id, String),
            literal(role, String),
            literal(content, Text),
            literal(list(tool_calls) if tool_calls else None, JSONB),
        ),
    )


def _touch(user_id: str, conversation_id: int) -> CTE:
    """Mark the caller's conversation active now; yields its id, or no row when it is not theirs."""
    return (
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        .values(updated_at=func.now())
        .returning(Conversation.id)
        .cte("touched")
    )
