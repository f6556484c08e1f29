"""Wire schemas: what the task server's tools return and what the gateway reads back.

The task tools keep the seed's result shape (`task_id`, `status`, `title`) and add the full `task`, so
a client written against the seed still works and a new one gets everything in one call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class TaskOut(WireModel):
    id: int
    title: str
    description: str | None
    completed: bool
    version: int = Field(description="Goes up by one on every change; pass as expected_version.")
    trashed_at: datetime | None = Field(description="When the task went to the trash; null on the list.")
    created_at: datetime
    updated_at: datetime


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


class MessageOut(WireModel):
    id: int
    role: Role
    content: str
    tool_calls: list[ToolCallRecord] | None = None
    created_at: datetime


class ConversationOut(WireModel):
    id: int
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
