"""Due dates from what people type, resolved in the caller's time zone, with repeating rules.

`parse_due` reads a phrase ("tomorrow at 9", "dec 24", "every monday at 9am", ISO 8601) relative to an
aware `now` in an IANA zone and returns a `Due`; `next_occurrence` moves a repeating due on when its task is
completed; `describe_due` says a due for people; `split_due_phrase` finds a due phrase at either end of a
sentence. Everything here is a pure function of its arguments: no clock, no database. How ambiguous texts
resolve is stated once, in `AMBIGUITY_RULES`, for tool descriptions.

The rules in short: dates resolve in the caller's zone; a weekday, a date without a year, a time alone and
the first date of a repeating rule mean the next such moment; hours without am/pm use the 24-hour clock
except after "tonight", "afternoon", "evening" or "night"; numeric dates other than ISO 8601 are refused; a
local time skipped by a clock change moves forward by the gap, a repeated one means the first; a monthly or
yearly repeat on the 29th-31st falls on a shorter month's last day.

The modules, each importing only those above it: `errors`, `vocabulary` and `rules` (the words and the
limits), `zones`, `recurrence`, `due`, `days` (date arithmetic), `reading` (normalising text, clock times),
`handlers` (the phrase grammar), `parse` (`parse_due`), `occurrences` (`next_occurrence`), `describe`
(`describe_due`) and `phrases` (`split_due_phrase`).
"""

from shared.dates.describe import describe_due, describe_due_json
from shared.dates.due import Due
from shared.dates.errors import DueParseError, InvalidZone
from shared.dates.occurrences import next_occurrence
from shared.dates.parse import parse_due
from shared.dates.phrases import split_due_phrase
from shared.dates.recurrence import Recurrence
from shared.dates.rules import AMBIGUITY_RULES, MAX_INTERVAL, MAX_TEXT_LENGTH, MAX_YEAR, MIN_YEAR
from shared.dates.vocabulary import Unit
from shared.dates.zones import check_zone

__all__ = [
    "AMBIGUITY_RULES",
    "MAX_INTERVAL",
    "MAX_TEXT_LENGTH",
    "MAX_YEAR",
    "MIN_YEAR",
    "Due",
    "DueParseError",
    "InvalidZone",
    "Recurrence",
    "Unit",
    "check_zone",
    "describe_due",
    "describe_due_json",
    "next_occurrence",
    "parse_due",
    "split_due_phrase",
]
