"""`python -m mcp_task_server [--stdio | migrate | purge | backup FILE | restore FILE | token]`.

- no argument: serve MCP over streamable HTTP at http://TASK_SERVER_HOST:TASK_SERVER_PORT/mcp
- `--stdio`: serve MCP over stdio (Claude Desktop on the same machine); the user is MCP_STDIO_USER_ID
- `migrate`: apply pending database migrations and exit
- `purge`: delete what is past its retention (trash, activity log, idempotency keys) once, and exit
- `backup FILE`: write the whole database, from one snapshot, to FILE (a zip) and exit
- `restore FILE [--replace]`: load FILE into an empty database, migrate it to this release's schema, and exit
- `token`: print a token for local development (only when no identity provider is configured)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import timedelta

from shared.local_auth import LocalSigner
from shared.logging import configure_logging
from shared.settings import load_or_exit

from .backup import add_commands as add_backup_commands
from .backup import run_command as run_backup_command
from .migrate import CANNOT_CONNECT, DatabaseUnreachable, cannot_open, upgrade
from .pooling import keep_statement_timeout
from .settings import TaskServerSettings

logger = logging.getLogger("mcp_task_server")

PROGRAM = "mcp_task_server"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mcp_task_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stdio", action="store_true", help="serve MCP over stdio instead of HTTP")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("migrate", help="apply pending migrations and exit")
    sub.add_parser("purge", help="purge the trash and old activity once, and exit")
    add_backup_commands(sub)
    token = sub.add_parser("token", help="print a local development token")
    token.add_argument("--user", default=None, help="the token's subject (default: the demo user)")
    token.add_argument("--hours", type=float, default=12.0, help="lifetime in hours (default 12)")
    return parser.parse_args(argv)


def _migrate(settings: TaskServerSettings) -> None:
    try:
        # Over the direct URL when there is one (a pooler keeps no session for Alembic's lock); behind a
        # transaction-mode pooler the statement timeout becomes the role's default (pooling.py).
        upgrade(settings.migration_url())
        if settings.pooled:
            keep_statement_timeout(settings.migration_url(), settings.db_statement_timeout_ms)
    except ValueError as e:
        print(f"mcp_task_server: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except DatabaseUnreachable as e:
        print(f"mcp_task_server: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    logger.info("database schema is up to date")


def _purge(settings: TaskServerSettings) -> None:
    from .db import create_engine, create_sessionmaker
    from .purge import purge_once

    async def run() -> None:
        engine = create_engine(settings.sqlalchemy_url(), pool_size=1, pooled=settings.pooled)
        try:
            purged = await purge_once(
                create_sessionmaker(engine), settings.trash_retention_days, settings.activity_retention_days
            )
        finally:
            await engine.dispose()
        if not purged.ran:
            print("another replica is purging right now; nothing done")
            return
        print("purged: " + ", ".join(f"{n} {name}" for name, n in purged.counts.items()))

    try:
        asyncio.run(run())
    except CANNOT_CONNECT as e:
        print(f"mcp_task_server: {cannot_open(settings.sqlalchemy_url(), e)}", file=sys.stderr)
        raise SystemExit(1) from None


def _serve_http(settings: TaskServerSettings) -> None:
    from shared.serve import listen, serve, starting

    from .server import create_http_app

    with starting(PROGRAM):
        # Bound before the migrations run, so that a port in use fails at once, in one line.
        listener = listen(
            settings.task_server_host,
            settings.task_server_port,
            host_setting="TASK_SERVER_HOST",
            port_setting="TASK_SERVER_PORT",
        )
    if settings.migrate_on_start:
        _migrate(settings)
    with starting(PROGRAM):
        app = create_http_app(settings)
    logger.info("serving MCP at %s/mcp", settings.public_url)
    serve(app, listener, settings.log_level, drain_seconds=settings.shutdown_drain_seconds)


def _serve_stdio(settings: TaskServerSettings) -> None:
    from shared.serve import starting

    from .server import create_server

    if settings.migrate_on_start:
        _migrate(settings)
    with starting(PROGRAM):
        mcp, _ = create_server(settings, stdio=True)
    asyncio.run(mcp.run_async(transport="stdio", show_banner=False))


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    settings = load_or_exit(TaskServerSettings, "mcp_task_server")
    configure_logging(
        settings.log_level, sensitive=settings.log_sensitive, json_format=settings.log_format == "json"
    )

    if args.command == "token":
        if not settings.local_auth:
            print(
                "mcp_task_server: tokens come from your identity provider (AUTH_JWKS_URL is set)",
                file=sys.stderr,
            )
            raise SystemExit(2)
        signer = LocalSigner.load_or_create(settings.data_dir)
        print(signer.mint(args.user or settings.mcp_stdio_user_id, ttl=timedelta(hours=args.hours)))
        return
    if not settings.database_url:
        print(
            "mcp_task_server: DATABASE_URL is not set (`make run` starts a local PostgreSQL)", file=sys.stderr
        )
        raise SystemExit(2)
    if args.command == "migrate":
        _migrate(settings)
        return
    if args.command == "purge":
        _purge(settings)
        return
    if args.command in ("backup", "restore"):
        run_backup_command(args, settings)
        return
    if args.stdio:
        _serve_stdio(settings)
    else:
        _serve_http(settings)


if __name__ == "__main__":
    main()
