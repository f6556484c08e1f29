"""The task tools an agent uses. Their docstrings and field descriptions are written for a model.

None takes a user id: every call acts on the verified caller's own tasks, and another user's task
answers exactly like a missing one. A single-task change and its activity record are one SQL statement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastmcp import Context, FastMCP
from fastmcp.tools import FunctionTool, Tool
from mcp_types import ToolAnnotations
from pydantic import Field, StrictBool, StrictInt
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schemas import (
    BulkResult,
    Priority,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskListFilter,
    TaskPage,
    TaskRestored,
    TaskStatusFilter,
    TaskUpdated,
)
from shared.validation import Id

from ..context import Origin, app_state, read_only
from ..models import DESCRIPTION_MAX, DUE_STRING_MAX, TAG_MAX, TAGS_MAX, TIMEZONE_MAX, TITLE_MAX
from ..toolkit import STORABLE, CursorText, ExpectedVersion, IdempotencyKey, TaskId, hints, write
from .bulk import BULK_LIMIT, BulkService
from .repository import ConfirmationRepository, TaskRepository
from .service import DueFilter, ListRequest, TaskService, TaskSort

TASK_TAG = "tasks"

Title = Annotated[
    str,
    Field(min_length=1, max_length=TITLE_MAX, description="Short task title, 1-200 characters."),
    STORABLE,
]
Description = Annotated[
    str, Field(max_length=DESCRIPTION_MAX, description="Optional details, up to 2000 characters."), STORABLE
]
BulkIds = Annotated[
    list[Id] | None,
    Field(
        min_length=1,
        max_length=BULK_LIMIT,
        description=f"The tasks to act on, by id (1-{BULK_LIMIT}). Or give `status` instead.",
    ),
]
BulkStatus = Annotated[
    TaskStatusFilter | None,
    Field(description='Act on every task on the list with this status: "all", "pending" or "completed".'),
]
# The gist of shared.dates.AMBIGUITY_RULES (all of it is in docs/tools.md): every tool list costs every turn.
DUE_RULES = (
    "A weekday or a date without a year is the next one, today included ('next friday' never today); "
    "hours are 24-hour unless am/pm is given ('5pm'); numeric dates only as ISO (2026-12-24)."
)
DueText = Annotated[
    Annotated[str, Field(max_length=DUE_STRING_MAX), STORABLE] | None,
    Field(
        description='When it is due, in words or ISO 8601: "tomorrow at 9", "next friday", "in 3 days", '
        '"dec 24", "end of month", "every monday at 9am", "every weekday", "2026-12-24T09:00". ' + DUE_RULES
    ),
]
PriorityArg = Annotated[Priority | None, Field(description='"none", "low", "medium" or "high".')]
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=TAG_MAX + 1), STORABLE]] | None,
    Field(max_length=TAGS_MAX, description='Labels such as "work" or "groceries" (a leading # is dropped).'),
]
TimeZoneArg = Annotated[
    Annotated[str, Field(min_length=1, max_length=TIMEZONE_MAX), STORABLE] | None,
    Field(
        description="The user's IANA time zone, e.g. Europe/Berlin, for reading and showing dates. "
        "Default: the last one given, else UTC."
    ),
]
DayText = Annotated[str, Field(pattern=r"^(?:\d{4}-\d{2}-\d{2}|today|yesterday|tomorrow)$")]
ConfirmationToken = Annotated[
    Annotated[str, Field(min_length=1, max_length=200), STORABLE] | None,
    Field(
        description="The token a preview returned. Send it only after the user saw the preview and said "
        "yes; then pass only this (no task_ids or status).",
    ),
]


def _service(ctx: Context, session: AsyncSession, user_id: str, origin: Origin) -> TaskService:
    return TaskService(TaskRepository(session), user_id, origin, app_state(ctx).trash_retention)


async def add_task(
    ctx: Context,
    title: Title,
    description: Description | None = None,
    due: DueText = None,
    priority: PriorityArg = None,
    tags: Tags = None,
    timezone: TimeZoneArg = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskCreated:
    """Create a new task for the user, e.g. "buy milk" or "call mom" due "tomorrow at 9".

    Use the user's own words for the title, without the date (that goes in `due`); put extra detail in
    `description`. Returns the new task's id, which later calls use to refer to it, and its due date as
    resolved (date, time, zone).
    """
    arguments = {
        "title": title, "description": description, "due": due, "priority": priority, "tags": tags,
        "timezone": timezone,
    }  # fmt: skip
    return await write(
        ctx, "add_task", idempotency_key, arguments, TaskCreated,
        lambda session, user_id, origin: _service(ctx, session, user_id, origin).add(
            title, description, due, priority, tags, timezone
        ),
    )  # fmt: skip


async def list_tasks(
    ctx: Context,
    status: Annotated[
        TaskListFilter,
        Field(
            description='"pending" for tasks not yet done, "completed" for done ones, "all" for both; '
            '"trashed" for deleted tasks still in the trash (restore_task brings one back).'
        ),
    ] = "all",
    due: Annotated[
        DueFilter | None,
        Field(description='"overdue", "today", "tomorrow", "next_7_days", "no_date" or "any_date".'),
    ] = None,
    due_from: Annotated[
        DayText | None, Field(description='Due on or after this date: YYYY-MM-DD, "today", "tomorrow"...')
    ] = None,
    due_to: Annotated[
        DayText | None, Field(description="Due on or before this date (the same forms).")
    ] = None,
    tag: Annotated[
        Annotated[str, Field(min_length=1, max_length=TAG_MAX + 1), STORABLE] | None,
        Field(description="Only tasks with this tag."),
    ] = None,
    priority: Annotated[Priority | None, Field(description="Only tasks of this priority.")] = None,
    query: Annotated[
        Annotated[str, Field(min_length=1, max_length=200), STORABLE] | None,
        Field(description='Words to find in the title or description ("mortg" finds "mortgage").'),
    ] = None,
    completed_from: Annotated[
        DayText | None,
        Field(
            description='Completed on or after this day: YYYY-MM-DD, "today" or "yesterday" (user\'s zone).'
        ),
    ] = None,
    completed_to: Annotated[
        DayText | None, Field(description="Completed on or before this day (the same forms).")
    ] = None,
    sort: Annotated[
        TaskSort | None,
        Field(
            description='"created" (oldest first), "due" (soonest first, by time within a day, undated last) '
            'or "priority". Default: "due" when filtering by due date, else "created".'
        ),
    ] = None,
    timezone: TimeZoneArg = None,
    limit: Annotated[StrictInt, Field(ge=1, le=100, description="Most tasks to return in this page.")] = 50,
    cursor: Annotated[
        CursorText | None, Field(description="`next_cursor` from a previous call, to get the next page.")
    ] = None,
) -> TaskPage:
    """List the user's tasks with their ids, titles, due dates, priorities, tags and whether they are
    done; filters combine. "What's due today?" is due="today"; "what did I finish yesterday?" is
    status="completed" with completed_from and completed_to both "yesterday".

    Call this to answer "what's on my list?" and to find a task's id from its title before acting on it.
    Deleted tasks are not shown unless status is "trashed". When `next_cursor` is not null there are
    more tasks: call again with it (and the same filters) as `cursor`.
    """
    request = ListRequest(
        status, due, due_from, due_to, tag, priority, query, completed_from, completed_to, sort, timezone
    )
    return await read_only(
        ctx,
        lambda user_id, session: TaskService(
            TaskRepository(session), user_id, Origin(""), app_state(ctx).trash_retention
        ).list(request, limit, cursor),
    )


async def complete_task(
    ctx: Context,
    task_id: TaskId,
    forever: Annotated[
        StrictBool, Field(description="For a recurring task: end the recurrence and complete it for good.")
    ] = False,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskCompleted:
    """Mark one of the user's tasks as completed (done). Completing a completed task is harmless.
    A recurring task instead moves to its next occurrence and stays on the list (unless `forever`).

    To complete several tasks at once use complete_tasks, which asks the user to confirm first."""
    arguments = {"task_id": task_id, "forever": forever, "expected_version": expected_version}
    return await write(
        ctx, "complete_task", idempotency_key, arguments, TaskCompleted,
        lambda s, u, o: _service(ctx, s, u, o).complete(task_id, expected_version, forever),
    )  # fmt: skip


async def delete_task(
    ctx: Context,
    task_id: TaskId,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskDeleted:
    """Delete one of the user's tasks: it moves to the trash, where restore_task or undo can bring it
    back for 30 days. Only do this when the user asked to remove that task.

    To delete several tasks use delete_tasks, which asks the user to confirm first."""
    return await write(
        ctx, "delete_task", idempotency_key, {"task_id": task_id, "expected_version": expected_version},
        TaskDeleted,
        lambda s, u, o: _service(ctx, s, u, o).delete(task_id, expected_version),
    )  # fmt: skip


async def update_task(
    ctx: Context,
    task_id: TaskId,
    title: Title | None = None,
    description: Annotated[
        Annotated[str, Field(max_length=DESCRIPTION_MAX), STORABLE] | None,
        Field(description='New details, up to 2000 characters; "" clears them.'),
    ] = None,
    completed: Annotated[
        StrictBool | None, Field(description="false reopens a completed task; true marks it done.")
    ] = None,
    due: Annotated[DueText, Field(description='A new due date in words or ISO 8601; "" removes it.')] = None,
    priority: PriorityArg = None,
    tags: Annotated[
        Tags, Field(description="The task's tags from now on (replaces them; [] removes all).")
    ] = None,
    timezone: TimeZoneArg = None,
    expected_version: ExpectedVersion = None,
    idempotency_key: IdempotencyKey = None,
) -> TaskUpdated:
    """Change a task's title, description, due date, priority, tags or completed state. Give only what
    should change. Moving a recurring task's date keeps its recurrence when the new text has none."""
    arguments = {
        "task_id": task_id, "title": title, "description": description, "completed": completed,
        "due": due, "priority": priority, "tags": tags, "timezone": timezone,
        "expected_version": expected_version,
    }  # fmt: skip
    return await write(
        ctx, "update_task", idempotency_key, arguments, TaskUpdated,
        lambda s, u, o: _service(ctx, s, u, o).update(
            task_id, title, description, completed, expected_version, due, priority, tags, timezone
        ),
    )  # fmt: skip


