"""All SQL about conversations and messages. Every query is scoped to one user; nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import CHAT_ROLES, Conversation, Message


class ConversationRepository:
    """Each write is one statement (data-modifying CTEs), so it is atomic without a transaction and costs
    one round trip: a chat turn's bookkeeping is on the hot path of every message."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def start(self, user_id: str, title: str | None, content: str) -> Row[Any]:
        """Create a conversation with its first user message; returns the message."""
        params = {"user_id": user_id, "title": title, "content": content}
        return (await self.session.execute(_START, params)).one()

    async def continue_with(
        self, user_id: str, conversation_id: int, content: str, window: int
    ) -> list[Row[Any]]:
        """Append a user message to the caller's conversation and return it with the `window - 1` messages
        before it, newest first; empty when the conversation is missing or someone else's."""
        params = {"user_id": user_id, "conversation_id": conversation_id, "content": content}
        rows = list((await self.session.execute(_CONTINUE, {**params, "earlier": window - 1})).all())
        return sorted(rows, key=lambda row: row.id, reverse=True)

    async def reply(
        self, user_id: str, conversation_id: int, content: str, tool_calls: Sequence[dict[str, Any]]
    ) -> int | None:
        """Append the assistant's reply; None when the conversation is missing or someone else's."""
        params = {
            "user_id": user_id,
            "conversation_id": conversation_id,
            "content": content,
            "tool_calls": list(tool_calls) if tool_calls else None,
        }
        return (await self.session.execute(_REPLY, params)).scalar_one_or_none()

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


# The statements of every chat turn, written once: built from SQLAlchemy constructs on each call,
# the same SQL cost ~1 ms more CPU per call in building and cache-key generation (measured in process).
# Built from constants only (values are bound parameters); the rows are typed as the table's columns.
_TOUCHED = (
    "touched AS (UPDATE conversations SET updated_at = now() "
    "WHERE id = CAST(:conversation_id AS bigint) AND user_id = CAST(:user_id AS varchar) RETURNING id)"
)
_ROW = "id, conversation_id, role, content, tool_calls, created_at"
_CHAT_ROLES = ", ".join(f"'{role}'" for role in CHAT_ROLES)
_CONTINUE = text(
    f"""
WITH {_TOUCHED}, added AS (
    INSERT INTO messages (conversation_id, user_id, role, content)
    SELECT id, CAST(:user_id AS varchar), 'user', CAST(:content AS text) FROM touched
    RETURNING {_ROW}
)
SELECT {_ROW} FROM added
UNION ALL (
    SELECT {_ROW} FROM messages
    WHERE conversation_id = (SELECT id FROM touched) AND role IN ({_CHAT_ROLES})
    ORDER BY id DESC LIMIT CAST(:earlier AS integer)
)
"""
).columns(*(Message.__table__.c[name] for name in _ROW.split(", ")))
_START = text(
    f"""
WITH created AS (
    INSERT INTO conversations (user_id, title) VALUES (CAST(:user_id AS varchar), CAST(:title AS varchar))
    RETURNING id
)
INSERT INTO messages (conversation_id, user_id, role, content)
SELECT id, CAST(:user_id AS varchar), 'user', CAST(:content AS text) FROM created
RETURNING {_ROW}
"""
).columns(*(Message.__table__.c[name] for name in _ROW.split(", ")))
_REPLY = text(
    f"""
WITH {_TOUCHED}
INSERT INTO messages (conversation_id, user_id, role, content, tool_calls)
SELECT id, CAST(:user_id AS varchar), 'assistant', CAST(:content AS text), CAST(:tool_calls AS jsonb)
FROM touched RETURNING id
"""
).bindparams(bindparam("tool_calls", type_=JSONB))
