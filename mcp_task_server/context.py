"""What a tool call needs from the running server: the database, and who is calling."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import mcp_types
from fastmcp import Context
from fastmcp.server.dependencies import get_access_token
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.request_id import current_request_id
from shared.schemas import TURN_META_KEY

from .db import unit_of_work
from .errors import StoreUnavailable, Unauthenticated

STATE_KEY = "task_server"
T = TypeVar("T")
_CLIENT_MAX = 200


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a change came from, as the activity log records it."""

    client: str
    request_id: str | None = None


def call_origin(ctx: Context) -> Origin:
    """The gateway's conversation (`chat:12`, from the turn marker it adds to `_meta`), else the MCP
    client's own name (from the request's client info, or the session's `initialize`)."""
    request = ctx.request_context
    meta = (request.meta if request is not None else None) or {}
    turn = meta.get(TURN_META_KEY)
    client = ""
    if isinstance(turn, dict) and isinstance(turn.get("conversation_id"), int):
        client = f"chat:{turn['conversation_id']}"
    if not client:
        info = meta.get(mcp_types.CLIENT_INFO_META_KEY)
        if isinstance(info, dict) and isinstance(info.get("name"), str):
            client = info["name"]
    if not client and request is not None:
        params = getattr(request.session, "client_params", None)
        info = getattr(params, "client_info", None) or getattr(params, "clientInfo", None)
        client = str(getattr(info, "name", "") or "")
    cleaned = "".join(ch for ch in client if ch.isprintable())[:_CLIENT_MAX]
    return Origin(cleaned or "mcp", current_request_id())


@dataclass(frozen=True, slots=True)
class AppState:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    single_statement_sessions: async_sessionmaker[AsyncSession]
    # How long a deleted task stays restorable in the trash.
    trash_retention: timedelta = timedelta(days=30)
    # Set in stdio mode, where there is no token: the one local user every call acts as.
    fixed_user_id: str | None = None


def app_state(ctx: Context) -> AppState:
    state = ctx.lifespan_context.get(STATE_KEY)
    if not isinstance(state, AppState):
        raise RuntimeError("the task server's lifespan has not run")
    return state


def caller_id(state: AppState) -> str:
    """The user a call acts as: the verified token's `sub`, never an argument a model could choose."""
    if state.fixed_user_id is not None:
        return state.fixed_user_id
    token = get_access_token()
    subject = token.subject if token is not None else None
    if not subject:
        raise Unauthenticated()
    return subject


@asynccontextmanager
async def user_session(ctx: Context, *, atomic: bool = True) -> AsyncIterator[tuple[str, AsyncSession]]:
    """The caller's id and a unit of work for one tool call: a transaction when `atomic`, else for
    calls that run a single statement (or only read), autocommit."""
    state = app_state(ctx)
    user_id = caller_id(state)
    async with unit_of_work(state.sessions if atomic else state.single_statement_sessions) as session:
        yield user_id, session


async def read_only(ctx: Context, work: Callable[[str, AsyncSession], Awaitable[T]]) -> T:
    """Run a read, once more if the first try found its pooled connection dead (the database restarted).

    Safe only for reads: a write that lost its connection may or may not have committed, so writes report
    `unavailable` and let the caller decide. SQLAlchemy has discarded the pool by the time we retry.
    """
    try:
        async with user_session(ctx, atomic=False) as (user_id, session):
            return await work(user_id, session)
    except StoreUnavailable as e:
        if not (isinstance(e.__cause__, DBAPIError) and e.__cause__.connection_invalidated):
            raise
    async with user_session(ctx, atomic=False) as (user_id, session):
        return await work(user_id, session)
