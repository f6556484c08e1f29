"""Fixtures shared by every test: one real PostgreSQL database per test run, migrated once.

The server comes from TEST_DATABASE_URL, else a local server on 127.0.0.1:5432, else an embedded
PostgreSQL (see devtools/postgres.py). The database is created with a unique name and dropped at the
end, so concurrent runs never collide.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devtools.postgres import create_database, drop_database, server_for_tests
from mcp_task_server.migrate import upgrade
from mcp_task_server.settings import TaskServerSettings

# Gateway fixtures live in one module that every test can use (pytest_plugins is only read here).
pytest_plugins = ["tests.support.gateway_fixtures"]


@pytest.fixture(scope="session")
def admin_url() -> str:
    url, _ = server_for_tests()
    return url


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    name = f"test_todo_{uuid.uuid4().hex[:12]}"
    url = create_database(admin_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(admin_url, name)


@pytest.fixture
def clean_db(database_url: str) -> str:
    """Each test starts from empty tables (truncate is a few milliseconds; isolation is worth it)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE tasks, conversations, messages, task_changes, idempotency_keys, bulk_confirmations, "
            "user_settings RESTART IDENTITY CASCADE"
        )
    return database_url


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def settings(clean_db: str, data_dir: Path) -> TaskServerSettings:
    return TaskServerSettings(_env_file=None, database_url=clean_db, data_dir=data_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    """pgserver stops the embedded PostgreSQL from an atexit hook and logs as it does, after pytest has
    closed the streams the log handlers wrote to: without this, each such line prints a "Logging error"
    traceback at the very end of the run."""
    logging.raiseExceptions = False
