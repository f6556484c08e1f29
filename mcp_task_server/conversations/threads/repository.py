"""All SQL about ChatKit threads and items. Every statement is scoped to one user and is the whole call's
one round trip (ChatKit loads and saves a thread on every turn); nothing here commits.

A thread is a row of `conversations`, found by `thread_id` and its owner together, so another user's
thread reads exactly like a missing one. SQL is built from constants only; values are bound parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from ...models import CHAT_ROLES

Order = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class ItemKey:
    """How an item is found: by the item id it was saved with, or (`message_id`) as a message from /chat,
    which has none and is named after its message id."""

    item_id: str | None = None
    message_id: int | None = None

    def match(self, param: str) -> tuple[str, dict[str, Any]]:
        """The condition on `messages m` that finds the item, and its parameter, named `param`."""
        if self.message_id is not None:
            return f"m.id = :{param} AND m.item_id IS NULL", {param: self.message_id}
        return f"m.item_id = :{param}", {param: self.item_id}


_THREAD = "c.id AS conversation_id, c.thread_id, c.title, c.thread_meta, c.created_at, c.updated_at"
_ITEM = "m.id AS message_id, m.role, m.content, m.tool_calls, m.item_id, m.kind, m.item, m.created_at"
# The conversation's own messages, which /chat and the agent read (ChatKit's other items are not).
_CHAT = "role IN (" + ", ".join(f"'{role}'" for role in CHAT_ROLES) + ")"
# The latest :window messages of conversation `{c}`, as one JSON array oldest first (MessageOut's fields):
# one row per call, not one per message with the thread's columns repeated on each.
_WINDOW = f"""(SELECT coalesce(jsonb_agg(w ORDER BY w.id), '[]') FROM (
    SELECT id, role, content, tool_calls, created_at FROM messages
    WHERE conversation_id = {{c}} AND {_CHAT}
    ORDER BY id DESC LIMIT :window
) w)"""
# (comparison, direction) of a page in each order, by id.
_ORDER: Mapping[Order, tuple[str, str]] = {"asc": (">", "ASC"), "desc": ("<", "DESC")}

_SAVE_THREAD = text(
    f"""
INSERT INTO conversations AS c (user_id, thread_id, title, thread_meta)
VALUES (:user_id, :thread_id, :title, CAST(:meta AS jsonb))
ON CONFLICT (thread_id) DO UPDATE
SET title = coalesce(EXCLUDED.title, c.title),
    thread_meta = CASE WHEN EXCLUDED.thread_meta IS NULL THEN c.thread_meta
                       ELSE coalesce(c.thread_meta, CAST('{{}}' AS jsonb)) || EXCLUDED.thread_meta END
WHERE c.user_id = EXCLUDED.user_id
RETURNING {_THREAD}
"""
)
_GET_THREAD = text(
    f"""
SELECT {_THREAD}, {_WINDOW.format(c="c.id")} AS messages
FROM conversations c
WHERE c.thread_id = :thread_id AND c.user_id = :user_id
"""
)
_DELETE_THREAD = text(
    "DELETE FROM conversations WHERE thread_id = :thread_id AND user_id = :user_id RETURNING id"
)
# Sub-statements of one query share a snapshot: `messages` below is the history before this save, in
# which a replaced item still has its old role, so it is left out and the saved row stands in for it.
_SAVE_ITEM = text(
    f"""
WITH thread AS (
    UPDATE conversations
    SET updated_at = now(), title = coalesce(title, CAST(:title AS varchar))
    WHERE thread_id = :thread_id AND user_id = :user_id
    RETURNING id, title
), saved AS (
    INSERT INTO messages AS m (conversation_id, user_id, role, content, tool_calls, item_id, kind, item)
    SELECT thread.id, :user_id, :role, :content, CAST(:tool_calls AS jsonb), :item_id, :kind,
           CAST(:item AS jsonb)
    FROM thread
    ON CONFLICT (conversation_id, item_id) WHERE item_id IS NOT NULL DO UPDATE
    SET role = EXCLUDED.role, content = EXCLUDED.content, tool_calls = EXCLUDED.tool_calls,
        kind = EXCLUDED.kind, item = EXCLUDED.item
    -- xmax is 0 on a row this statement inserted, and set on one it updated.
    RETURNING m.id, m.conversation_id, m.role, m.content, m.tool_calls, m.created_at, m.xmax = 0 AS created
)
SELECT saved.conversation_id, saved.id AS message_id, saved.created, thread.title,
    (SELECT coalesce(jsonb_agg(w ORDER BY w.id), '[]') FROM (
        SELECT * FROM (
            SELECT saved.id, saved.role, saved.content, saved.tool_calls, saved.created_at
            WHERE saved.{_CHAT}
            UNION ALL
            (SELECT id, role, content, tool_calls, created_at FROM messages
             WHERE conversation_id = saved.conversation_id AND {_CHAT} AND id <> saved.id
             ORDER BY id DESC LIMIT :window)
        ) latest
        ORDER BY id DESC LIMIT :window
    ) w) AS messages
FROM saved, thread
"""
)


@lru_cache(maxsize=64)
def _list_threads(order: Order, after: bool) -> TextClause:
    """A page of the caller's threads by id. After a thread, the row has `anchor`: none when the caller
    has no such thread, and NULL thread columns when the page is empty."""
    comparison, direction = _ORDER[order]
    if not after:
        return text(
            f"SELECT {_THREAD} FROM conversations c WHERE c.user_id = :user_id "
            f"ORDER BY c.id {direction} LIMIT :limit"
        )
    return text(
        f"""
