"""The purge: what is past its retention goes, everything else stays, with several replicas running."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg

from mcp_task_server.db import create_engine, create_sessionmaker
from mcp_task_server.purge import PURGE_LOCK_KEY, purge_once
from tests.support.gateway_fixtures import task_server_env
from tests.support.processes import free_port, run_service, service_env
from tests.support.tokens import JwksServer

_SEED = """
INSERT INTO tasks (user_id, title, trashed_at) VALUES
    ('alice', 'old trash', now() - interval '31 days'),
    ('bob', 'old trash too', now() - interval '40 days'),
    ('alice', 'recent trash', now() - interval '29 days'),
    ('alice', 'on the list', NULL);
INSERT INTO task_changes (user_id, task_id, kind, title, client, created_at) VALUES
    ('alice', 1, 'create', 'old', 'x', now() - interval '91 days'),
    ('alice', 4, 'create', 'recent', 'x', now() - interval '1 day');
INSERT INTO idempotency_keys (user_id, key, tool, fingerprint, created_at) VALUES
    ('alice', 'old', 'add_task', 'f', now() - interval '25 hours'),
    ('alice', 'new', 'add_task', 'f', now() - interval '1 hour');
INSERT INTO bulk_confirmations (token_hash, user_id, action, tasks, expires_at) VALUES
    ('expired', 'alice', 'delete', '{}', now() - interval '1 minute'),
    ('valid', 'alice', 'delete', '{}', now() + interval '5 minutes');
"""


def _left(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        return {
            "tasks": [r[0] for r in conn.execute("SELECT title FROM tasks ORDER BY id")],
            "changes": [r[0] for r in conn.execute("SELECT title FROM task_changes ORDER BY id")],
            "keys": [r[0] for r in conn.execute("SELECT key FROM idempotency_keys ORDER BY key")],
            "confirmations": [r[0] for r in conn.execute("SELECT token_hash FROM bulk_confirmations")],
        }


_EXPECTED = {
    "tasks": ["recent trash", "on the list"],
    "changes": ["recent"],
    "keys": ["new"],
    "confirmations": ["valid"],
}


def test_two_replicas_purge_what_is_past_retention_and_nothing_else(
    clean_db: str, stack_jwks: JwksServer, tmp_path: Path
) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute(_SEED)
    ports = [free_port(), free_port()]
    envs = [task_server_env(clean_db, stack_jwks, port, PURGE_INTERVAL_SECONDS="0.2") for port in ports]
    with (
        run_service("mcp_task_server", envs[0], ports[0], tmp_path / "a.log") as first,
        run_service("mcp_task_server", envs[1], ports[1], tmp_path / "b.log") as second,
    ):
        deadline = time.monotonic() + 20
        while _left(clean_db) != _EXPECTED and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _left(clean_db) == _EXPECTED
        time.sleep(1)  # Both keep running rounds; nothing more goes and nothing fails.
        assert _left(clean_db) == _EXPECTED
    for service in (first, second):
        log = service.log()
        assert "Traceback" not in log
        assert "purge failed" not in log
    assert "purged" in first.log() + second.log()


async def test_one_purge_at_a_time(clean_db: str) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute(_SEED)
    engine = create_engine(clean_db, pool_size=1)
    try:
        sessions = create_sessionmaker(engine)
        with psycopg.connect(clean_db) as holder:
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (PURGE_LOCK_KEY,))
            skipped = await purge_once(sessions, 30, 90)
        assert not skipped.ran
        assert len(_left(clean_db)["tasks"]) == 4
        done = await purge_once(sessions, 30, 90)
    finally:
        await engine.dispose()
    assert done.ran
    assert done.counts == {"tasks": 2, "changes": 1, "idempotency_keys": 1, "confirmations": 1}
    assert _left(clean_db) == _EXPECTED


def test_purge_command_runs_once(clean_db: str, tmp_path: Path) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute(_SEED)
    done = subprocess.run(
        [sys.executable, "-m", "mcp_task_server", "purge"],
        env=service_env({"DATABASE_URL": clean_db, "TRASH_RETENTION_DAYS": "35"}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "1 tasks" in done.stdout
    assert _left(clean_db)["tasks"] == ["old trash", "recent trash", "on the list"]
