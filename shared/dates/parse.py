"""`parse_due`: a due phrase, or ISO 8601, resolved in a zone relative to an aware `now`."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Final
from zoneinfo import ZoneInfo

from shared.dates.days import ONE_DAY
from shared.dates.due import Due
from shared.dates.errors import DueParseError, Invalid
from shared.dates.handlers import read_body
from shared.dates.reading import Clock, Context, When, normalise, readings, rx
from shared.dates.recurrence import Recurrence
from shared.dates.rules import MAX_TEXT_LENGTH, MAX_YEAR, MIN_YEAR
from shared.dates.zones import check_zone, local_moment, require_aware

_EXAMPLES: Final = (
    'try "tomorrow at 9", "next friday", "in 3 days", "dec 24", "2026-12-24T09:00" or "every monday at 9am"'
)
_ISO_MOMENT: Final = rx(
    r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:z|[+-]\d{2}(?::?\d{2})?)?"
)


def _settle(when: When, clock: Clock | None, ctx: Context) -> tuple[dt.date, dt.time | None]:
    """The date and time a phrase means at `ctx.now`: "the next such day" moves on past a time gone by."""
    if clock is not None and when.exact:
        raise Invalid("it already says the time")
    time = clock.time(when.evening) if clock is not None else when.time
    midnight = clock is not None and clock.midnight
    date = when.date if when.again is None else when.again(when.date)
    shift = dt.timedelta(days=1 if midnight else 0)
    if when.again is not None and time is not None and local_moment(date + shift, time, ctx.zone) <= ctx.now:
        date = when.again(date + ONE_DAY)
    return date + shift, time


def _error(text: str, reason: str | None = None) -> DueParseError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    because = f": {reason}" if reason else ""
    return DueParseError(f'cannot read "{shown}" as a date{because}; {_EXAMPLES}')


def _iso_moment(text: str, zone: ZoneInfo) -> tuple[dt.date, dt.time] | None:
    if _ISO_MOMENT.fullmatch(text) is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.upper())
        local = parsed.astimezone(zone) if parsed.tzinfo is not None else parsed
    except (ValueError, OverflowError):
        raise Invalid("it is not a calendar date and time") from None
    return local.date(), local.time().replace(microsecond=0)


def parse_due(text: str, now: dt.datetime, zone: str) -> Due:
    """Read a due phrase, resolved in `zone` relative to the aware `now` (rules: AMBIGUITY_RULES).

    Accepted, case-insensitive, extra spaces and trailing punctuation ignored, at most 200 characters:
    ISO 8601 ("2026-12-24", "2026-12-24T09:00", with an offset it is converted to `zone`); "today",
    "tonight", "tomorrow", "yesterday", "day after tomorrow", "this evening", "<day> morning|afternoon|
    evening|night", "noon", "midnight"; weekdays ("fri", "on friday", "this/next friday"); "in N
    minutes|hours|days|weeks|months|years" ("a"/"an" for 1), "next week|month|year", "end of
    week|month|year", "this/next weekend"; month names ("dec 24", "24th of december 2027") and "the 15th";
    a time before or after any of them ("at 9", "9:30pm", "21:00", "at noon"); and repeats ("daily",
    "every weekday", "every mon and thu at 9am", "every other week", "every 2 weeks on friday", "every
    month on the 15th", "every 31st", "every jan 1", "yearly"). An optional leading "on", "by" or "due"
    is ignored. Numeric dates other than ISO and bare numbers ("tomorrow 9") are refused.

    Raises DueParseError naming the text when it cannot be read, and InvalidZone (a DueParseError) for a
    zone that is not an IANA name.
    """
    tz = check_zone(zone)
    require_aware(now, "now")
    asked = text.strip()
    if len(asked) > MAX_TEXT_LENGTH:
        raise _error(asked, f"it is longer than {MAX_TEXT_LENGTH} characters")
    normal = normalise(asked)
    if not normal:
        raise _error(asked, "it is empty")
    local_now = now.astimezone(tz)
    try:
        date, time, rule = _resolve(normal, Context(local_now, local_now.date(), tz), tz)
    except Invalid as invalid:
        raise _error(asked, str(invalid)) from None
    if not MIN_YEAR <= date.year <= MAX_YEAR:
        raise _error(asked, f"it is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return Due(date=date, time=time, timezone=tz.key, string=asked, recurrence=rule)


def _resolve(text: str, ctx: Context, zone: ZoneInfo) -> tuple[dt.date, dt.time | None, Recurrence | None]:
    """Try each reading; the first that resolves wins, else the first specific reason, else unreadable."""
    iso = _iso_moment(text, zone)
    if iso is not None:
        return iso[0], iso[1], None
    reason: Invalid | None = None
    for body, clock in readings(text):
        if isinstance(clock, Invalid):
            reason = reason or clock
            continue
        try:
            when = read_body(body, ctx)
            if when is None:
                continue
            date, time = _settle(when, clock, ctx)
        except Invalid as invalid:
            reason = reason or invalid
            continue
        return date, time, _anchored(when, date)
    raise reason or Invalid("")


def _anchored(when: When, date: dt.date) -> Recurrence | None:
    """Monthly and yearly rules remember the day they started on, so a 31st survives February."""
    rule = when.rule
    if rule is not None and rule.unit in ("month", "year") and rule.month_day is None:
        return replace(rule, month_day=date.day)
    return rule
