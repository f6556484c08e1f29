"""The five task tools an agent uses. Their docstrings and field descriptions are written for a model.

None takes a user id: every call acts on the verified caller's own tasks, and another user's task
answers exactly like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context, FastMCP
from mcp_types import ToolAnnotations
from pydantic import Field

from shared.schemas import TaskCompleted, TaskCreated, TaskDeleted, TaskPage, TaskStatusFilter, TaskUpdated

from .context import user_session
from .models import DESCRIPTION_MAX, TITLE_MAX
from .repository import TaskRepository
from .service import TaskService

TASK_TAG = "tasks"

TaskId = Annotated[int, Field(gt=0, le=2**63 - 1, description="The task's id, as shown by list_tasks.")]
Title = Annotated[
    str, Field(min_length=1, max_length=TITLE_MAX, description="Short task title, 1-200 characters.")
]
Description = Annotated[
    str, Field(max_length=DESCRIPTION_MAX, description="Optional details, up to 2000 characters.")
]


async def add_task(ctx: Context, title: Title, description: Description | None = None) -> TaskCreated:
    """Create a new task for the user, e.g. "buy milk" or "call mom tomorrow".

    Use the user's own words for the title; put extra detail in `description`.
    Returns the new task's id, which later calls use to refer to it.
    """
    async with user_session(ctx) as (user_id, session):
        return await TaskService(TaskRepository(session), user_id).add(title, description)


async def list_tasks(
    ctx: Context,
    status: Annotated[
        TaskStatusFilter,
        Field(description='"pending" for tasks not yet done, "completed" for done ones, "all" for both.'),
    ] = "all",
    limit: Annotated[int, Field(ge=1, le=100, description="Most tasks to return in this page.")] = 50,
    cursor: Annotated[
        str | None,
        Field(max_length=512, description="`next_cursor` from a previous call, to get the next page."),
    ] = None,
) -> TaskPage:
    """List the user's tasks, oldest first, with their ids, titles and whether they are completed.

    Call this to answer "what's on my list?" and to find a task's id from its title before acting on it.
    When `next_cursor` is not null there are more tasks: call again with it as `cursor`.
    """
    async with user_session(ctx) as (user_id, session):
        return await TaskService(TaskRepository(session), user_id).list(status, limit, cursor)


async def complete_task(ctx: Context, task_id: TaskId) -> TaskCompleted:
    """Mark one of the user's tasks as completed (done). Completing a completed task is harmless."""
    async with user_session(ctx) as (user_id, session):
        return await TaskService(TaskRepository(session), user_id).complete(task_id)


async def delete_task(ctx: Context, task_id: TaskId) -> TaskDeleted:
    """Delete one of the user's tasks permanently. Only do this when the user asked to remove it."""
    async with user_session(ctx) as (user_id, session):
        return await TaskService(TaskRepository(session), user_id).delete(task_id)


async def update_task(
    ctx: Context,
    task_id: TaskId,
    title: Title | None = None,
    description: Annotated[
        str | None,
        Field(max_length=DESCRIPTION_MAX, description='New details, up to 2000 characters; "" clears them.'),
    ] = None,
    completed: Annotated[
        bool | None, Field(description="false reopens a completed task; true marks it done.")
    ] = None,
) -> TaskUpdated:
    """Change a task's title, description or completed state. Give only what should change."""
    async with user_session(ctx) as (user_id, session):
        return await TaskService(TaskRepository(session), user_id).update(
            task_id, title, description, completed
        )


def register_task_tools(mcp: FastMCP) -> None:
    tags = {TASK_TAG}
    mcp.tool(
        add_task,
        tags=tags,
        annotations=ToolAnnotations(
            title="Add task",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    mcp.tool(
        list_tasks,
        tags=tags,
        annotations=ToolAnnotations(
            title="List tasks",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    mcp.tool(
        complete_task,
        tags=tags,
        annotations=ToolAnnotations(
            title="Complete task",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    mcp.tool(
        delete_task,
        tags=tags,
        annotations=ToolAnnotations(
            title="Delete task",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    mcp.tool(
        update_task,
        tags=tags,
        annotations=ToolAnnotations(
            title="Update task",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
