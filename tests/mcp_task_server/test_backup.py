"""Backup and restore (mcp_task_server/backup.py): every row of every table comes back, from one snapshot,
on any server version; a restore never lands on data, never loads an altered archive, and never leaves
the database half restored."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastmcp import Client
from psycopg import sql

from devtools.postgres import create_database, drop_database
from mcp_task_server import backup as backup_module
from mcp_task_server.backup import NOT_EMPTY_FIX, BackupError, backup, restore
from mcp_task_server.migrate import upgrade, upgrade_async
from mcp_task_server.server import create_server
from mcp_task_server.settings import TaskServerSettings
from tests.support.processes import ROOT, free_port, service_env

from .helpers import call_ok
from .test_threads import assistant_item, user_item, widget_item

HEAD = "0005"
DB_PASSWORD = "s3cret-backup-pw"

CALL_MOM: dict[str, Any] = {
    "title": "Call mom",
    "description": "tabs\tnew\nlines \\ backslashes, ünïcødé and 🎉",
    "due": "tomorrow at 9",
    "timezone": "Asia/Tokyo",
    "priority": "high",
    "tags": ["family", "phone"],
    "idempotency_key": "turn-1:call-1",
}

Databases = Callable[[], str]
Snapshot = dict[str, list[tuple[Any, ...]]]


@pytest.fixture
def new_database(admin_url: str) -> Iterator[Databases]:
    """`new_database()`: the URL of a new, empty database (no tables), dropped after the test."""
    names: list[str] = []

    def make() -> str:
        names.append(f"test_backup_{uuid.uuid4().hex[:10]}")
        return create_database(admin_url, names[-1])

    yield make
    for name in names:
        drop_database(admin_url, name)


@asynccontextmanager
async def client(database_url: str, data_dir: Path, user_id: str) -> AsyncIterator[Client[Any]]:
    settings = TaskServerSettings(
        _env_file=None, database_url=database_url, data_dir=data_dir, mcp_stdio_user_id=user_id
    )
    server, _ = create_server(settings, stdio=True)
    async with Client(server) as c:
        yield c


async def fill(database_url: str, data_dir: Path) -> None:
    """A little of everything the tools write, for two users."""
    async with client(database_url, data_dir, "alice") as alice, client(database_url, data_dir, "bob") as bob:
        call = await call_ok(alice, "add_task", **CALL_MOM)
        standup = await call_ok(
            alice, "add_task", title="Standup", due="every day at 9", timezone="Europe/Berlin"
        )
        await call_ok(alice, "complete_task", task_id=standup["task_id"])  # Recurring: moves to the next day.
        report = await call_ok(
            alice, "add_task", title="Report", due="2026-12-24", priority="low", tags=["work"]
        )
        await call_ok(
            alice, "update_task", task_id=report["task_id"], title="Quarterly report", due="2027-01-05 14:00"
        )
        await call_ok(alice, "complete_task", task_id=report["task_id"])
        old = await call_ok(alice, "add_task", title="Old idea")
        await call_ok(alice, "delete_task", task_id=old["task_id"])  # Stays in the trash.
        oops = await call_ok(alice, "add_task", title="Deleted by mistake")
        await call_ok(alice, "delete_task", task_id=oops["task_id"])
        await call_ok(alice, "undo")  # Restores it; the log keeps both changes and the undo.
        preview = await call_ok(alice, "delete_tasks", task_ids=[call["task_id"], report["task_id"]])
        assert preview["confirmation_token"]  # A pending bulk preview (bulk_confirmations).
        await call_ok(bob, "add_task", title="Bob's task", timezone="America/New_York", tags=["x"])

        turn = await call_ok(alice, "start_turn", message="add call mom")
        tool_calls = [
            {
                "name": "add_task",
                "arguments": {"title": "Call mom"},
                "result": {"task_id": 1},
                "is_error": False,
            }
        ]
        await call_ok(
            alice,
            "record_reply",
            conversation_id=turn["conversation_id"],
            content="Added.",
            tool_calls=tool_calls,
        )
        await call_ok(
            alice, "save_thread", thread_id="thr_a", title="Groceries", metadata={"k": [1, {"n": None}]}
        )
        for item in (user_item("msg_1", "hi"), assistant_item("msg_2", "hello"), widget_item("wdg_1")):
            await call_ok(alice, "save_thread_item", thread_id="thr_a", item=item)


def tables(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' "
            "ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def snapshot(database_url: str) -> Snapshot:
    """Every row of every table (generated columns too), in primary-key order, and the revision."""
    result: Snapshot = {}
    with psycopg.connect(database_url) as conn:
        for table in tables(database_url):
            key = conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)",
                (table,),
            ).fetchall()
            order = sql.SQL(", ").join(sql.Identifier(row[0]) for row in key)
            query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(sql.Identifier(table), order)
            result[table] = conn.execute(query).fetchall()
        result["alembic_version"] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return result


def highest_ids(database_url: str) -> dict[str, int]:
    """Each identity sequence's last value."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT s.relname, pg_sequence_last_value(s.oid) FROM pg_class s WHERE s.relkind = 'S'"
        ).fetchall()
    return {name: value or 0 for name, value in rows}


