"""Backup and restore of the task server's database, in Python over psycopg: no pg_dump.

pg_dump must be at least as new as the server, and the servers differ (the embedded PostgreSQL 16 of
`make run`, 15 or 17 elsewhere, managed ones); the task server's image has no pg_dump at all. COPY's
text format reads and writes the same on every PostgreSQL version this project runs on.

The archive is one zip file:

- `manifest.json`: the format and its version, when it was made, the schema's Alembic revision, the
  server's version, the session settings COPY ran with, and for each table its columns, row count, size,
  the SHA-256 of its data, and the highest value each identity sequence had handed out;
- `data/<table>.copy`: the table's rows in COPY text format (generated columns left out: they are
  recomputed on restore).

`backup` reads every table in ONE snapshot: a REPEATABLE READ, READ ONLY transaction that first locks
the tables in ACCESS SHARE mode (which blocks no reader or writer, only a migration's DDL), then copies
each. Writers go on meanwhile; what they commit after the snapshot is not in the archive.

`restore` checks the archive's checksums first, then, in ONE transaction: migrates the (empty) database
to the archive's revision, copies each table back in foreign-key order, moves every identity sequence
past both its highest id and the value it had reached, reads every table back and compares its row count
and checksum with the manifest, and migrates to the code's head revision. Anything wrong rolls it all
back: the database is restored completely or left as it was.

Messages never carry the database URL (it holds a password): at most `host:port/dbname`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, LiteralString, TypeAlias
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .db import libpq_url, normalize_database_url
from .migrate import CANNOT_CONNECT, alembic_config, cannot_open, describe_target

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from .settings import TaskServerSettings

FORMAT = "mcp_task_server-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VERSION_TABLE = "alembic_version"
# env.py's advisory lock (MIGRATION_LOCK_ID there): a restore holds it, so a service starting meanwhile
# waits, then finds the schema at head.
MIGRATION_LOCK_ID = 0x746F646F2D6D6967
CHUNK = 1 << 20
# What COPY's text format depends on, fixed for both directions: times in UTC with their offset, ISO
# dates, floats to the last digit, bytea in hex. An archive then reads back to the same values whatever
# the server's or the role's own defaults.
COPY_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
}
# How long to wait for a table lock held by someone else (a migration, a restore) before giving up.
LOCK_TIMEOUT = "60s"
NOT_EMPTY_FIX = "restore into a new, empty database, then point DATABASE_URL at it"

Conn: TypeAlias = psycopg.Connection[TupleRow]


class BackupError(Exception):
    """Backup or restore failed; the message is one line and names neither the URL nor a password."""


class TableEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=63)
    file: str
    columns: list[str] = Field(min_length=1)
    # Recomputed by the database on restore, so not in the archive.
    generated: list[str] = Field(default_factory=list)
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    # Identity column -> the highest value its sequence had handed out (0: none), which can be above the
    # highest id still in the table (deleted rows), and must not be handed out again.
    identity: dict[str, int] = Field(default_factory=dict)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Literal["mcp_task_server-backup"]
    format_version: int
    created_at: datetime
    alembic_revision: str
    server_version: str
    copy_format: Literal["text"] = "text"
    copy_settings: dict[str, str]
    tables: list[TableEntry]


@dataclass(frozen=True)
class Summary:
    """What a backup wrote or a restore loaded."""

    tables: int
    rows: int
    data_bytes: int
    file_bytes: int
    seconds: float
    revision: str
    # After a restore: the revision the database was migrated to (the code's head).
    final_revision: str | None = None


@dataclass
class _Table:
    name: str
    columns: list[str]
    generated: list[str]
    # Identity (or serial) column -> its sequence, schema-qualified and quoted as PostgreSQL spells it.
    sequences: dict[str, str]


# --- backup -------------------------------------------------------------------------------------------


def backup(database_url: str, path: str | Path) -> Summary:
    """Write every table of the task server's database, from one snapshot, to the zip file `path`.

    The file appears only once complete (written beside it, then renamed over it)."""
    started = time.monotonic()
    target = Path(path)
    if not target.parent.is_dir():
        raise BackupError(f"cannot write {target}: the folder {target.parent} does not exist")
    try:
        descriptor, partial = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".partial", dir=target.parent
        )
    except OSError as e:
        raise BackupError(f"cannot write in {target.parent}: {e.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as raw:
            with _database_errors(database_url, "backup"), _connect(database_url, "backup") as conn:
                manifest = _write_archive(conn, raw)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except OSError as e:
        raise BackupError(f"cannot write {target}: {e.strerror}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return Summary(
        tables=len(manifest.tables),
        rows=sum(t.rows for t in manifest.tables),
        data_bytes=sum(t.bytes for t in manifest.tables),
        file_bytes=target.stat().st_size,
        seconds=time.monotonic() - started,
        revision=manifest.alembic_revision,
    )


def _write_archive(conn: Conn, raw: IO[bytes]) -> Manifest:
    expected = _table_names(conn)
    if VERSION_TABLE not in expected:
        raise BackupError(
            "the database holds no task server schema (no alembic_version table): nothing to back up"
        )
    conn.autocommit = False
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        # SET and LOCK take no snapshot, so the snapshot (taken by the first query after them) comes
        # after any migration that held a table, and no migration can change a table until the end.
        _set_local(conn)
        _lock(conn, expected, "ACCESS SHARE")
        names = _table_names(conn)
        if names != expected:
            raise BackupError("the schema changed as the backup started (a migration running?); try again")
        revision = _revision(conn)
        if revision is None:
            raise BackupError("the database's alembic_version table is empty: it was never migrated")
        version = _scalar(conn, "SHOW server_version")
        tables = _describe_tables(conn, sorted(names - {VERSION_TABLE}))
        entries: list[TableEntry] = []
        with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for table in tables:
                entries.append(_copy_out(conn, archive, table))
            manifest = Manifest(
                format=FORMAT,
                format_version=FORMAT_VERSION,
                created_at=datetime.now(UTC),
                alembic_revision=revision,
                server_version=str(version),
                copy_settings=COPY_SETTINGS,
                tables=entries,
            )
            archive.writestr(MANIFEST, manifest.model_dump_json(indent=2) + "\n")
    return manifest


def _copy_out(conn: Conn, archive: zipfile.ZipFile, table: _Table) -> TableEntry:
    digest = hashlib.sha256()
    rows = size = 0
    file = f"data/{table.name}.copy"
    statement = sql.SQL("COPY {} ({}) TO STDOUT").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, table.columns))
    )
    with (
        archive.open(file, "w", force_zip64=True) as member,
        conn.cursor() as cur,
        cur.copy(statement) as copy,
    ):
        for block in copy:
            data = bytes(block)
            digest.update(data)
            # In COPY's text format a row is one line: newlines inside values are written as \n.
            rows += data.count(b"\n")
            size += len(data)
            member.write(data)
    identity = {column: _sequence_value(conn, sequence) for column, sequence in table.sequences.items()}
    return TableEntry(
        name=table.name,
        file=file,
        columns=table.columns,
        generated=table.generated,
        rows=rows,
        bytes=size,
        sha256=digest.hexdigest(),
        identity=identity,
    )


def _sequence_value(conn: Conn, sequence: str) -> int:
    """The highest value the sequence has handed out (0: none yet). Sequences stand outside snapshots,
    so this can be above what the snapshot holds: a bound, which is all a restore needs."""
    value = _scalar(conn, "SELECT pg_sequence_last_value(%s::regclass)", (sequence,))
    return int(value) if isinstance(value, int) else 0


# --- restore ------------------------------------------------------------------------------------------


def restore(database_url: str, path: str | Path, *, replace: bool = False) -> Summary:
    """Load the archive `path` into the database at `database_url`, which must be empty (no tables, or
    tables without rows) unless `replace` is set: then its tables are emptied first, in the same
    transaction, so a failed restore leaves them as they were."""
    started = time.monotonic()
    source = Path(path)
    with _open_archive(source) as (archive, manifest):
        script = _script(database_url)
        head = script.get_current_head()
        known = _revisions(script)
        if manifest.alembic_revision not in known:
            raise BackupError(
                f"the archive's schema (revision {manifest.alembic_revision}) is newer than this release "
                f"knows (head {head}): restore it with the release that made it, or a newer one"
            )
        _verify_archive(archive, manifest)
        with _database_errors(database_url, "restore"):
            _restore(database_url, archive, manifest, known, replace=replace)
            _analyze(database_url)
    return Summary(
        tables=len(manifest.tables),
        rows=sum(t.rows for t in manifest.tables),
        data_bytes=sum(t.bytes for t in manifest.tables),
        file_bytes=source.stat().st_size,
        seconds=time.monotonic() - started,
        revision=manifest.alembic_revision,
        final_revision=head,
    )


@contextmanager
def _open_archive(path: Path) -> Iterator[tuple[zipfile.ZipFile, Manifest]]:
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except zipfile.BadZipFile:
        raise BackupError(f"{path} is not a task server backup (not a zip archive)") from None
    except OSError as e:
        raise BackupError(f"cannot read {path}: {e.strerror}") from None
    with archive:
        try:
            data = archive.read(MANIFEST)
        except KeyError:
            raise BackupError(f"{path} is not a task server backup (no {MANIFEST})") from None
        except (zipfile.BadZipFile, OSError) as e:
            raise BackupError(f"{path} is damaged: {e}") from None
        try:
            raw = json.loads(data)
        except ValueError:
            raise BackupError(f"{path} is not a task server backup ({MANIFEST} is not JSON)") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BackupError(f"{path} is not a task server backup (its format is not {FORMAT})")
        version = raw.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BackupError(
                f"{path} was written in backup format {version}, newer than this release reads "
                f"({FORMAT_VERSION}): restore it with a newer release"
            )
        try:
            manifest = Manifest.model_validate(raw)
        except ValidationError as e:
            first = e.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise BackupError(f"{path} has an invalid {MANIFEST}: {where}: {first['msg']}") from None
        names = [t.name for t in manifest.tables]
        members = set(archive.namelist())
        if len(set(names)) != len(names) or VERSION_TABLE in names:
            raise BackupError(f"{path} has an invalid {MANIFEST}: a table is listed twice")
        missing = [t.file for t in manifest.tables if t.file not in members]
        if missing:
            raise BackupError(f"{path} is incomplete: {missing[0]} is missing")
        if manifest.copy_settings != COPY_SETTINGS:
            raise BackupError(f"{path} was written with other COPY settings than this release reads")
        yield archive, manifest


def _verify_archive(archive: zipfile.ZipFile, manifest: Manifest) -> None:
    """Every table's data against its row count and checksum, before the database is touched."""
    for table in manifest.tables:
        digest = hashlib.sha256()
        rows = size = 0
        try:
            with archive.open(table.file) as member:
                while chunk := member.read(CHUNK):
                    digest.update(chunk)
                    rows += chunk.count(b"\n")
                    size += len(chunk)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise BackupError(f"the archive is damaged: {table.file}: {e}") from None
        if digest.hexdigest() != table.sha256 or rows != table.rows or size != table.bytes:
            raise BackupError(
                f"the archive is damaged or was altered: the data of table {table.name} does not match "
                "its checksum in the manifest"
            )


