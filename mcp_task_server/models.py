"""Tables owned by the task server. Changed only through Alembic migrations (see migrations/)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
USER_ID_MAX = 255
CONVERSATION_TITLE_MAX = 200
MESSAGE_MAX = 32_000
# A ChatKit thread id or item id (shared.schemas.THREAD_ID_PATTERN), and a ChatKit item type.
THREAD_ID_MAX = 64
ITEM_KIND_MAX = 40
# 'thr_' and 32 hex digits: 122 random bits (ChatKit's own default id has 32, which can be guessed).
THREAD_ID_DEFAULT = "'thr_' || replace(gen_random_uuid()::text, '-', '')"
# Message roles: the conversation's own (what /chat and the agent read), then other ChatKit items.
CHAT_ROLES = ("user", "assistant")
MESSAGE_ROLES = (*CHAT_ROLES, "item")
IDEMPOTENCY_KEY_MAX = 200
TIMEZONE_MAX = 64
DUE_STRING_MAX = 200
TAG_MAX = 50
TAGS_MAX = 20
PRIORITIES = ("none", "low", "medium", "high")
CHANGE_KINDS = ("create", "update", "complete", "reopen", "delete", "restore", "undo")
BULK_ACTIONS = ("complete", "delete")

# Stable constraint names, so a migration can refer to a constraint by name on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str | None] = mapped_column(String(DESCRIPTION_MAX))
    completed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Every change adds one, so a client can say which state it saw (`expected_version`).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Set while the task is in the trash; purged TRASH_RETENTION_DAYS later.
    trashed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Due: the local date (and instant, when it has a time) in the zone it was given in, what was asked,
    # and the recurrence rule (shared.dates.Recurrence.to_text) of a recurring task.
    due_date: Mapped[date | None] = mapped_column(Date)
    due_datetime: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_timezone: Mapped[str | None] = mapped_column(String(TIMEZONE_MAX))
    due_string: Mapped[str | None] = mapped_column(String(DUE_STRING_MAX))
    due_recurrence: Mapped[str | None] = mapped_column(String(64))
    # 0 none, 1 low, 2 medium, 3 high (PRIORITIES), so sorting by it is sorting by importance.
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(TAG_MAX)), default=list, server_default="{}")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Only for `WHERE search @@ ...`: never loaded with the task (it is the widest column of the row).
    # Its last lexeme is the owner's (OWNER_LEXEME), so the GIN index answers one user's search alone.
    search: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('simple', title || ' ' || coalesce(description, '')) "
            "|| array_to_tsvector(ARRAY['~' || md5(user_id)])",
            persisted=True,
        ),
        deferred=True,
    )

    __table_args__ = (
        CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
        CheckConstraint("priority BETWEEN 0 AND 3", name="priority_range"),
        CheckConstraint("cardinality(tags) <= 20", name="tags_count"),
        CheckConstraint("(due_date IS NULL) = (due_timezone IS NULL)", name="due_complete"),
        # The due order: day, time in it (all-day after timed), id; undated last (repository.due_day).
        Index(
            "ix_tasks_user_due_order",
            "user_id",
            text("coalesce(due_date, 'infinity'::date)"),
            text("coalesce(due_datetime, 'infinity'::timestamptz)"),
            "id",
            postgresql_where=text("trashed_at IS NULL"),
        ),
        Index(
            "ix_tasks_user_priority_id",
            "user_id",
            "priority",
            "id",
            postgresql_where=text("trashed_at IS NULL"),
        ),
        Index(
            "ix_tasks_user_completed_at",
            "user_id",
            "completed_at",
            postgresql_where=text("trashed_at IS NULL"),
        ),
        Index("ix_tasks_tags", "tags", postgresql_using="gin", postgresql_where=text("trashed_at IS NULL")),
        Index(
            "ix_tasks_search", "search", postgresql_using="gin", postgresql_where=text("trashed_at IS NULL")
        ),
        # The hot path: one user's tasks on the list (not in the trash), filtered by status, paged by id.
        Index(
            "ix_tasks_user_completed_id",
            "user_id",
            "completed",
            "id",
            postgresql_where=text("trashed_at IS NULL"),
        ),
        Index("ix_tasks_user_id_id", "user_id", "id", postgresql_where=text("trashed_at IS NULL")),
        # The trash: one user's trashed tasks, and the purge's scan for the oldest.
        Index("ix_tasks_user_trash_id", "user_id", "id", postgresql_where=text("trashed_at IS NOT NULL")),
        Index("ix_tasks_trashed_at", "trashed_at", postgresql_where=text("trashed_at IS NOT NULL")),
    )


class UserSettings(Base):
    """What the task server remembers about a user: the last time zone a call gave."""

    __tablename__ = "user_settings"

    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_MAX))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TaskChange(Base):
    """The activity log: one row per change to one task, written in the same statement or transaction as
    the change. `before`/`after` hold only the fields the change touched (title, description, completed,
    trashed); a create has no `before`. Rows outlive a purged task (there is no foreign key), so the log
    still tells what happened to it."""

    __tablename__ = "task_changes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX))
    task_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    # The task's title after the change, so the log reads well after later renames or a purge.
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Shared by every row of one bulk call (and of the undo of one), so the set is undone as one.
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # For an undo: the change it reverted. On a reverted change: the undo that reverted it.
    reverts: Mapped[int | None] = mapped_column(BigInteger)
    undone_by: Mapped[int | None] = mapped_column(BigInteger)
    client: Mapped[str] = mapped_column(String(200), server_default="")
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{kind}'" for kind in CHANGE_KINDS) + ")", name="kind"),
        # A user's recent changes (newest first), and one task's history.
        Index("ix_task_changes_user_id_id", "user_id", "id"),
        Index("ix_task_changes_user_task_id", "user_id", "task_id", "id"),
        Index("ix_task_changes_batch_id", "batch_id", postgresql_where=text("batch_id IS NOT NULL")),
        Index("ix_task_changes_created_at", "created_at"),
    )


class IdempotencyKey(Base):
    """The first result of a write made with an `idempotency_key`, replayed for 24 hours."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX))
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_MAX))
    tool: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the tool's other arguments: the same key with other arguments is a client bug.
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        PrimaryKeyConstraint("user_id", "key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )


class BulkConfirmation(Base):
    """A bulk call's preview: the exact set (task id -> version) a confirmation token stands for.
    Only the token's SHA-256 is stored, so a database reader cannot confirm anything."""

    __tablename__ = "bulk_confirmations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX))
    action: Mapped[str] = mapped_column(String(16))
    tasks: Mapped[dict[str, int]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "action IN (" + ", ".join(f"'{action}'" for action in BULK_ACTIONS) + ")", name="action"
        ),
        Index("ix_bulk_confirmations_expires_at", "expires_at"),
    )


