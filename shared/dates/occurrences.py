"""`next_occurrence`: where a repeating due moves when its task is completed."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

from shared.dates.days import clamped
from shared.dates.due import Due
from shared.dates.recurrence import Recurrence
from shared.dates.zones import require_aware


def next_occurrence(due: Due, after: dt.datetime) -> Due:
    """The due a repeating task moves to when completed at `after` (aware).

    Todoist's semantics: the first occurrence of the rule whose date is strictly after both the current due
    date and `after`'s date in the due's zone (so an overdue task skips the dates already gone, today
    included). Occurrences are counted from the current due: every N days or weeks from it; on the rule's
    weekdays in every N-th week from its week; every N months or years from it on `month_day` (or its day),
    clamped to the month's last day. The wall-clock time, `string`, `recurrence` and `timezone` stay, so
    09:00 stays 09:00 local across a clock change. Raises ValueError if the due does not repeat.
    """
    rule = due.recurrence
    if rule is None:
        raise ValueError("the due does not repeat")
    require_aware(after, "after")
    today = after.astimezone(ZoneInfo(due.timezone)).date()
    return replace(due, date=_occurrence_after(rule, due.date, max(due.date, today)))


def _occurrence_after(rule: Recurrence, anchor: dt.date, base: dt.date) -> dt.date:
    if rule.unit == "day" or (rule.unit == "week" and not rule.weekdays):
        step = rule.interval * (7 if rule.unit == "week" else 1)
        return anchor + dt.timedelta(days=step * ((base - anchor).days // step + 1))
    if rule.unit == "week":
        monday = anchor - dt.timedelta(days=anchor.weekday())
        weeks = (base - monday).days // 7 // rule.interval * rule.interval
        candidates = (
            monday + dt.timedelta(weeks=week, days=day)
            for week in (weeks, weeks + rule.interval)
            for day in rule.weekdays
        )
        return next(day for day in candidates if day > base)
    months_per_step = rule.interval * (12 if rule.unit == "year" else 1)
    day = rule.month_day or anchor.day
    start = anchor.year * 12 + anchor.month - 1
    steps = max(1, (base.year * 12 + base.month - 1 - start) // months_per_step)
    while True:
        index = start + steps * months_per_step
        found = clamped(index // 12, index % 12 + 1, day)
        if found > base:
            return found
        steps += 1