def _restore(
    database_url: str, archive: zipfile.ZipFile, manifest: Manifest, known: list[str], *, replace: bool
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(
        normalize_database_url(database_url),
        poolclass=NullPool,
        hide_parameters=True,
        connect_args={
            "prepare_threshold": None,
            "connect_timeout": CONNECT_TIMEOUT,
            "client_encoding": "UTF8",
            "application_name": "mcp_task_server restore",
        },
    )
    try:
        try:
            connection = engine.connect()
        except CANNOT_CONNECT as e:
            raise BackupError(str(cannot_open(database_url, e))) from None
        with connection, connection.begin():
            conn = connection.connection.driver_connection
            assert isinstance(conn, psycopg.Connection)
            _set_local(conn)
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            current = _prepare_target(conn, known, replace=replace)
            target = manifest.alembic_revision
            if current != target:
                if current is not None and known.index(current) > known.index(target):
                    _alembic(connection, database_url, "downgrade", target)
                else:
                    _alembic(connection, database_url, "upgrade", target)
            _load(conn, archive, manifest)
            if target != known[-1]:
                _alembic(connection, database_url, "upgrade", known[-1])
    finally:
        engine.dispose()


def _prepare_target(conn: Conn, known: list[str], *, replace: bool) -> str | None:
    """The database's revision (None: no schema yet), once it is known to be empty, or emptied."""
    names = _table_names(conn)
    if not names:
        return None
    # No one writes (or migrates) while the restore checks and fills the tables; a running service waits.
    _lock(conn, names, "ACCESS EXCLUSIVE")
    if VERSION_TABLE not in names:
        raise BackupError(
            "the database holds tables that are not the task server's (no alembic_version): " + NOT_EMPTY_FIX
        )
    current = _revision(conn)
    data = sorted(names - {VERSION_TABLE})
    if current is not None and current not in known:
        raise BackupError(
            f"the database's schema (revision {current}) is newer than this release knows: " + NOT_EMPTY_FIX
        )
    if replace:
        if data:
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY").format(sql.SQL(", ").join(map(sql.Identifier, data)))
            )
        return current
    for name in data:
        if _scalar(conn, sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(name))):
            raise BackupError(
                f"the database is not empty (table {name} has rows): {NOT_EMPTY_FIX} "
                "(or restore with --replace to overwrite it)"
            )
    return current


