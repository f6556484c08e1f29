"""Apply Alembic migrations programmatically (start-up, `python -m mcp_task_server migrate`, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import InterfaceError, OperationalError

_HERE = Path(__file__).resolve().parent


# What connecting fails with: the server down or unknown, the database missing, the login refused.
CANNOT_CONNECT = (OperationalError, InterfaceError, OSError)


class DatabaseUnreachable(Exception):
    """The database cannot be reached or opened; the message names where, never the password."""


def describe_target(database_url: str) -> str:
    """`host:port/dbname` of a DATABASE_URL, for messages: no user, no password, no query."""
    parts = urlsplit(database_url)
    # libpq also takes the host (or a socket directory) from the query: postgresql:///db?host=/run/pg
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    try:
        port = parts.port or 5432
    except ValueError:
        port = 5432
    return f"{host}:{port}/{unquote(parts.path.lstrip('/'))}"


def _reason(error: BaseException, database_url: str) -> str:
    """The driver's own one-line reason (refused, unknown host, no such database), password removed."""
    cause = getattr(error, "orig", None) or error
    reason = " ".join(str(cause).split()) or type(cause).__name__
    password = urlsplit(database_url).password
    if password:
        reason = reason.replace(password, "***").replace(unquote(password), "***")
    return reason


def alembic_config(database_url: str) -> Config:
    config = Config(str(_HERE / "alembic.ini"))
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.attributes["database_url"] = database_url
    # Keep alembic.ini's logging set-up from replacing the service's own.
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Raises `DatabaseUnreachable` when the database cannot be connected to (down, unknown host,
    missing database, refused login): an operator's problem, worth one clear line, not a traceback."""
    try:
        command.upgrade(alembic_config(database_url), revision)
    except CANNOT_CONNECT as e:
        raise cannot_open(database_url, e) from e


def cannot_open(database_url: str, error: BaseException) -> DatabaseUnreachable:
    return DatabaseUnreachable(
        f"cannot open the database at {describe_target(database_url)}: {_reason(error, database_url)}"
    )


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """Alembic's env.py runs its own event loop, so give it a thread of its own."""
    await asyncio.to_thread(upgrade, database_url, revision)
