"""Due dates in the caller's zone, recurrence, priorities, tags, search and the list's filters and sorts,
through an MCP client on real PostgreSQL. The date phrases themselves are tested in tests/shared."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastmcp import Client

from .conftest import ClientFactory
from .helpers import call_error, call_ok


def today_in(zone: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()


async def ids(client: Client[Any], **filters: Any) -> list[int]:
    return [t["id"] for t in (await call_ok(client, "list_tasks", **filters))["tasks"]]


async def test_a_due_date_is_resolved_in_the_callers_zone_and_echoed_whole(alice: Client[Any]) -> None:
    added = await call_ok(alice, "add_task", title="Call mom", due="tomorrow at 9", timezone="Asia/Tokyo")
    due = added["task"]["due"]
    tomorrow = today_in("Asia/Tokyo") + timedelta(days=1)
    assert due["date"] == tomorrow.isoformat()
    assert due["timezone"] == "Asia/Tokyo"
    assert due["string"] == "tomorrow at 9"
    assert due["is_recurring"] is False
    assert datetime.fromisoformat(due["datetime"]) == datetime.combine(
        tomorrow, datetime.min.time().replace(hour=9), ZoneInfo("Asia/Tokyo")
    )
    assert due["datetime"].endswith("+09:00")

    # The zone is remembered: the next call without one reads dates in Tokyo time too.
    later = await call_ok(alice, "add_task", title="Dentist", due="today")
    assert later["task"]["due"] == {
        "date": today_in("Asia/Tokyo").isoformat(),
        "datetime": None,
        "timezone": "Asia/Tokyo",
        "string": "today",
        "is_recurring": False,
    }


async def test_the_same_words_in_two_zones_are_two_moments(client_as: ClientFactory) -> None:
    async with client_as("zoned-user") as client:
        berlin = await call_ok(
            client, "add_task", title="a", due="2026-12-24 09:00", timezone="Europe/Berlin"
        )
        la = await call_ok(
            client, "add_task", title="b", due="2026-12-24 09:00", timezone="America/Los_Angeles"
        )
    moments = [datetime.fromisoformat(t["task"]["due"]["datetime"]) for t in (berlin, la)]
    assert moments[1] - moments[0] == timedelta(hours=9)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"due": "someday maybe"}, "due"),
        ({"due": "tomorrow", "timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"priority": "urgent"}, "priority"),
        ({"tags": ["x" * 60]}, "tags"),
        ({"tags": ["#"]}, "tags"),
        ({"tags": [f"t{n}" for n in range(21)]}, "tags"),
    ],
)
async def test_bad_dates_zones_priorities_and_tags_are_refused_by_name(
    alice: Client[Any], arguments: dict[str, Any], field: str
) -> None:
    code, message = await call_error(alice, "add_task", title="t", **arguments)
    assert code == "invalid_argument"
    assert field in message
    assert (await call_ok(alice, "list_tasks"))["tasks"] == []


async def test_priority_and_tags_are_set_cleaned_changed_and_undone(alice: Client[Any]) -> None:
    added = await call_ok(
        alice, "add_task", title="Milk", priority="high", tags=["#Groceries", "groceries", "Home"]
    )
    task_id = added["task_id"]
    assert (added["task"]["priority"], added["task"]["tags"]) == ("high", ["groceries", "home"])
    updated = await call_ok(alice, "update_task", task_id=task_id, priority="low", tags=[])
    assert (updated["task"]["priority"], updated["task"]["tags"]) == ("low", [])
    await call_ok(alice, "undo")
    task = (await call_ok(alice, "list_tasks"))["tasks"][0]
    assert (task["priority"], task["tags"]) == ("high", ["groceries", "home"])


async def test_a_due_date_is_moved_cleared_and_the_change_undone(alice: Client[Any]) -> None:
    task_id = (await call_ok(alice, "add_task", title="Report", due="2026-12-24", timezone="UTC"))["task_id"]
    moved = await call_ok(alice, "update_task", task_id=task_id, due="2027-01-05 14:00")
    assert moved["task"]["due"]["date"] == "2027-01-05"
    cleared = await call_ok(alice, "update_task", task_id=task_id, due="")
    assert cleared["task"]["due"] is None
    await call_ok(alice, "undo")
    await call_ok(alice, "undo")
    task = (await call_ok(alice, "list_tasks"))["tasks"][0]
    assert task["due"]["date"] == "2026-12-24"
    assert task["due"]["datetime"] is None


async def test_completing_a_recurring_task_moves_it_and_keeps_it_pending(alice: Client[Any]) -> None:
    added = await call_ok(alice, "add_task", title="Standup", due="every day at 9", timezone="Europe/Berlin")
    task_id, first = added["task_id"], added["task"]["due"]
    assert first["is_recurring"] is True
    done = await call_ok(alice, "complete_task", task_id=task_id)
    assert done["status"] == "completed"
    assert done["task"]["completed"] is False
    second = done["task"]["due"]
    assert second["date"] > first["date"]
    assert second["is_recurring"] is True
    assert datetime.fromisoformat(second["datetime"]).astimezone(ZoneInfo("Europe/Berlin")).hour == 9
    # The completion is in the task's history, and undo puts the date back.
    changes = (await call_ok(alice, "list_activity", task_id=task_id))["changes"]
    assert changes[0]["kind"] == "complete"
    assert changes[0]["before"]["due_date"] == first["date"]
    await call_ok(alice, "undo")
    assert (await call_ok(alice, "list_tasks"))["tasks"][0]["due"]["date"] == first["date"]

    # Moving it keeps the recurrence; completing it forever ends it.
    moved = await call_ok(alice, "update_task", task_id=task_id, due="2027-03-01")
    assert moved["task"]["due"]["is_recurring"] is True
    assert moved["task"]["due"]["date"] == "2027-03-01"
    forever = await call_ok(alice, "complete_task", task_id=task_id, forever=True)
    assert forever["task"]["completed"] is True


async def test_filters_find_what_people_ask_for(alice: Client[Any]) -> None:
    zone = "America/Los_Angeles"

    async def add(title: str, **extra: Any) -> int:
        task_id: int = (await call_ok(alice, "add_task", title=title, timezone=zone, **extra))["task_id"]
        return task_id

    late = await add("Pay the mortgage", due="yesterday", priority="high", tags=["home"])
    today = await add("Buy milk", due="today", tags=["groceries"])
    tomorrow = await add("Call the bank", due="tomorrow", priority="medium", description="about the mortgage")
    week = await add("Book flights", due="in 5 days", priority="low", tags=["travel", "home"])
    undated = await add("Read a book")
    await call_ok(alice, "complete_task", task_id=today)

    assert await ids(alice, due="overdue") == [late]
    assert await ids(alice, due="today") == [today]
    assert await ids(alice, due="tomorrow") == [tomorrow]
    assert await ids(alice, due="next_7_days") == [today, tomorrow, week]
    assert await ids(alice, due="no_date") == [undated]
    assert await ids(alice, due="next_7_days", status="pending") == [tomorrow, week]
    assert await ids(alice, tag="home") == [late, week]
    assert await ids(alice, tag="#Home") == [late, week]
    assert await ids(alice, priority="high") == [late]
    assert await ids(alice, query="mortg") == [late, tomorrow]
    assert await ids(alice, query="MORTGAGE bank") == [tomorrow]
    finished_today = today_in(zone).isoformat()
    assert await ids(
        alice, status="completed", completed_from=finished_today, completed_to=finished_today
    ) == [today]
    yesterday = (today_in(zone) - timedelta(days=1)).isoformat()
    assert await ids(alice, completed_from=yesterday, completed_to=yesterday) == []
    assert await ids(alice, due_from=today_in(zone).isoformat(), due_to=today_in(zone).isoformat()) == [today]
    assert await ids(alice, sort="due") == [late, today, tomorrow, week, undated]
    # A list filtered by due date is in due order unless told otherwise.
    soon = await add("Renew passport", due="in 2 days")
    assert await ids(alice, due="next_7_days") == [today, tomorrow, soon, week]
    assert await ids(alice, due="next_7_days", sort="created") == [today, tomorrow, week, soon]
    assert await ids(alice, due="any_date") == [late, today, tomorrow, soon, week]
    await call_ok(alice, "delete_task", task_id=soon)
    assert await ids(alice, sort="priority") == [late, tomorrow, week, undated, today]
    code, message = await call_error(alice, "list_tasks", due_from="24/12/2026")
    assert code == "invalid_argument"
    assert "due_from" in message


@pytest.mark.parametrize("sort", ["created", "due", "priority"])
async def test_every_sort_pages_without_gaps_or_repeats(alice: Client[Any], sort: str) -> None:
    expected = []
    for n in range(23):
        extra: dict[str, Any] = {"priority": ["none", "low", "medium", "high"][n % 4]}
        if n % 3:
            # Some days hold timed and all-day tasks together, the timed ones added after.
            clock = {0: "", 1: " 18:00", 2: " 09:00"}[n % 5 % 3]
            extra["due"] = f"2027-01-{1 + n % 7:02d}{clock}"
        expected.append((await call_ok(alice, "add_task", title=f"t{n}", timezone="UTC", **extra))["task_id"])
    everything = await ids(alice, sort=sort, limit=100)
    seen: list[int] = []
    cursor = None
    while True:
        page = await call_ok(
            alice, "list_tasks", sort=sort, limit=5, **({"cursor": cursor} if cursor else {})
        )
        seen += [t["id"] for t in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    assert sorted(seen) == sorted(expected)
    if sort == "due":
        # Day, then time within it (all-day after timed), then id; undated last.
        tasks = (await call_ok(alice, "list_tasks", sort="due", limit=100))["tasks"]
        keys = [
            (t["due"]["date"], t["due"]["datetime"] or "~", t["id"]) if t["due"] else ("~", "~", t["id"])
            for t in tasks
        ]
        assert keys == sorted(keys)
        assert any(k[1] != "~" for k in keys)
        assert any(k[0] != "~" and k[1] == "~" for k in keys)
    # A cursor made for one sort is refused by another.
    first = await call_ok(alice, "list_tasks", sort=sort, limit=5)
    other = "due" if sort != "due" else "priority"
    code, _ = await call_error(alice, "list_tasks", sort=other, cursor=first["next_cursor"])
    assert code == "invalid_argument"
