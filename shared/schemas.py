"""Wire schemas: what the task server's tools return and what the gateway reads back.

The task tools keep the seed's result shape (`task_id`, `status`, `title`) and add the full `task`, so
a client written against the seed still works and a new one gets everything in one call.
"""

from __future__ import annotations

import datetime as dt
import math
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shared.validation import check_storable

# Where a failed tool call's stable `{"code", "message"}` travels: the result's `_meta`, beside the
# message in the text content. (`structuredContent` would be checked against the output schema.)
ERROR_META_KEY = "todo-chat/error"
# What the gateway adds to a tools/call's `_meta`: `{"conversation_id": int, "message_id": int}`, the chat
# turn the call belongs to. The task server records the conversation as the change's client.
TURN_META_KEY = "todo-chat/turn"

TaskStatusFilter = Literal["all", "pending", "completed"]
# What list_tasks can show: the list by status, or the trash.
TaskListFilter = Literal["all", "pending", "completed", "trashed"]
ChangeKind = Literal["create", "update", "complete", "reopen", "delete", "restore", "undo"]
BulkAction = Literal["complete", "delete"]
Role = Literal["user", "assistant"]


class WireModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


Priority = Literal["none", "low", "medium", "high"]
PRIORITY_LEVELS: tuple[Priority, ...] = ("none", "low", "medium", "high")


class DueOut(WireModel):
    """When a task is due, as Todoist's API says it (the fields models know)."""

    date: dt.date = Field(description="The local date, YYYY-MM-DD, in `timezone`.")
    datetime: dt.datetime | None = Field(description="The moment, with its offset; null for all-day.")
    timezone: str = Field(description="The IANA zone the due date was given in.")
    string: str = Field(description="What was asked, e.g. 'every monday at 9am'.")
    is_recurring: bool


class TaskOut(WireModel):
    id: int
    title: str
    description: str | None
    completed: bool
    version: int = Field(description="Goes up by one on every change; pass as expected_version.")
    trashed_at: datetime | None = Field(description="When the task went to the trash; null on the list.")
    created_at: datetime
    updated_at: datetime
    due: DueOut | None = None
    priority: Priority = "none"
    tags: list[str] = Field(default_factory=list)
    completed_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        """A database row has flat `due_*` columns and a priority number; the wire has objects."""
        if isinstance(value, dict) or not hasattr(value, "due_date"):
            return value
        fields = ("id", "title", "description", "completed", "version", "trashed_at", "created_at")
        out: dict[str, Any] = {name: getattr(value, name) for name in fields}
        out["updated_at"] = value.updated_at
        out["completed_at"] = value.completed_at
        out["priority"] = PRIORITY_LEVELS[value.priority or 0]
        out["tags"] = list(value.tags or [])
        out["due"] = None
        if value.due_date is not None and value.due_timezone:
            moment = value.due_datetime
            out["due"] = DueOut(
                date=value.due_date,
                datetime=moment.astimezone(ZoneInfo(value.due_timezone)) if moment is not None else None,
                timezone=value.due_timezone,
                string=value.due_string or "",
                is_recurring=bool(value.due_recurrence),
            )
        return out


class TaskCreated(WireModel):
    task_id: int
    status: Literal["created"] = "created"
    title: str
    task: TaskOut


class TaskCompleted(WireModel):
    task_id: int
    status: Literal["completed"] = "completed"
    title: str
    task: TaskOut


class TaskUpdated(WireModel):
    task_id: int
    status: Literal["updated"] = "updated"
    title: str
    task: TaskOut


class TaskDeleted(WireModel):
    task_id: int
    status: Literal["deleted"] = "deleted"
    title: str
    restorable_until: datetime = Field(description="restore_task or undo brings it back until then.")


class TaskRestored(WireModel):
    task_id: int
    status: Literal["restored"] = "restored"
    title: str
    task: TaskOut


class ChangeOut(WireModel):
    """One entry of the activity log."""

    id: int
    task_id: int
    title: str = Field(description="The task's title after the change.")
    kind: ChangeKind
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    batch: str | None = Field(description="Shared by the changes of one bulk call.")
    reverts: int | None = Field(description="For an undo: the change it reverted.")
    undone: bool = Field(description="True when a later undo reverted this change.")
    client: str
    request_id: str | None
    at: datetime


class ActivityPage(WireModel):
    changes: list[ChangeOut] = Field(description="Newest first.")
    next_cursor: str | None = None


class UndoResult(WireModel):
    status: Literal["undone"] = "undone"
    change_id: int = Field(description="The undo's own change id: undo(change_id) of it redoes.")
    reverted: list[int] = Field(description="The changes this undo reverted.")
    tasks: list[TaskOut] = Field(description="The tasks it touched, as they are now.")
    summary: str


class BulkTask(WireModel):
    id: int
    title: str
    version: int


class BulkResult(WireModel):
    status: Literal["confirmation_required", "completed", "deleted", "nothing_to_do"]
    action: BulkAction
    count: int
    tasks: list[BulkTask]
    confirmation_token: str | None = Field(
        default=None, description="Pass it back, after the user said yes, to act on exactly these tasks."
    )
    expires_at: datetime | None = None
    batch: str | None = Field(default=None, description="Set once done: undo reverts the whole set.")


class TaskPage(WireModel):
    tasks: list[TaskOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null when there are no more."
    )