async def restore_task(ctx: Context, task_id: TaskId, idempotency_key: IdempotencyKey = None) -> TaskRestored:
    """Bring a deleted task back from the trash to the list, as it was. list_tasks with status
    "trashed" shows what is in the trash."""
    return await write(
        ctx, "restore_task", idempotency_key, {"task_id": task_id}, TaskRestored,
        lambda s, u, o: _service(ctx, s, u, o).restore(task_id),
    )  # fmt: skip


async def _bulk(
    ctx: Context,
    action: str,
    task_ids: list[int] | None,
    status: TaskStatusFilter | None,
    confirmation_token: str | None,
    idempotency_key: str | None,
) -> BulkResult:
    arguments = {"task_ids": task_ids, "status": status, "confirmation_token": confirmation_token}
    return await write(
        ctx, f"{action}_tasks", idempotency_key, arguments, BulkResult,
        lambda s, u, o: BulkService(TaskRepository(s), ConfirmationRepository(s), u, o).run(
            action, task_ids, status, confirmation_token  # type: ignore[arg-type]
        ),
        atomic=True,
    )  # fmt: skip


async def complete_tasks(
    ctx: Context,
    task_ids: BulkIds = None,
    status: BulkStatus = None,
    confirmation_token: ConfirmationToken = None,
    idempotency_key: IdempotencyKey = None,
) -> BulkResult:
    """Mark several tasks as done, in two steps; nothing changes on the first call.

    1. Call with `task_ids`, or with `status` ("all" = everything on the list): you get a preview (the
       count and the tasks) and a `confirmation_token`. Show the user the preview and ask them to confirm.
    2. Only after the user says yes, call again with just `confirmation_token` (valid 10 minutes). All the
       tasks are completed together, or none if any changed since the preview (`conflict`: preview again).
    `undo` then reopens the whole set in one step."""
    return await _bulk(ctx, "complete", task_ids, status, confirmation_token, idempotency_key)


