"""A real PgBouncer (Debian's `pgbouncer`, 1.18) in transaction mode in front of the test PostgreSQL: what
Neon's pooled endpoint is. Started per test session like the embedded PostgreSQL, with a server pool
smaller than the clients' concurrency, so transactions really move between server connections.

PgBouncer refuses to run as root; started as root (CI containers) it drops to `nobody` with `-u`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.processes import free_port

PGBOUNCER = "/usr/sbin/pgbouncer"


def pgbouncer_binary() -> str | None:
    """The binary, installed with apt when missing and running as root (as CI does)."""
    found = shutil.which("pgbouncer") or (PGBOUNCER if os.path.exists(PGBOUNCER) else None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "pgbouncer"], check=False, capture_output=True, timeout=600
        )
        found = shutil.which("pgbouncer") or (PGBOUNCER if os.path.exists(PGBOUNCER) else None)
    return found


def require_pgbouncer() -> str:
    """The binary; a missing one skips with how to install it, except under CI=true, where it fails."""
    binary = pgbouncer_binary()
    if binary is None:
        message = "pgbouncer is not installed: apt-get install pgbouncer"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


@dataclass(frozen=True)
class PgBouncer:
    port: int
    pool_size: int
    directory: Path

    def url_for(self, database_url: str) -> str:
        """The same database's URL through the pooler."""
        parts = urlsplit(database_url)
        user = parts.username or "postgres"
        return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{self.port}"))

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text() if path.exists() else ""


@contextmanager
def run_pgbouncer(database_url: str, directory: Path, *, pool_size: int = 3) -> Iterator[PgBouncer]:
    binary = require_pgbouncer()
    if os.geteuid() == 0:
        # Run as `nobody`, it must reach its log and pid file: pytest's folders are root's alone (0700).
        directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    target = urlsplit(database_url)
    user = target.username or "postgres"
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "users.txt").write_text(f'"{user}" ""\n')
    config = directory / "pgbouncer.ini"
    config.write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={target.hostname or '127.0.0.1'} port={target.port or 5432}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {directory / 'users.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                "max_client_conn = 500",
                "server_reset_query =",
                f"logfile = {directory / 'pgbouncer.log'}",
                f"pidfile = {directory / 'pgbouncer.pid'}",
                "",
            ]
        )
    )
    command = [binary, str(config)]
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in (directory, *directory.iterdir()):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        command = [binary, "-u", "nobody", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise RuntimeError(f"pgbouncer did not start: {output[-2000:]}") from None
                time.sleep(0.05)
        yield PgBouncer(port, pool_size, directory)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        if os.geteuid() == 0:
            shutil.rmtree(directory, ignore_errors=True)
