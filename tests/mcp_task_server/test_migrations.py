"""Migrations are the only way the schema changes: they must match the models and run both ways."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from devtools.postgres import create_database, drop_database
from mcp_task_server.db import normalize_database_url
from mcp_task_server.migrate import downgrade, upgrade
from mcp_task_server.models import Base


@pytest.fixture
def scratch_database(admin_url: str) -> Iterator[str]:
    name = f"test_migrations_{uuid.uuid4().hex[:10]}"
    url = create_database(admin_url, name)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_downgrade_upgrade(scratch_database: str) -> None:
    upgrade(scratch_database)
    assert {"tasks", "conversations", "messages", "alembic_version"} <= _tables(scratch_database)
    downgrade(scratch_database, "base")
    assert _tables(scratch_database) == {"alembic_version"}
    upgrade(scratch_database)
    upgrade(scratch_database)  # A second run finds nothing to do.
    assert {"tasks", "conversations", "messages"} <= _tables(scratch_database)


def test_database_rejects_what_validation_would(database_url: str, clean_db: str) -> None:
    """The last line of defence if a bug ever skipped validation: the schema's own constraints."""
    with psycopg.connect(clean_db) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO tasks (user_id, title) VALUES ('u', '')")
        conn.rollback()
        with pytest.raises(psycopg.errors.StringDataRightTruncation):
            conn.execute("INSERT INTO tasks (user_id, title) VALUES ('u', %s)", ("x" * 201,))
        conn.rollback()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "WITH c AS (INSERT INTO conversations (user_id) VALUES ('u') RETURNING id) "
                "INSERT INTO messages (conversation_id, user_id, role, content) "
                "SELECT id, 'u', 'system', 'x' FROM c"
            )


def test_chatkit_threads_migration_keeps_conversations(scratch_database: str) -> None:
    """0005 gives every existing conversation its own unguessable thread id; going back drops only
    ChatKit's own items (role `item`), which the older schema cannot hold."""
    upgrade(scratch_database, "0004")
    with psycopg.connect(scratch_database) as conn:
        for n in range(3):
            conn.execute(
                "WITH c AS (INSERT INTO conversations (user_id) VALUES ('u') RETURNING id) "
                "INSERT INTO messages (conversation_id, user_id, role, content) "
                "SELECT id, 'u', 'user', %s FROM c",
                (f"m{n}",),
            )
    upgrade(scratch_database)
    with psycopg.connect(scratch_database) as conn:
        ids = [row[0] for row in conn.execute("SELECT thread_id FROM conversations").fetchall()]
        assert len(set(ids)) == 3
        assert all(re.fullmatch(r"thr_[0-9a-f]{32}", thread_id) for thread_id in ids), ids
        conn.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, item_id, kind, item) "
            "SELECT min(id), 'u', 'item', '', 'w_1', 'widget', '{}' FROM conversations"
        )
    downgrade(scratch_database, "0004")
    with psycopg.connect(scratch_database) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (3,)
    upgrade(scratch_database)
