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

TaskStatusFilter = Literal["all", "pending", "completed"]
Role = Literal["user", "assistant"]


class WireModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class TaskOut(WireModel):
    id: int
    title: str
    description: str | None
    completed: bool
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
