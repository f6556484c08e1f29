"""Working behind a transaction-mode pooler (PgBouncer, Neon's pooled endpoint).

Such a pooler hands each transaction to whichever server connection is free, so nothing may live in a
session: no startup `options` (PgBouncer refuses them), no server-side prepared statements (db.py turns
them off), no session advisory locks (migrations take theirs over the direct URL), and no `SET`. The
statement timeout, which direct connections set as a startup option, becomes the role's default in this
database instead: PostgreSQL applies it to every server connection the pooler opens as that role.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from .db import libpq_url


def keep_statement_timeout(direct_url: str, timeout_ms: int) -> None:
    """Make `timeout_ms` the statement timeout of the URL's role in its database (run over the direct URL,
    by `migrate` and at start-up; a role may set its own defaults). Idempotent."""
    with psycopg.connect(libpq_url(direct_url), autocommit=True, connect_timeout=5) as conn:
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        conn.execute(
            sql.SQL("ALTER ROLE CURRENT_USER IN DATABASE {} SET statement_timeout = {}").format(
                sql.Identifier(database[0]), sql.Literal(f"{timeout_ms}ms")
            )
        )