class ToolCallRecord(WireModel):
    """One tool call the agent made during a turn, as the gateway reports and stores it."""

    name: str = Field(min_length=1, max_length=128)
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    is_error: bool = False


# What a stored tool-call record may hold (record_reply refuses anything else as `invalid_argument`):
# objects and arrays nested at most this deep, text PostgreSQL can store, and integers of at most 64 bits.
TOOL_CALL_MAX_DEPTH = 32
_INT_LIMIT = 2**64


def check_storable_json(value: Any) -> Any:
    """Accept only a JSON value PostgreSQL's jsonb can store and that serializes without recursing deep.

    The walk is iterative, so a value nested thousands deep is refused with a clear message instead of
    exhausting the stack; it never echoes the value back.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, str):
            check_storable(item)
        elif isinstance(item, int):
            if not -_INT_LIMIT < item < _INT_LIMIT:
                raise ValueError("integers must fit in 64 bits")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError("numbers must be finite")
        elif isinstance(item, (dict, list)):
            if depth >= TOOL_CALL_MAX_DEPTH:
                raise ValueError(f"must not nest objects and arrays more than {TOOL_CALL_MAX_DEPTH} deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise ValueError("object keys must be strings")
                    check_storable(key)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)
        else:
            raise ValueError("must be JSON: objects, arrays, strings, numbers, booleans and null")
    return value


class ToolCallInput(ToolCallRecord):
    """A tool-call record as record_reply takes it: the same shape, checked to be storable.

    The gateway builds plain `ToolCallRecord`s from whatever the model produced; validating them here, at
    the task server's boundary, turns an unstorable one into `invalid_argument` instead of an internal error.
    """

    name: Annotated[str, Field(min_length=1, max_length=128), AfterValidator(check_storable)]
    arguments: Annotated[dict[str, Any], AfterValidator(check_storable_json)] = Field(default_factory=dict)
    result: Annotated[Any, AfterValidator(check_storable_json)] = None
    is_error: bool = Field(default=False, strict=True)


class MessageOut(WireModel):
    id: int
    role: Role
    content: str
    tool_calls: list[ToolCallRecord] | None = None
    created_at: datetime


class ConversationOut(WireModel):
    id: int
    thread_id: str = Field(description="The same conversation's id as a ChatKit thread (POST /chatkit).")
    title: str | None
    created_at: datetime
    updated_at: datetime


class TurnStarted(WireModel):
    conversation_id: int
    created: bool = Field(description="True when this call started a new conversation.")
    user_message_id: int
    messages: list[MessageOut] = Field(
        description="The most recent messages, oldest first, ending with the message just stored."
    )


class ReplyRecorded(WireModel):
    conversation_id: int
    message_id: int


class ConversationPage(WireModel):
    conversations: list[ConversationOut]
    next_cursor: str | None = None


class MessagePage(WireModel):
    conversation_id: int
    messages: list[MessageOut] = Field(description="Oldest first.")
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to read older messages; null at the beginning."
    )


# --- ChatKit threads (the gateway's POST /chatkit): a thread is a conversation, its items are messages.

# A thread id or an item id as ChatKit carries them ("thr_…", "msg_…"): short, printable ASCII.
THREAD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ThreadOrder = Literal["asc", "desc"]
# How a stored message reads as a ChatKit item: `user` and `assistant` rows are the conversation's
# messages (what /chat and the agent see); `item` rows are other ChatKit items (widgets, hidden context,
# workflows...), kept whole for ChatKit only.
ItemRole = Literal["user", "assistant", "item"]


class ThreadOut(WireModel):
    thread_id: str
    conversation_id: int
    title: str | None
    created_at: datetime
    updated_at: datetime
    status: dict[str, Any] = Field(default_factory=lambda: {"type": "active"})
    metadata: dict[str, Any] = Field(default_factory=dict)


class ThreadWindow(WireModel):
    thread: ThreadOut
    messages: list[MessageOut] = Field(
        default_factory=list, description="The latest `history_limit` messages, oldest first."
    )


class ThreadPage(WireModel):
    threads: list[ThreadOut]
    has_more: bool
    after: str | None = Field(default=None, description="The last thread id of this page.")


class ThreadDeleted(WireModel):
    thread_id: str
    deleted: bool


class ItemOut(WireModel):
    item_id: str = Field(description='The ChatKit item id; "chat_<message id>" for a message from /chat.')
    thread_id: str
    message_id: int
    role: ItemRole
    kind: str | None = Field(description="The ChatKit item type; null for a message from /chat.")
    content: str
    item: dict[str, Any] | None = Field(description="The whole ChatKit item as stored; null from /chat.")
    tool_calls: list[ToolCallRecord] | None = None
    created_at: datetime


class ItemPage(WireModel):
    items: list[ItemOut]
    has_more: bool
    after: str | None = Field(default=None, description="The last item id of this page.")


class ItemSaved(WireModel):
    thread_id: str
    conversation_id: int
    message_id: int
    created: bool = Field(description="False when an item with this id existed and was replaced.")
    title: str | None = Field(description="The thread's title after the save.")
    messages: list[MessageOut] = Field(
        default_factory=list, description="With `history_limit`: the latest messages, oldest first."
    )


class ItemDeleted(WireModel):
    thread_id: str
    item_id: str
    deleted: bool
