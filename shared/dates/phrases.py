"""`split_due_phrase`: a due phrase found at either end of a sentence."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from shared.dates.errors import DueParseError
from shared.dates.parse import parse_due
from shared.dates.reading import TRAILING, normalise
from shared.dates.rules import MAX_TEXT_LENGTH
from shared.dates.vocabulary import MONTHS, WEEKDAYS

_SPLIT_NOW: Final = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
_MAX_PHRASE_WORDS: Final = 8
_WORD: Final = re.compile(r"\S+")
_EDGE_SEPARATORS: Final = re.compile(r"^[\s,;:\-\u2013\u2014]+|[\s,;:\-\u2013\u2014]+$")
_NEVER_ALONE: Final = frozenset({name for name in WEEKDAYS if len(name) < 6} | {"midnight", "noon"})
# Every phrase parse_due reads has a digit or one of these words. Checking for them first spares the up to
# sixteen parses a sentence without any ("buy milk and eggs") would cost: split_due_phrase runs on every
# task the builtin model adds.
_DATE_WORDS: Final = (
    frozenset(WEEKDAYS)
    | frozenset(MONTHS)
    | frozenset(
        [
            "today",
            "tonight",
            "tomorrow",
            "tmr",
            "tmrw",
            "yesterday",
            "noon",
            "midnight",
            "midday",
            "morning",
            "afternoon",
            "evening",
            "night",
            "week",
            "weeks",
            "weekend",
            "weekends",
            "weekday",
            "weekdays",
            "workday",
            "workdays",
            "month",
            "months",
            "year",
            "years",
            "day",
            "days",
            "daily",
            "weekly",
            "monthly",
            "yearly",
            "annually",
            "hour",
            "hours",
            "hr",
            "hrs",
            "min",
            "mins",
            "minute",
            "minutes",
            "second",
            "seconds",
            "every",
            "next",
            "end",
            "half",
            "fortnight",
            "quarter",
        ]
    )
)
_TOKEN: Final = re.compile(r"[a-z]+|\d")


def _could_hold_a_date(text: str) -> bool:
    return any(token.isdigit() or token in _DATE_WORDS for token in _TOKEN.findall(text.lower()))


def _is_due_phrase(phrase: str) -> bool:
    """A phrase parse_due accepts, other than one word that is usually something else ("sun", "wed")."""
    if normalise(phrase) in _NEVER_ALONE:
        return False
    try:
        parse_due(phrase, _SPLIT_NOW, "UTC")
    except DueParseError:
        return False
    return True


def _longest_phrase(text: str, spans: list[tuple[int, int]], at_end: bool) -> tuple[str, str] | None:
    for count in range(min(len(spans) - 1, _MAX_PHRASE_WORDS), 0, -1):
        cut = spans[-count][0] if at_end else spans[count - 1][1]
        title, phrase = (text[:cut], text[cut:]) if at_end else (text[cut:], text[:cut])
        title = _EDGE_SEPARATORS.sub("", title)
        if any(char.isalnum() for char in title) and _is_due_phrase(phrase):
            return title, TRAILING.sub("", phrase.strip())
    return None


def split_due_phrase(text: str) -> tuple[str, str | None]:
    """Split a due phrase off the start or end of a sentence: "call mom tomorrow at 9" and "tomorrow at 9
    call mom" give ("call mom", "tomorrow at 9"); "buy milk" gives ("buy milk", None).

    Only phrases parse_due accepts count, the longest wins (the end on a tie), at most eight words, and
    something must remain. Conservative: a lone number ("read 1984", "buy 2 apples"), a month alone ("call
    may") and a short weekday word alone ("sun", "wed") are never dates.
    """
    stripped = text.strip()
    if len(stripped) > 2 * MAX_TEXT_LENGTH or not _could_hold_a_date(stripped):
        return stripped, None
    spans = [match.span() for match in _WORD.finditer(stripped)]
    at_end = _longest_phrase(stripped, spans, at_end=True)
    at_start = _longest_phrase(stripped, spans, at_end=False)
    if at_end is None or (at_start is not None and len(at_start[1]) > len(at_end[1])):
        at_end = at_start
    if at_end is None:
        return stripped, None
    return at_end[0], at_end[1]
