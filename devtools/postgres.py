"""Find a PostgreSQL server for development and tests, starting an embedded one when there is none.

Order: an explicit URL (TEST_DATABASE_URL / DATABASE_URL), then a server on 127.0.0.1:5432 with the
`postgres` user, then an embedded PostgreSQL 16 from the `pgserver` package under the data folder.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Embedded servers started by this process; kept referenced so they stop when the process exits.
_embedded: dict[Path, Any] = {}


def reachable(url: str, timeout: float = 2.0) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout))):
            return True
    except psycopg.Error:
        return False


def start_embedded(data_dir: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) an embedded server whose files live in `data_dir`; returns its admin URL.

    The server stops when this process exits unless `keep_running` is set.
    """
    data_dir = data_dir.expanduser().resolve()
    if data_dir not in _embedded:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
            warnings.simplefilter("ignore")
            import pgserver

            _embedded[data_dir] = pgserver.get_server(  # type: ignore[attr-defined]
                data_dir, cleanup_mode=None if keep_running else "stop"
            )
    return str(_embedded[data_dir].get_uri())


def find_server(explicit_url: str | None, data_dir: Path) -> tuple[str, str]:
    """(admin URL, where it came from) for a server this process may create databases on."""
    if explicit_url:
        return explicit_url, "configured"
    if reachable(LOCAL_SERVER_URL):
        return LOCAL_SERVER_URL, "local server on 127.0.0.1:5432"
    return start_embedded(data_dir), f"embedded PostgreSQL in {data_dir}"


def with_database(url: str, database: str) -> str:
    """The same server URL, naming another database (keeps query parameters such as `host=`)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def ensure_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_for_tests() -> tuple[str, str]:
    return find_server(os.environ.get("TEST_DATABASE_URL"), Path(".data") / "test-postgres")
