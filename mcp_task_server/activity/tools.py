"""The activity log and undo, as tools. Their docstrings are written for a model."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context, FastMCP
from fastmcp.tools import FunctionTool, Tool
from pydantic import Field, StrictInt
from sqlalchemy.ext.asyncio import AsyncSession

from shared.schemas import ActivityPage, UndoResult
from shared.validation import Id

from ..context import Origin, read_only
from ..tasks.repository import TaskRepository
from ..tasks.tools import TASK_TAG
from ..toolkit import CursorText, IdempotencyKey, hints, write
from .repository import ActivityRepository
from .service import ActivityService


def _service(session: AsyncSession, user_id: str, origin: Origin) -> ActivityService:
    return ActivityService(ActivityRepository(session), TaskRepository(session), user_id, origin)


async def undo(
    ctx: Context,
    change_id: Annotated[
        Id | None,
        Field(
            description="Optional: the change to revert, from list_activity. Omit it to revert the latest.",
        ),
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> UndoResult:
    """Revert the user's latest change that is still in effect, or the change `change_id` names.

    Undo restores a deleted task, reopens a completed one, puts back a title or description, and moves a
    just-added task to the trash. A change made by complete_tasks / delete_tasks is reverted with its
    whole set in one step. Undo skips earlier undos, so calling it twice goes back two steps; to redo,
    pass the id of the undo itself. If a later change overtook the change (say, the task was renamed
    again), nothing is reverted and the call fails with `conflict` saying what is in the way. The result's
    `summary` says exactly what came back: tell the user."""
    return await write(
        ctx, "undo", idempotency_key, {"change_id": change_id}, UndoResult,
        lambda s, u, o: _service(s, u, o).undo(change_id),
        atomic=True,
    )  # fmt: skip


async def list_activity(
    ctx: Context,
    task_id: Annotated[Id | None, Field(description="Only this task's history; omit for all tasks.")] = None,
    limit: Annotated[StrictInt, Field(ge=1, le=100, description="Most changes to return.")] = 20,
    cursor: Annotated[
        CursorText | None, Field(description="`next_cursor` from a previous call: older changes.")
    ] = None,
) -> ActivityPage:
    """The user's recent changes to their tasks, newest first: what changed (before and after), when,
    from which client, and whether it was undone. Use it to answer "what did I change?" and to find the
    `change_id` of a change to undo."""
    return await read_only(
        ctx, lambda user_id, session: _service(session, user_id, Origin("")).page(task_id, limit, cursor)
    )


def register_activity_tools(mcp: FastMCP) -> list[Tool]:
    return [
        mcp.add_tool(FunctionTool.from_function(undo, tags={TASK_TAG}, annotations=hints("Undo"))),
        mcp.add_tool(
            FunctionTool.from_function(
                list_activity,
                tags={TASK_TAG},
                annotations=hints("List activity", read_only=True, idempotent=True),
            )
        ),
    ]