def _load(conn: Conn, archive: zipfile.ZipFile, manifest: Manifest) -> None:
    revision = manifest.alembic_revision
    entries = {t.name: t for t in manifest.tables}
    names = _table_names(conn) - {VERSION_TABLE}
    if names != set(entries):
        raise BackupError(
            f"the archive's tables do not match its schema (revision {revision}): it was not written by "
            "this program, or was altered"
        )
    tables = {t.name: t for t in _describe_tables(conn, sorted(names))}
    for name, table in tables.items():
        if set(table.columns) != set(entries[name].columns):
            raise BackupError(
                f"the archive's columns of table {name} do not match its schema (revision {revision})"
            )
    order = _foreign_key_order(conn, sorted(names))
    # A new, empty heap per table: rows then lie in the order they are copied in, and read back so.
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, order))))
    for name in order:
        entry = entries[name]
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, entry.columns))
        )
        with (
            _context(f"table {name}"),
            archive.open(entry.file) as member,
            conn.cursor() as cur,
            cur.copy(statement) as copy,
        ):
            while chunk := member.read(CHUNK):
                copy.write(chunk)
    for name in order:
        _advance_sequences(conn, tables[name], entries[name])
    for name in order:
        _check_table(conn, entries[name])


def _advance_sequences(conn: Conn, table: _Table, entry: TableEntry) -> None:
    """Past the highest id in the table and the value the sequence had reached at the backup, so no id
    is handed out twice (the activity log keeps ids of purged tasks)."""
    for column, sequence in table.sequences.items():
        highest = _scalar(
            conn,
            sql.SQL("SELECT coalesce(max({}), 0) FROM {}").format(
                sql.Identifier(column), sql.Identifier(table.name)
            ),
        )
        value = max(int(highest) if isinstance(highest, int) else 0, entry.identity.get(column, 0))
        if value > 0:
            conn.execute("SELECT setval(%s::regclass, %s)", (sequence, value))


