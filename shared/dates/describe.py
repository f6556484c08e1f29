"""`describe_due`: a due said for people, in its own zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from shared.dates.due import Due
from shared.dates.recurrence import Recurrence
from shared.dates.vocabulary import MONTH_NAMES, WEEKDAY_NAMES
from shared.dates.zones import require_aware


def describe_due(due: Due, now: dt.datetime) -> str:
    """The due for people, in its own zone: "today, 09:00", "tomorrow, Fri 4 Dec, 09:00", "Mon 7 Dec",
    "Thu 24 Dec 2027" (a year only when not this year), "yesterday", "3 days ago (Mon 30 Nov)", and for a
    repeating due "every Monday, next Mon 7 Dec, 09:00". Times are the resolved local wall time."""
    require_aware(now, "now")
    today = now.astimezone(ZoneInfo(due.timezone)).date()
    moment = due.datetime()
    day = moment.date() if moment is not None else due.date
    parts = [_describe_rule(due.recurrence, due.date)] if due.recurrence is not None else []
    parts.append(_describe_day(day, today, repeating=due.recurrence is not None))
    if moment is not None:
        parts.append(moment.strftime("%H:%M"))
    return ", ".join(parts)


def _short_date(day: dt.date, today: dt.date) -> str:
    text = f"{WEEKDAY_NAMES[day.weekday()][:3]} {day.day} {MONTH_NAMES[day.month - 1][:3]}"
    return text if day.year == today.year else f"{text} {day.year}"


def _describe_day(day: dt.date, today: dt.date, repeating: bool) -> str:
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return f"tomorrow, {_short_date(day, today)}"
    if delta == -1:
        return "yesterday"
    if delta < 0:
        return f"{-delta} days ago ({_short_date(day, today)})"
    return f"next {_short_date(day, today)}" if repeating else _short_date(day, today)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _day_list(days: tuple[int, ...]) -> str:
    if len(days) == 1:
        return WEEKDAY_NAMES[days[0]]
    names = [WEEKDAY_NAMES[day][:3] for day in days]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _describe_rule(rule: Recurrence, date: dt.date) -> str:
    every = "every" if rule.interval == 1 else f"every {rule.interval}"
    plural = "" if rule.interval == 1 else "s"
    if rule.unit == "day":
        return f"{every} day{plural}"
    if rule.unit == "week":
        if not rule.weekdays:
            return f"{every} week{plural}"
        if rule.interval == 1 and rule.weekdays in ((0, 1, 2, 3, 4), (5, 6)):
            return "every weekday" if rule.weekdays[0] == 0 else "every weekend"
        days = _day_list(rule.weekdays)
        return f"every {days}" if rule.interval == 1 else f"{every} weeks on {days}"
    day = rule.month_day or date.day
    if rule.unit == "month":
        return f"{every} month{plural} on the {_ordinal(day)}"
    return f"{every} year{plural} on {day} {MONTH_NAMES[date.month - 1][:3]}"


def describe_due_json(due: object, now: dt.datetime) -> str | None:
    """describe_due for a due as the tools answer it ({"date", "datetime", "timezone", "string",
    "is_recurring"}); a repeating one says its rule in the words it was given. None if it is not one."""
    if not isinstance(due, dict):
        return None
    try:
        zone = ZoneInfo(str(due["timezone"]))
        moment = dt.datetime.fromisoformat(due["datetime"]) if due.get("datetime") else None
        local = moment.astimezone(zone) if moment is not None else None
        plain = Due(
            local.date() if local is not None else dt.date.fromisoformat(str(due["date"])),
            local.time().replace(tzinfo=None) if local is not None else None,
            str(due["timezone"]),
            str(due.get("string") or ""),
            None,
        )
    except (KeyError, TypeError, ValueError):
        return None
    said = describe_due(plain, now)
    return f"{plain.string}, next {said}" if due.get("is_recurring") and plain.string else said
