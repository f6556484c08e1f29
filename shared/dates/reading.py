"""Reading text: normalising it, finding a clock time at either end, and what a phrase means before it
is settled against `now` (`When`, in a `Context`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

from shared.dates.errors import Invalid
from shared.dates.recurrence import Recurrence
from shared.dates.vocabulary import MONTHS, WEEKDAYS

Next = Callable[[dt.date], dt.date]


@dataclass(frozen=True)
class Clock:
    """A time of day as written; `time()` applies am/pm and the evening hint."""

    hour: int
    minute: int = 0
    second: int = 0
    meridiem: str | None = None
    midnight: bool = False

    def time(self, evening: bool) -> dt.time:
        hour = self.hour
        if self.meridiem == "pm" and hour != 12:
            hour += 12
        elif self.meridiem == "am" and hour == 12:
            hour = 0
        elif self.meridiem is None and evening and 1 <= hour <= 11:
            hour += 12
        return dt.time(hour, self.minute, self.second)


@dataclass(frozen=True)
class When:
    """What a phrase (without its clock time) means before settling against `now`.

    `date` is the date, or for phrases meaning "the next such day" the first day that may count, with
    `again` giving the next such day on or after a date. `exact` marks a moment ("in 2 hours") that takes
    no other time. `rule` and `rule_month` (a yearly rule's month) make it repeat.
    """

    date: dt.date
    time: dt.time | None = None
    evening: bool = False
    exact: bool = False
    again: Next | None = field(default=None, compare=False)
    rule: Recurrence | None = None
    rule_month: int | None = None


@dataclass(frozen=True)
class Context:
    now: dt.datetime  # aware, in `zone`
    today: dt.date
    zone: ZoneInfo


def _alternation(words: dict[str, int]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


WD: Final = rf"(?:{_alternation(WEEKDAYS)})"
WD_LIST: Final = rf"{WD}(?:(?:\s*&\s*|\s+and\s+|\s+){WD})*"
MON: Final = rf"(?:{_alternation(MONTHS)})"
ORDINAL: Final = r"(?:st|nd|rd|th)"
_CLOCK_SOURCE: Final = (
    r"(?:noon|midday|midnight|\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{1,2}:\d{2}(?::\d{2})?|\d{1,2})"
)


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


_MERIDIEM_DOTS: Final = rx(r"\b([ap])\.m\b\.?")
TRAILING: Final = re.compile(r"[\s.,;:!?]+$")
_CLOCK: Final = rx(
    r"(?P<word>noon|midday|midnight)"
    r"|(?P<h12>\d{1,2})(?::(?P<m12>\d{2}))?\s*(?P<mer>am|pm)"
    r"|(?P<h24>\d{1,2}):(?P<m24>\d{2})(?::(?P<s24>\d{2}))?"
    r"|(?P<bare>\d{1,2})"
)
_CLOCK_LAST: Final = rx(rf"(?:(?P<body>.*?)\s+)?(?P<at>at\s+)?(?P<clock>{_CLOCK_SOURCE})")
_CLOCK_FIRST: Final = rx(rf"(?P<at>at\s+)?(?P<clock>{_CLOCK_SOURCE})(?:\s+(?P<body>.+))?")


def normalise(text: str) -> str:
    """Lower case, "p.m." as "pm", "@" as "at", commas as spaces, no trailing punctuation, single spaces."""
    lowered = _MERIDIEM_DOTS.sub(r"\1m", text.lower()).replace("@", " at ").replace(",", " ")
    return " ".join(TRAILING.sub("", lowered).split())


def _read_clock(text: str, after_at: bool) -> Clock | None:
    """A clock time; a bare hour ("9") counts only after "at". Impossible values raise Invalid."""
    match = _CLOCK.fullmatch(text)
    if match is None or (match["bare"] is not None and not after_at):
        return None
    if match["word"] is not None:
        return Clock(0, midnight=True) if match["word"] == "midnight" else Clock(12)
    if match["h12"] is not None:
        hour, minute, second, meridiem = int(match["h12"]), int(match["m12"] or 0), 0, match["mer"]
        if not 1 <= hour <= 12:
            raise Invalid(f"there is no {hour}{meridiem}")
    else:
        hour = int(match["h24"] or match["bare"])
        minute, second, meridiem = int(match["m24"] or 0), int(match["s24"] or 0), None
        if hour > 23:
            raise Invalid(f"there is no hour {hour} (use 0-23, or 1-12 with am/pm)")
    if minute > 59 or second > 59:
        raise Invalid("minutes and seconds go up to 59")
    return Clock(hour, minute, second, meridiem)


def readings(text: str) -> Iterator[tuple[str, Clock | Invalid | None]]:
    """Ways to read the text: a clock time at its end, then at its start, then none."""
    for pattern in (_CLOCK_LAST, _CLOCK_FIRST):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        try:
            clock = _read_clock(match["clock"], match["at"] is not None)
        except Invalid as invalid:
            yield text, invalid
            continue
        if clock is not None:
            yield match["body"] or "", clock
    yield text, None