def _check_table(conn: Conn, entry: TableEntry) -> None:
    """Read the table back as the backup did: the same rows, byte for byte."""
    digest = hashlib.sha256()
    rows = 0
    statement = sql.SQL("COPY {} ({}) TO STDOUT").format(
        sql.Identifier(entry.name), sql.SQL(", ").join(map(sql.Identifier, entry.columns))
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for block in copy:
            data = bytes(block)
            digest.update(data)
            rows += data.count(b"\n")
    if rows != entry.rows or digest.hexdigest() != entry.sha256:
        raise BackupError(
            f"after loading, table {entry.name} reads back differently from the archive ({rows} rows, "
            f"{entry.rows} in the manifest); nothing was restored"
        )


def _alembic(connection: Connection, database_url: str, action: str, revision: str) -> None:
    from alembic import command

    config = alembic_config(normalize_database_url(database_url))
    # env.py runs the migrations on this connection, inside the restore's transaction.
    config.attributes["connection"] = connection
    with _context(f"migrating to {revision}"):
        if action == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def _analyze(database_url: str) -> None:
    """Fresh statistics, so the first queries after a restore are planned on the real data."""
    try:
        with _connect(database_url, "restore") as conn:
            names = sorted(_table_names(conn))
            conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(map(sql.Identifier, names))))
    except (BackupError, psycopg.Error):
        pass  # The restore is done; autovacuum analyzes the tables soon enough.


