"""Date arithmetic: adding months, and the next weekday, day of the month or rule day on or after a date."""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from typing import Final

from shared.dates.errors import Invalid
from shared.dates.recurrence import Recurrence
from shared.dates.vocabulary import MONTH_NAMES

ONE_DAY: Final = dt.timedelta(days=1)


def clamped(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, monthrange(year, month)[1]))


def add_months(date: dt.date, months: int) -> dt.date:
    index = date.year * 12 + date.month - 1 + months
    return clamped(index // 12, index % 12 + 1, date.day)


def on_weekday(weekday: int, start: dt.date) -> dt.date:
    return start + dt.timedelta(days=(weekday - start.weekday()) % 7)


def _on_weekdays(weekdays: tuple[int, ...], start: dt.date) -> dt.date:
    return min(on_weekday(day, start) for day in weekdays)


def on_month_day(month: int, day: int, start: dt.date) -> dt.date:
    """The next `day` of `month` on or after `start` that exists (Feb 29 waits for a leap year)."""
    for year in range(start.year, start.year + 9):
        if day <= monthrange(year, month)[1] and (found := dt.date(year, month, day)) >= start:
            return found
    raise Invalid("the date is out of range")


def on_day_of_month(day: int, start: dt.date) -> dt.date:
    """The next `day` of any month on or after `start`, skipping months too short for it."""
    for months in range(3):
        first = add_months(start.replace(day=1), months)
        if day <= monthrange(first.year, first.month)[1] and (found := first.replace(day=day)) >= start:
            return found
    raise Invalid("the date is out of range")


def first_of_rule(rule: Recurrence, month: int | None, start: dt.date) -> dt.date:
    """A rule's first occurrence on or after `start`; rules with no day of their own begin on `start`."""
    if rule.weekdays:
        return _on_weekdays(rule.weekdays, start)
    if rule.month_day is None:
        return start
    if rule.unit == "month":
        found = clamped(start.year, start.month, rule.month_day)
        return found if found >= start else clamped(*month_after(start), rule.month_day)
    assert month is not None  # a yearly rule with a day always names its month
    found = clamped(start.year, month, rule.month_day)
    return found if found >= start else clamped(start.year + 1, month, rule.month_day)


def month_after(date: dt.date) -> tuple[int, int]:
    return (date.year + 1, 1) if date.month == 12 else (date.year, date.month + 1)


def check_month_day(month: int, day: int) -> None:
    if not 1 <= day <= (29 if month == 2 else monthrange(2001, month)[1]):
        raise Invalid(f"{MONTH_NAMES[month - 1]} has no day {day}")