class Conversation(Base):
    """A chat conversation, which is also a ChatKit thread (POST /chatkit): one store for both."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX))
    # The conversation's id as a ChatKit thread: generated (THREAD_ID_DEFAULT), or ChatKit's own.
    thread_id: Mapped[str] = mapped_column(String(THREAD_ID_MAX), server_default=text(THREAD_ID_DEFAULT))
    title: Mapped[str | None] = mapped_column(String(CONVERSATION_TITLE_MAX))
    # ChatKit's `status` and `metadata` of the thread; null until ChatKit saves any. Only the thread tools
    # read it, so loading a conversation does not.
    thread_meta: Mapped[dict[str, Any] | None] = mapped_column(JSONB, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        # A user's conversations, most recently active first.
        Index("ix_conversations_user_updated", "user_id", "updated_at", "id"),
        # A user's threads in creation order (list_threads), and a thread by its id.
        Index("ix_conversations_user_id_id", "user_id", "id"),
        Index("ix_conversations_thread_id", "thread_id", unique=True),
    )


class Message(Base):
    """One item of a conversation. `user` and `assistant` messages are what /chat and the agent read;
    `item` rows are the other ChatKit items (widgets, tool calls, ...), kept whole for ChatKit only.
    A message saved through ChatKit also keeps its item id, type (`kind`) and JSON (`item`)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(USER_ID_MAX))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    item_id: Mapped[str | None] = mapped_column(String(THREAD_ID_MAX))
    kind: Mapped[str | None] = mapped_column(String(ITEM_KIND_MAX))
    item: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{role}'" for role in MESSAGE_ROLES) + ")", name="role"),
        # Loading a turn reads the latest N messages of one conversation: newest first by id.
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # An item id names one item of its thread; ChatKit saving it again replaces it in place.
        Index(
            "ix_messages_conversation_id_item_id",
            "conversation_id",
            "item_id",
            unique=True,
            postgresql_where=text("item_id IS NOT NULL"),
        ),
    )