# --- the database, described --------------------------------------------------------------------------


CONNECT_TIMEOUT = 10


def _connect(database_url: str, action: str) -> Conn:
    try:
        return psycopg.connect(
            libpq_url(database_url),
            autocommit=True,
            # Nothing prepared on the server: a transaction-mode pooler would lose it between transactions.
            prepare_threshold=None,
            connect_timeout=CONNECT_TIMEOUT,
            client_encoding="UTF8",
            application_name=f"mcp_task_server {action}",
        )
    except psycopg.OperationalError as e:
        raise BackupError(str(cannot_open(database_url, e))) from None


def _set_local(conn: Conn) -> None:
    """For this transaction only (a pooler may hand the next one another session): no statement timeout
    (a role default would cut a long COPY short), a bounded wait for locks, and COPY_SETTINGS."""
    settings = {
        "statement_timeout": "0",
        "idle_in_transaction_session_timeout": "0",
        "lock_timeout": LOCK_TIMEOUT,
        # Sequential scans start at the first page: rows read back in the order they were written.
        "synchronize_seqscans": "off",
        **COPY_SETTINGS,
    }
    for name, value in settings.items():
        # SET, not set_config(): a SELECT would take the snapshot here, before the tables are locked.
        conn.execute(sql.SQL("SET LOCAL {} = {}").format(sql.Identifier(name), sql.Literal(value)))


def _lock(conn: Conn, names: set[str], mode: Literal["ACCESS SHARE", "ACCESS EXCLUSIVE"]) -> None:
    with _context("locking the tables"):
        conn.execute(
            sql.SQL("LOCK TABLE {} IN {} MODE").format(
                sql.SQL(", ").join(map(sql.Identifier, sorted(names))), sql.SQL(mode)
            )
        )


def _table_names(conn: Conn) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    ).fetchall()
    return {str(row[0]) for row in rows}


def _revision(conn: Conn) -> str | None:
    rows = conn.execute(
        sql.SQL("SELECT version_num FROM {}").format(sql.Identifier(VERSION_TABLE))
    ).fetchall()
    if len(rows) > 1:
        raise BackupError("the database's alembic_version table has several revisions; expected one")
    return str(rows[0][0]) if rows else None


def _describe_tables(conn: Conn, names: list[str]) -> list[_Table]:
    tables = {name: _Table(name, [], [], {}) for name in names}
    rows = conn.execute(
        "SELECT c.relname, a.attname, a.attgenerated <> '', "
        "pg_get_serial_sequence(format('%%I.%%I', n.nspname, c.relname), a.attname) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY c.relname, a.attnum",
        (names,),
    ).fetchall()
    for name, column, generated, sequence in rows:
        table = tables[str(name)]
        (table.generated if generated else table.columns).append(str(column))
        if sequence is not None:
            table.sequences[str(column)] = str(sequence)
    return list(tables.values())


def _foreign_key_order(conn: Conn, names: list[str]) -> list[str]:
    """Referenced tables before the tables that refer to them."""
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for name in names:
        sorter.add(name)
    rows = conn.execute(
        "SELECT child.relname, parent.relname FROM pg_constraint k "
        "JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid "
        "JOIN pg_namespace n ON n.oid = child.relnamespace "
        "WHERE k.contype = 'f' AND n.nspname = current_schema() ORDER BY 1, 2"
    ).fetchall()
    for child, parent in rows:
        if child != parent and child in names and parent in names:
            sorter.add(str(child), str(parent))
    try:
        return list(sorter.static_order())
    except CycleError:
        raise BackupError("the tables' foreign keys form a cycle; cannot order the restore") from None


def _scalar(conn: Conn, query: LiteralString | sql.Composed, params: tuple[object, ...] = ()) -> object:
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def _script(database_url: str) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(normalize_database_url(database_url)))


def _revisions(script: ScriptDirectory) -> list[str]:
    """The code's revisions, oldest first (one line of history: no branches)."""
    return [r.revision for r in reversed(list(script.walk_revisions()))]


# --- errors -------------------------------------------------------------------------------------------


