"""The rules of conversations. The service flushes through the repository; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence

from shared.schemas import (
    ConversationOut,
    ConversationPage,
    MessageOut,
    MessagePage,
    ReplyRecorded,
    ToolCallRecord,
    TurnStarted,
)

from .. import cursors
from ..errors import InvalidArgument, NotFound
from ..models import CONVERSATION_TITLE_MAX
from .repository import ConversationRepository


def _conversation_not_found(conversation_id: int) -> NotFound:
    return NotFound(f"Conversation {conversation_id} was not found.")


def conversation_title(message: str) -> str:
    """A conversation's title from its first user message: its words on one line, at most 80 characters."""
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
            title = conversation_title(message)[:CONVERSATION_TITLE_MAX]
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
        self, conversation_id: int, content: str, tool_calls: Sequence[ToolCallRecord]
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