def manifest(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        data: dict[str, Any] = json.loads(archive.read("manifest.json"))
    return data


def rewrite(source: Path, target: Path, change: Callable[[str, bytes], bytes]) -> None:
    """A copy of the archive with each member's bytes passed through `change(name, data)`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, change(info.filename, old.read(info.filename)))


async def test_round_trip_restores_every_row(admin_url: str, new_database: Databases, tmp_path: Path) -> None:
    source = new_database()
    await upgrade_async(source)
    await fill(source, tmp_path)
    with psycopg.connect(source, autocommit=True) as conn:
        # Purged tasks leave their ids in the activity log: a restored sequence must not hand them out again.
        purged = conn.execute(
            "INSERT INTO tasks (user_id, title) VALUES ('alice', 'purged') RETURNING id"
        ).fetchone()
        assert purged is not None
        conn.execute("DELETE FROM tasks WHERE id = %s", purged)
    before = snapshot(source)
    assert all(before[table] for table in tables(source)), "every table must hold rows to test it"
    ids = highest_ids(source)

    archive = tmp_path / "todo.backup"
    done = backup(source, archive)
    assert (done.tables, done.revision) == (len(tables(source)), HEAD)
    assert done.rows == sum(len(before[table]) for table in tables(source))
    written = manifest(archive)
    assert written["alembic_revision"] == HEAD
    tasks = next(t for t in written["tables"] if t["name"] == "tasks")
    # The generated search column is left out of the data; identity ids are kept as they are.
    assert "search" not in tasks["columns"]
    assert tasks["generated"] == ["search"]
    assert tasks["identity"] == {"id": purged[0]}
    with zipfile.ZipFile(archive) as opened:
        first_row = opened.read("data/tasks.copy").split(b"\n")[0].split(b"\t")
    assert len(first_row) == len(tasks["columns"])

    # Drop the database and restore into a new, empty one of the same name.
    name = source.rsplit("/", 1)[1]
    drop_database(admin_url, name)
    create_database(admin_url, name)
    restored = restore(source, archive)
    assert (restored.rows, restored.revision, restored.final_revision) == (done.rows, HEAD, HEAD)
    assert snapshot(source) == before
    assert highest_ids(source) == ids
    # A backup of the restored database is the same, table for table, byte for byte.
    again_archive = tmp_path / "again.backup"
    backup(source, again_archive)
    assert manifest(again_archive)["tables"] == written["tables"]

    # The sequences go on past every id handed out, and the restored data is served as before.
    async with client(source, tmp_path, "alice") as alice:
        added = await call_ok(alice, "add_task", title="After the restore")
        assert added["task_id"] == purged[0] + 1
        listed = await call_ok(alice, "list_tasks", query="quarterly", status="all")
        assert [t["title"] for t in listed["tasks"]] == ["Quarterly report"]
        again = await call_ok(alice, "add_task", **CALL_MOM)
        assert again["task_id"] == 1  # The idempotency key replays the first result.
        items = await call_ok(alice, "list_thread_items", thread_id="thr_a")
        assert [item["item_id"] for item in items["items"]] == ["msg_1", "msg_2", "wdg_1"]


async def test_restore_refuses_a_database_with_rows(new_database: Databases, tmp_path: Path) -> None:
    source = new_database()
    await upgrade_async(source)
    await fill(source, tmp_path)
    archive = tmp_path / "todo.backup"
    backup(source, archive)
    async with client(source, tmp_path, "alice") as alice:
        await call_ok(alice, "add_task", title="Written after the backup")
    after = snapshot(source)

    with pytest.raises(BackupError) as refused:
        restore(source, archive)
    assert str(refused.value) == (
        f"the database is not empty (table bulk_confirmations has rows): {NOT_EMPTY_FIX} "
        "(or restore with --replace to overwrite it)"
    )
    assert snapshot(source) == after

    # --replace empties it and restores the archive, in one transaction.
    restore(source, archive, replace=True)
    restored = snapshot(source)
    assert "Written after the backup" not in {row[2] for row in restored["tasks"]}
    assert len(restored["tasks"]) == len(after["tasks"]) - 1


async def test_restore_into_a_migrated_empty_database(new_database: Databases, tmp_path: Path) -> None:
    """A service pointed at the new database first has already migrated it: tables without rows are fine."""
    source, target = new_database(), new_database()
    await upgrade_async(source)
    await fill(source, tmp_path)
    archive = tmp_path / "todo.backup"
    backup(source, archive)
    await upgrade_async(target)
    restore(target, archive)
    assert snapshot(target) == snapshot(source)


def test_an_older_archive_restores_into_the_current_schema(new_database: Databases, tmp_path: Path) -> None:
    source, fresh, migrated = new_database(), new_database(), new_database()
    upgrade(source, "0004")
    with psycopg.connect(source) as conn:
        conn.execute(
            "INSERT INTO tasks (user_id, title, tags, priority) VALUES ('u', 'Older task', '{a}', 2)"
        )
        conversation = conn.execute(
            "INSERT INTO conversations (user_id) VALUES ('u') RETURNING id"
        ).fetchone()
        assert conversation is not None
        conn.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content) VALUES (%s, 'u', 'user', 'hi')",
            conversation,
        )
    archive = tmp_path / "older.backup"
    assert backup(source, archive).revision == "0004"

    # Into a database without tables, and into one a newer service already migrated (downgraded first).
    upgrade(migrated)
    for target in (fresh, migrated):
        done = restore(target, archive)
        assert (done.revision, done.final_revision, done.rows) == ("0004", HEAD, 3)
        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
            assert conn.execute("SELECT title, tags, priority FROM tasks").fetchall() == [
                ("Older task", ["a"], 2)
            ]
            thread = conn.execute("SELECT thread_id FROM conversations").fetchone()
            assert thread is not None
            assert thread[0].startswith("thr_")  # 0005 ran on the restored rows.


def test_an_archive_from_a_newer_schema_is_refused(new_database: Databases, tmp_path: Path) -> None:
    source, target = new_database(), new_database()
    upgrade(source)
    archive, newer = tmp_path / "todo.backup", tmp_path / "newer.backup"
    backup(source, archive)

    def bump(name: str, data: bytes) -> bytes:
        return (
            data.replace(b'"alembic_revision": "0005"', b'"alembic_revision": "0099"')
            if name == "manifest.json"
            else data
        )

    rewrite(archive, newer, bump)
    with pytest.raises(BackupError, match=r"revision 0099\) is newer than this release knows \(head 0005\)"):
        restore(target, newer)
    assert tables(target) == []


async def test_an_altered_or_damaged_archive_is_refused(new_database: Databases, tmp_path: Path) -> None:
    source, target = new_database(), new_database()
    await upgrade_async(source)
    await fill(source, tmp_path)
    archive, altered = tmp_path / "todo.backup", tmp_path / "altered.backup"
    backup(source, archive)

    def edit(name: str, data: bytes) -> bytes:
        return data.replace(b"Quarterly report", b"Quarterly r3port") if name == "data/tasks.copy" else data

    rewrite(archive, altered, edit)
    with pytest.raises(BackupError) as refused:
        restore(target, altered)
    assert str(refused.value) == (
        "the archive is damaged or was altered: the data of table tasks does not match its checksum in the "
        "manifest"
    )
    assert tables(target) == []  # The database was not touched.

    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(BackupError, match="not a task server backup"):
        restore(target, truncated)
    with pytest.raises(BackupError, match="no such file"):
        restore(target, tmp_path / "missing.backup")
    assert tables(target) == []


def test_a_failed_restore_leaves_nothing_behind(new_database: Databases, tmp_path: Path) -> None:
    """A row the schema refuses (here a checksum made to match it) rolls back the whole restore."""
    source, target = new_database(), new_database()
    upgrade(source)
    with psycopg.connect(source) as conn:
        conn.execute("INSERT INTO tasks (user_id, title) VALUES ('u', 'fine')")
    archive, bad = tmp_path / "todo.backup", tmp_path / "bad.backup"
    backup(source, archive)
    original = manifest(archive)

    def break_priority(name: str, data: bytes) -> bytes:
        if name == "data/tasks.copy":
            return data.replace(b"\t0\t{}", b"\t9\t{}")  # priority 9: the check constraint refuses it.
        if name == "manifest.json":
            with zipfile.ZipFile(archive) as opened:
                changed = opened.read("data/tasks.copy").replace(b"\t0\t{}", b"\t9\t{}")
            text = json.dumps(original).replace(
                next(t["sha256"] for t in original["tables"] if t["name"] == "tasks"),
                hashlib.sha256(changed).hexdigest(),
            )
            return text.encode()
        return data

    rewrite(archive, bad, break_priority)
    with pytest.raises(BackupError, match=r"^restore failed \(table tasks\): .*ck_tasks_priority_range"):
        restore(target, bad)
    assert tables(target) == []


def test_the_backup_is_one_snapshot(
    new_database: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer commits a task with its log entry, and a message in a conversation, while the backup is
    between tables: the archive holds neither, in any table (each table read at its own moment would)."""
    source = new_database()
    upgrade(source)
    with psycopg.connect(source) as conn:
        conn.execute("INSERT INTO tasks (user_id, title) VALUES ('u', 'before')")
        conn.execute(
            "INSERT INTO task_changes (user_id, task_id, kind, title) VALUES ('u', 1, 'create', 'before')"
        )
    copy_out = backup_module._copy_out
    copied: list[str] = []

    def copy_then_write(conn: Any, archive: zipfile.ZipFile, table: Any) -> Any:
        entry = copy_out(conn, archive, table)
        copied.append(table.name)
        if len(copied) == 1:  # bulk_confirmations: before every table the writer touches.
            with psycopg.connect(source) as writer:
                task = writer.execute(
                    "INSERT INTO tasks (user_id, title) VALUES ('u', 'during') RETURNING id"
                ).fetchone()
                assert task is not None
                writer.execute(
                    "INSERT INTO task_changes (user_id, task_id, kind, title) "
                    "VALUES ('u', %s, 'create', 'during')",
                    task,
                )
                writer.execute(
                    "WITH c AS (INSERT INTO conversations (user_id) VALUES ('u') RETURNING id) "
                    "INSERT INTO messages (conversation_id, user_id, role, content) "
                    "SELECT id, 'u', 'user', 'x' FROM c"
                )
        return entry

    monkeypatch.setattr(backup_module, "_copy_out", copy_then_write)
    archive = tmp_path / "todo.backup"
    backup(source, archive)
    assert copied[0] == "bulk_confirmations"
    counts = {t["name"]: t["rows"] for t in manifest(archive)["tables"]}
    assert counts == {
        "bulk_confirmations": 0,
        "conversations": 0,
        "idempotency_keys": 0,
        "messages": 0,
        "task_changes": 1,
        "tasks": 1,
        "user_settings": 0,
    }
    with zipfile.ZipFile(archive) as opened:
        assert b"during" not in opened.read("data/tasks.copy") + opened.read("data/task_changes.copy")

    monkeypatch.undo()
    later = tmp_path / "later.backup"
    backup(source, later)
    counts = {t["name"]: t["rows"] for t in manifest(later)["tables"]}
    assert (counts["tasks"], counts["task_changes"], counts["conversations"], counts["messages"]) == (
        2,
        2,
        1,
        1,
    )


def test_a_backup_never_leaves_a_partial_file(tmp_path: Path) -> None:
    archive = tmp_path / "todo.backup"
    archive.write_bytes(b"the previous backup")
    url = f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{free_port()}/todo"
    with pytest.raises(BackupError) as failed:
        backup(url, archive)
    assert str(failed.value).startswith("cannot open the database at 127.0.0.1:")
    assert DB_PASSWORD not in str(failed.value)
    assert archive.read_bytes() == b"the previous backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["todo.backup"]


def run_cli(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m mcp_task_server backup|restore ...`, through backup.cli (what __main__ calls)."""
    return subprocess.run(
        [sys.executable, "-c", "from mcp_task_server.backup import cli; cli()", *args],
        env=service_env({"DATABASE_URL": database_url, "DATA_DIR": str(cwd)}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_command_line_round_trip(new_database: Databases, tmp_path: Path) -> None:
    source, target = new_database(), new_database()
    await upgrade_async(source)
    await fill(source, tmp_path)
    # Trust authentication ignores the password; it must still never be printed.
    source_url, target_url = (
        url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1) for url in (source, target)
    )
    target_name = target.rsplit("/", 1)[1]

    backed_up = run_cli(source_url, tmp_path, "backup", "todo.backup")
    assert backed_up.returncode == 0, backed_up.stderr
    assert backed_up.stdout.startswith(
        f"backed up 7 tables, {sum(map(len, snapshot(source).values())) - 1} rows"
    )
    assert len(backed_up.stdout.splitlines()) == 1

    restored = run_cli(target_url, tmp_path, "restore", "todo.backup")
    assert restored.returncode == 0, restored.stderr
    assert f"into 127.0.0.1:5432/{target_name}" in restored.stdout
    assert len(restored.stdout.splitlines()) == 1
    assert snapshot(target) == snapshot(source)

    again = run_cli(target_url, tmp_path, "restore", "todo.backup")
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.splitlines() == [
        f"mcp_task_server: the database is not empty (table bulk_confirmations has rows): {NOT_EMPTY_FIX} "
        "(or restore with --replace to overwrite it)"
    ]
    replaced = run_cli(target_url, tmp_path, "restore", "--replace", "todo.backup")
    assert replaced.returncode == 0, replaced.stderr

    unreachable = run_cli(
        f"postgresql://postgres:{DB_PASSWORD}@127.0.0.1:{free_port()}/todo", tmp_path, "backup", "x"
    )
    assert unreachable.returncode == 1
    assert len(unreachable.stderr.splitlines()) == 1
    assert unreachable.stderr.startswith("mcp_task_server: cannot open the database at 127.0.0.1:")
    for done in (backed_up, restored, again, replaced, unreachable):
        assert DB_PASSWORD not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()


def test_embedded_postgresql_round_trip(new_database: Databases, tmp_path: Path) -> None:
    """The embedded PostgreSQL 16 of `make run` to this server and back: versions do not matter."""
    pytest.importorskip("pgserver")
    from devtools.postgres import start_embedded

    embedded_admin = start_embedded(ROOT / ".data" / "test-postgres")
    with psycopg.connect(embedded_admin) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
    local = new_database()
    with psycopg.connect(local) as conn:
        local_version = conn.execute("SHOW server_version_num").fetchone()
    if version == local_version:
        pytest.skip("the embedded PostgreSQL is the same version as the test server")
    name = f"test_backup_{uuid.uuid4().hex[:10]}"
    embedded = create_database(embedded_admin, name)
    try:
        upgrade(embedded)
        with psycopg.connect(embedded) as conn:
            conn.execute(
                "INSERT INTO tasks (user_id, title, description, due_date, due_timezone, tags) "
                "VALUES ('u', 'Embedded', E'a\\tb\\nc', '2027-02-28', 'Asia/Tokyo', '{x,y}')"
            )
            conn.execute(
                "INSERT INTO idempotency_keys (user_id, key, tool, fingerprint, result) "
                "VALUES ('u', 'k', 'add_task', 'f', '{\"a\": 1.5e300, \"b\": \"é\"}')"
            )
        first = tmp_path / "from-16.backup"
        backup(embedded, first)
        restore(local, first)
        assert snapshot(local) == snapshot(embedded)
        second = tmp_path / "from-local.backup"
        backup(local, second)
        assert manifest(second)["tables"] == manifest(first)["tables"]
        other = create_database(embedded_admin, name + "_b")
        restore(other, second)
        assert snapshot(other) == snapshot(local)
    finally:
        drop_database(embedded_admin, name + "_b")
        drop_database(embedded_admin, name)