class _Context(Exception):
    """A database error, with where it happened (a table, a migration)."""


@contextmanager
def _context(where: str) -> Iterator[None]:
    try:
        yield
    except (BackupError, _Context):
        raise
    except Exception as e:
        if not _is_database_error(e):
            raise
        raise _Context(where) from e


def _is_database_error(error: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(error, psycopg.Error | SQLAlchemyError)


@contextmanager
def _database_errors(database_url: str, action: str) -> Iterator[None]:
    """Database failures as one line, without the URL or its password."""
    from alembic.util import CommandError

    try:
        yield
    except BackupError:
        raise
    except _Context as e:
        cause = e.__cause__
        assert cause is not None
        raise BackupError(f"{action} failed ({e}): {_reason(cause, database_url)}") from None
    except CommandError as e:
        raise BackupError(f"{action} failed: {_reason(e, database_url)}") from None
    except Exception as e:
        if not _is_database_error(e):
            raise
        raise BackupError(f"{action} failed: {_reason(e, database_url)}") from None


def _reason(error: BaseException, database_url: str) -> str:
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, psycopg.errors.LockNotAvailable):
        return f"the tables stayed locked for {LOCK_TIMEOUT} (a migration or a restore running?)"
    diag = getattr(cause, "diag", None)
    text = (diag.message_primary if diag is not None else None) or str(cause) or type(cause).__name__
    text = " ".join(text.split())
    password = urlsplit(database_url).password
    if password:
        text = text.replace(password, "***").replace(unquote(password), "***")
    return text


# --- command line -------------------------------------------------------------------------------------

PROGRAM = "mcp_task_server"


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`backup FILE` and `restore FILE [--replace]`, for `python -m mcp_task_server`."""
    backup_parser = subparsers.add_parser(
        "backup", help="write the whole database, from one snapshot, to FILE (a zip) and exit"
    )
    backup_parser.add_argument("file", help="the archive to write (replaced if it exists)")
    restore_parser = subparsers.add_parser(
        "restore", help="load FILE into an empty database, migrate it to this release's schema, and exit"
    )
    restore_parser.add_argument("file", help="an archive written by `backup`")
    restore_parser.add_argument(
        "--replace",
        action="store_true",
        help="empty a database that has rows first (in the same transaction: a failed restore keeps them)",
    )


def run_command(args: argparse.Namespace, settings: TaskServerSettings) -> None:
    """Run `backup` or `restore` over DATABASE_DIRECT_URL when set (a transaction-mode pooler would not
    keep the session), else DATABASE_URL; print one line. Exits 1 with one line on failure."""
    try:
        url = settings.migration_url()
    except ValueError as e:
        print(f"{PROGRAM}: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    where = describe_target(url)
    try:
        if args.command == "backup":
            done = backup(url, args.file)
            print(
                f"backed up {done.tables} tables, {done.rows} rows (schema {done.revision}) from {where} "
                f"to {args.file}: {_size(done.data_bytes)} of data, {_size(done.file_bytes)} file, "
                f"in {done.seconds:.2f} s"
            )
        else:
            done = restore(url, args.file, replace=args.replace)
            migrated = "" if done.final_revision == done.revision else f", migrated to {done.final_revision}"
            print(
                f"restored {done.tables} tables, {done.rows} rows (schema {done.revision}{migrated}) from "
                f"{args.file} into {where}: {_size(done.data_bytes)} of data, in {done.seconds:.2f} s"
            )
    except BackupError as e:
        print(f"{PROGRAM}: {e}", file=sys.stderr)
        raise SystemExit(1) from None


def cli(argv: list[str] | None = None) -> None:
    """The two commands on their own: `backup FILE` / `restore FILE [--replace]`, settings from the
    environment (and .env) like the service's."""
    from shared.settings import load_or_exit

    from .settings import TaskServerSettings

    parser = argparse.ArgumentParser(prog=f"python -m {PROGRAM}")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    settings = load_or_exit(TaskServerSettings, PROGRAM)
    if not settings.database_url and not settings.database_direct_url:
        print(f"{PROGRAM}: DATABASE_URL is not set", file=sys.stderr)
        raise SystemExit(2)
    run_command(args, settings)


def _size(count: int) -> str:
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"
