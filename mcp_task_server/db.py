"""The database engine and the unit of work.

The engine is built in the server's lifespan, never at import time. One unit of work serves one tool
call: it commits when the call succeeds and rolls back when anything fails.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import SplitResult, urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .errors import InternalError, StoreUnavailable, TaskServerError

logger = logging.getLogger(__name__)

_PLAIN_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg_async"}


def normalize_database_url(url: str) -> str:
    """Turn the URL a provider hands out into one SQLAlchemy runs on psycopg 3.

    `postgres://` and `postgresql://` both become `postgresql+psycopg://`. Query parameters such as
    `sslmode=require` and `channel_binding=require` are libpq's own and pass through unchanged.
    Errors never include the URL, because it carries a password.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as e:
        raise ValueError("DATABASE_URL is not a valid URL (check the host and the port)") from e
    if parts.scheme not in _PLAIN_SCHEMES:
        raise ValueError(
            "DATABASE_URL must start with postgresql:// (other drivers such as asyncpg are not supported)"
        )
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise ValueError("DATABASE_URL must name a database, e.g. postgresql://user@host/dbname")
    return urlunsplit(SplitResult("postgresql+psycopg", parts.netloc, parts.path, parts.query, ""))


def libpq_url(database_url: str) -> str:
    """The URL as libpq (psycopg used directly) takes it: SQLAlchemy's `postgresql+psycopg://` undone."""
    return normalize_database_url(database_url).replace("postgresql+psycopg://", "postgresql://", 1)


class _NoResultRows(logging.Filter):
    """SQLAlchemy's engine logger, once an operator turns it up to DEBUG, prints every result row; rows
    hold task titles and chat text, so they never reach the log, not even with LOG_SENSITIVE=true (the SQL
    does, with its values only when LOG_SENSITIVE=true)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Row %r"


_ENGINE_LOGGER = logging.getLogger("sqlalchemy.engine.Engine")
if not any(isinstance(f, _NoResultRows) for f in _ENGINE_LOGGER.filters):
    _ENGINE_LOGGER.addFilter(_NoResultRows())


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    statement_timeout_ms: int = 5000,
    hide_parameters: bool = True,
    pooled: bool = False,
) -> AsyncEngine:
    """`pooled`: the URL goes through a transaction-mode pooler (PgBouncer, Neon's pooled endpoint),
    which refuses the `options` startup parameter (PgBouncer: "unsupported startup parameter: options")
    and hands each transaction to any server connection, so a statement prepared in one is unknown in the
    next. Then the statement timeout is the role's default (`apply_role_timeout`, over the direct URL) and
    psycopg prepares nothing on the server."""
    connect_args: dict[str, object] = {"connect_timeout": 5, "application_name": "mcp_task_server"}
    if pooled:
        connect_args["prepare_threshold"] = None
    else:
        # A runaway query fails the call instead of holding a connection forever.
        connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return create_async_engine(
        normalize_database_url(url),
        # A fixed pool and no overflow: under a burst, overflow connections are opened for one call and
        # closed after it, and that churn (a backend fork per call) cost more than waiting for a free one.
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=10,
        # No pre-ping: it costs a round trip on every tool call. After a database restart the first call
        # on a dead connection fails as "unavailable, try again", and SQLAlchemy then discards the whole
        # pool, so one call per process sees the restart.
        pool_pre_ping=False,
        pool_recycle=1800,
        # SQL, when an operator turns SQLAlchemy's logger up, and database errors carry the statement
        # without its values: they are task titles and chat text (unless LOG_SENSITIVE=true).
        hide_parameters=hide_parameters,
        connect_args=connect_args,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose unit of work is one transaction (BEGIN ... COMMIT): for work of several statements."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_autocommit_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for work that is a single statement (each is atomic on its own): no BEGIN and COMMIT
    round trips, which are two of the three a single-statement tool call would otherwise make."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False, autoflush=False
    )


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Commit on success, roll back on any failure, and turn failures into the server's own errors.

    Database errors carry SQL and parameters in their text, so they are logged by type only and reach
    the client as `StoreUnavailable` / `InternalError`, never verbatim.
    """
    try:
        async with sessions() as session, session.begin():
            yield session
    except TaskServerError:
        raise
    except (OperationalError, InterfaceError, OSError, TimeoutError) as e:
        logger.error("database unavailable during a tool call: %s", _describe(e))
        raise StoreUnavailable() from e
    except Exception as e:
        # A bug, not bad input: log where it happened only when debugging, because a traceback's
        # locals and SQL can hold user data.
        logger.error(
            "unexpected error in a tool call: %s", _describe(e), exc_info=logger.isEnabledFor(logging.DEBUG)
        )
        raise InternalError() from e


def _describe(error: BaseException) -> str:
    """The error's type and, for driver errors, the SQLSTATE: enough to diagnose, no SQL or values."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        sqlstate = getattr(error.orig, "sqlstate", None)
        return f"{type(error).__name__}({type(error.orig).__name__}, sqlstate={sqlstate})"
    return type(error).__name__


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers a trivial query (the readiness probe)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as e:
        logger.warning("database readiness check failed: %s", type(e).__name__)
        return False
    return True