SELECT anchor.id AS anchor, page.* FROM conversations anchor
LEFT JOIN LATERAL (
    SELECT {_THREAD} FROM conversations c
    WHERE c.user_id = :user_id AND c.id {comparison} anchor.id
    ORDER BY c.id {direction} LIMIT :limit
) page ON true
WHERE anchor.thread_id = :after AND anchor.user_id = :user_id
"""
    )


@lru_cache(maxsize=64)
def _list_items(order: Order, after: str | None, item: str | None) -> TextClause:
    """A page of a thread's items by id (or the one item `item` finds), one row per item with the thread's
    `conversation_id`: no row when the thread is not the caller's, one with NULL item columns when the page
    is empty. After an item, `anchor` is its message id, NULL when the thread has no such item."""
    comparison, direction = _ORDER[order]
    anchor_join, anchor, page = "", "", f"ORDER BY m.id {direction} LIMIT :limit"
    if item is not None:
        page = f"AND {item}"
    elif after is not None:
        anchor_join = (
            f"LEFT JOIN LATERAL (SELECT m.id FROM messages m WHERE m.conversation_id = c.id AND {after}) a "
            "ON true"
        )
        anchor = "a.id AS anchor, "
        page = f"AND m.id {comparison} a.id {page}"
    return text(
        f"""
SELECT c.id AS conversation_id, {anchor}page.* FROM conversations c
{anchor_join}
LEFT JOIN LATERAL (SELECT {_ITEM} FROM messages m WHERE m.conversation_id = c.id {page}) page ON true
WHERE c.thread_id = :thread_id AND c.user_id = :user_id
"""
    )


@lru_cache(maxsize=4)
def _delete_item(match: str) -> TextClause:
    return text(
        f"""
WITH thread AS (SELECT id FROM conversations WHERE thread_id = :thread_id AND user_id = :user_id),
gone AS (DELETE FROM messages m USING thread WHERE m.conversation_id = thread.id AND {match} RETURNING m.id)
SELECT EXISTS (SELECT FROM gone) AS deleted FROM thread
"""
    )


class ThreadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(
        self, user_id: str, thread_id: str, title: str | None, meta: Mapping[str, Any]
    ) -> Row[Any] | None:
        """Create the thread, or change the given fields of the caller's; None when it is someone else's.
        `meta` holds only the keys to set: the others keep their stored values."""
        params = {
            "user_id": user_id,
            "thread_id": thread_id,
            "title": title,
            "meta": json.dumps(meta) if meta else None,
        }
        return (await self.session.execute(_SAVE_THREAD, params)).one_or_none()

    async def get(self, user_id: str, thread_id: str, window: int) -> Row[Any] | None:
        """The caller's thread with `messages`: its latest `window` messages as JSON, oldest first."""
        params = {"user_id": user_id, "thread_id": thread_id, "window": window}
        return (await self.session.execute(_GET_THREAD, params)).one_or_none()

    async def page(self, user_id: str, order: Order, after: str | None, limit: int) -> list[Row[Any]]:
        params = {"user_id": user_id, "after": after, "limit": limit}
        return list((await self.session.execute(_list_threads(order, after is not None), params)).all())

    async def delete(self, user_id: str, thread_id: str) -> bool:
        params = {"user_id": user_id, "thread_id": thread_id}
        return (await self.session.execute(_DELETE_THREAD, params)).scalar_one_or_none() is not None

    async def save_item(
        self,
        user_id: str,
        thread_id: str,
        fields: Mapping[str, Any],
        tool_calls: Sequence[dict[str, Any]],
        window: int,
    ) -> Row[Any] | None:
        """Insert the item, or replace the one with its id in place (its position is its message id).
        `fields`: item_id, kind, role, content, item, and the title the thread gets if it has none.
        Touches the thread. None when the thread is not the caller's."""
        params = {
            **fields,
            "item": json.dumps(fields["item"]),
            "tool_calls": json.dumps(list(tool_calls)) if tool_calls else None,
            "user_id": user_id,
            "thread_id": thread_id,
            "window": window,
        }
        return (await self.session.execute(_SAVE_ITEM, params)).one_or_none()

    async def items(
        self,
        user_id: str,
        thread_id: str,
        order: Order,
        limit: int,
        after: ItemKey | None = None,
        item: ItemKey | None = None,
    ) -> list[Row[Any]]:
        after_match, after_params = after.match("after") if after is not None else (None, {})
        item_match, item_params = item.match("item") if item is not None else (None, {})
        params = {"user_id": user_id, "thread_id": thread_id, "limit": limit, **after_params, **item_params}
        stmt = _list_items(order, after_match, item_match)
        return list((await self.session.execute(stmt, params)).all())

    async def delete_item(self, user_id: str, thread_id: str, item: ItemKey) -> bool | None:
        """Whether the item was there to delete; None when the thread is not the caller's."""
        match, params = item.match("item")
        stmt = _delete_item(match)
        return (
            await self.session.execute(stmt, {"user_id": user_id, "thread_id": thread_id, **params})
        ).scalar_one_or_none()
