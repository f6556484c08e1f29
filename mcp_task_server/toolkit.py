"""What every tool module shares: annotations, argument types, and the unit of work for a write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastmcp import Context
from mcp_types import ToolAnnotations
from pydantic import AfterValidator, BaseModel, Field, StrictInt
from sqlalchemy.ext.asyncio import AsyncSession

from shared.validation import Id, check_storable

from . import idempotency
from .context import Origin, call_origin, user_session
from .errors import TaskServerError
from .models import IDEMPOTENCY_KEY_MAX

ResultT = TypeVar("ResultT", bound=BaseModel)
Work = Callable[[AsyncSession, str, Origin], Awaitable[ResultT]]

# Every argument type is strict: JSON `true` is not the id 1, and "5" is not the number 5.
TaskId = Annotated[Id, Field(description="The task's id, as shown by list_tasks.")]
# Text PostgreSQL can store (no NUL, no lone surrogate; see shared.validation), checked after a field's own
# length and pattern limits, which so keep their messages ("at most 200 characters") and their place in the
# JSON schema: `Annotated[str, Field(max_length=...), STORABLE]`.
STORABLE = AfterValidator(check_storable)
CursorText = Annotated[str, Field(max_length=512), STORABLE]
IdempotencyKey = Annotated[
    Annotated[
        str, Field(min_length=1, max_length=IDEMPOTENCY_KEY_MAX, pattern=r"^[A-Za-z0-9._:-]+$"), STORABLE
    ]
    | None,
    Field(
        description="Optional. A retry with the same key and arguments within 24 hours returns the first "
        "result and changes nothing.",
    ),
]
ExpectedVersion = Annotated[
    StrictInt | None,
    Field(
        ge=1,
        le=2**31 - 1,
        description="Optional. The task's `version` you last saw; if it changed since, nothing is changed "
        "and the call fails with `conflict` showing the current task.",
    ),
]


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


async def write(
    ctx: Context,
    tool: str,
    key: str | None,
    arguments: Mapping[str, Any],
    result_type: type[ResultT],
    work: Work[ResultT],
    *,
    atomic: bool = False,
) -> ResultT:
    """Run one write as the caller. Without a key, `atomic=False` work is one statement (autocommit);
    with a key, the write and the key's claim with its result are one transaction (idempotency.py)."""
    origin = call_origin(ctx)
    if key is None:
        async with user_session(ctx, atomic=atomic) as (user_id, session):
            return await work(session, user_id, origin)
    try:
        async with user_session(ctx, atomic=True) as (user_id, session):
            return await idempotency.once(
                session, user_id, key, tool, arguments, lambda: work(session, user_id, origin)
            )
    except TaskServerError as failure:  # KeyTaken is one.
        # Rolled back. Either the key was taken, or the work failed, perhaps because the first try of
        # this very call already acted (a task deleted then is not on the list now): replay if so.
        async with user_session(ctx, atomic=False) as (user_id, session):
            replayed = await idempotency.earlier(session, user_id, key, tool, arguments, result_type)
        if replayed is None:
            raise failure
        return replayed
