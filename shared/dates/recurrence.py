"""`Recurrence`: a repeating rule, and its stored text form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, get_args

from shared.dates.rules import MAX_INTERVAL
from shared.dates.vocabulary import UNIT_NAMES, Unit


@dataclass(frozen=True)
class Recurrence:
    """A repeating rule: every `interval` units, optionally on some weekdays or on a day of the month.

    `weekdays` (0=Mon..6=Sun, sorted, distinct) only with unit "week": the rule falls on those days of every
    `interval`-th week, counted from the week of the current due. `month_day` only with "month" and "year":
    the day it falls on, clamped to the month's last day and kept for later months (a yearly rule's month is
    the due's month). Stored as `to_text()`, e.g. "week;1;0,3", "month;1;;31", "day;3".
    """

    unit: Unit
    interval: int
    weekdays: tuple[int, ...] = ()
    month_day: int | None = None

    def __post_init__(self) -> None:
        if self.unit not in get_args(Unit):
            raise ValueError(f"unknown recurrence unit {self.unit!r}")
        if type(self.interval) is not int or not 1 <= self.interval <= MAX_INTERVAL:
            raise ValueError(f"recurrence interval must be from 1 to {MAX_INTERVAL}, not {self.interval!r}")
        if self.weekdays and (
            self.unit != "week"
            or self.weekdays != tuple(sorted(set(self.weekdays)))
            or not all(type(day) is int and 0 <= day <= 6 for day in self.weekdays)
        ):
            raise ValueError(f"weekdays must be distinct, sorted 0-6 and only weekly, not {self.weekdays!r}")
        if self.month_day is not None and (
            self.unit not in ("month", "year")
            or type(self.month_day) is not int
            or not 1 <= self.month_day <= 31
        ):
            raise ValueError(f"month_day must be 1-31 and only monthly or yearly, not {self.month_day!r}")

    def to_text(self) -> str:
        """The canonical form: "unit;interval[;weekdays[;month_day]]", trailing empty fields left out."""
        parts = [self.unit, str(self.interval)]
        if self.weekdays or self.month_day is not None:
            parts.append(",".join(str(day) for day in self.weekdays))
        if self.month_day is not None:
            parts.append(str(self.month_day))
        return ";".join(parts)

    @classmethod
    def from_text(cls, text: str) -> Recurrence:
        """Read `to_text()` output back; anything not in canonical form is a ValueError."""
        match = _RULE_TEXT.fullmatch(text)
        if match is None:
            raise ValueError(f"not a stored recurrence: {text!r}")
        unit, interval, weekdays, month_day = match.groups()
        try:
            rule = cls(
                unit=UNIT_NAMES[unit],
                interval=int(interval),
                weekdays=tuple(int(day) for day in weekdays.split(",")) if weekdays else (),
                month_day=int(month_day) if month_day else None,
            )
        except ValueError as invalid:
            raise ValueError(f"not a stored recurrence: {text!r} ({invalid})") from invalid
        if rule.to_text() != text:
            raise ValueError(f"not a stored recurrence: {text!r}")
        return rule


_RULE_TEXT: Final = re.compile(
    r"(day|week|month|year);(\d{1,3})(?:;([0-6](?:,[0-6])*)?(?:;(\d{1,2}))?)?", re.A
)
