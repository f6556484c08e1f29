"""The five task tools an agent uses. Their docstrings and field descriptions are written for a model.

None takes a user id: every call acts on the verified caller's own tasks, and another user's task
answers exactly like a missing one. Each runs one SQL statement, so none needs a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastmcp import Context, FastMCP
from fastmcp.tools import FunctionTool, Tool
from mcp_types import ToolAnnotations
from pydantic import Field

from shared.schemas import TaskCompleted, TaskCreated, TaskDeleted, TaskPage, TaskStatusFilter, TaskUpdated

from .context import read_only, user_session
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
    async with user_session(ctx, atomic=False) as (user_id, session):
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
    return await read_only(
        ctx,
        lambda user_id, session: TaskService(TaskRepository(session), user_id).list(status, limit, cursor),
    )


async def complete_task(ctx: Context, task_id: TaskId) -> TaskCompleted:
    """Mark one of the user's tasks as completed (done). Completing a completed task is harmless."""
    async with user_session(ctx, atomic=False) as (user_id, session):
        return await TaskService(TaskRepository(session), user_id).complete(task_id)


async def delete_task(ctx: Context, task_id: TaskId) -> TaskDeleted:
    """Delete one of the user's tasks permanently. Only do this when the user asked to remove it."""
    async with user_session(ctx, atomic=False) as (user_id, session):
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
    async with user_session(ctx, atomic=False) as (user_id, session):
        return await TaskService(TaskRepository(session), user_id).update(
            task_id, title, description, completed
        )


def hints(
    title: str, *, read_only: bool = False, destructive: bool = False, idempotent: bool = False
) -> ToolAnnotations:
    """MCP annotations; none of these tools reaches outside the task store (open_world_hint=False)."""
    return ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


def register_task_tools(mcp: FastMCP) -> list[Tool]:
    specs: list[tuple[Callable[..., Any], ToolAnnotations]] = [
        (add_task, hints("Add task")),
        (list_tasks, hints("List tasks", read_only=True, idempotent=True)),
        (complete_task, hints("Complete task", idempotent=True)),
        (delete_task, hints("Delete task", destructive=True, idempotent=True)),
        (update_task, hints("Update task", destructive=True, idempotent=True)),
    ]
    return [
        mcp.add_tool(FunctionTool.from_function(fn, tags={TASK_TAG}, annotations=annotations))
        for fn, annotations in specs
    ]