async def delete_tasks(
    ctx: Context,
    task_ids: BulkIds = None,
    status: BulkStatus = None,
    confirmation_token: ConfirmationToken = None,
    idempotency_key: IdempotencyKey = None,
) -> BulkResult:
    """Move several tasks to the trash, in two steps; nothing changes on the first call.

    1. Call with `task_ids`, or with `status` ("all" = everything on the list, "completed" = the done
       ones): you get a preview (the count and the tasks) and a `confirmation_token`. Show the user the
       preview and ask them to confirm.
    2. Only after the user says yes, call again with just `confirmation_token` (valid 10 minutes). All the
       tasks go to the trash together, or none if any changed since the preview (`conflict`).
    `undo` then brings the whole set back in one step."""
    return await _bulk(ctx, "delete", task_ids, status, confirmation_token, idempotency_key)


def register_task_tools(mcp: FastMCP) -> list[Tool]:
    specs: list[tuple[Callable[..., Any], ToolAnnotations]] = [
        (add_task, hints("Add task")),
        (list_tasks, hints("List tasks", read_only=True, idempotent=True)),
        (complete_task, hints("Complete task", idempotent=True)),
        (delete_task, hints("Delete task", destructive=True, idempotent=True)),
        (update_task, hints("Update task", destructive=True, idempotent=True)),
        (restore_task, hints("Restore task", idempotent=True)),
        (complete_tasks, hints("Complete several tasks", destructive=True)),
        (delete_tasks, hints("Delete several tasks", destructive=True)),
    ]
    return [
        mcp.add_tool(FunctionTool.from_function(fn, tags={TASK_TAG}, annotations=annotations))
        for fn, annotations in specs
    ]
