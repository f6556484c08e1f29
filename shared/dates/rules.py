"""The limits on what `parse_due` accepts, and how ambiguous texts resolve (`AMBIGUITY_RULES`)."""

from __future__ import annotations

from typing import Final

MAX_TEXT_LENGTH: Final = 200
MAX_INTERVAL: Final = 999
MIN_YEAR: Final = 1900
MAX_YEAR: Final = 2999

AMBIGUITY_RULES: Final = (
    "Dates resolve in the caller's time zone. A weekday, a date without a year ('dec 24', 'the 15th'), a "
    "time alone ('at 5pm') and the first date of a repeating rule mean the next such moment: today counts "
    "only if it is all-day or its time is still ahead. 'next friday' is the same but never today; 'next "
    "week' is next Monday, 'next month' the 1st of next month, 'end of week' the coming Friday, 'this "
    "weekend' the coming Saturday. Hours without am/pm use the 24-hour clock ('at 5' is 05:00, so write "
    "'5pm'), except after 'tonight', 'afternoon', 'evening' or 'night', where 1-11 mean pm. 'morning' is "
    "09:00, 'afternoon' 15:00, 'evening' 18:00, 'tonight' 20:00, 'midnight' the end of the day named (00:00 "
    "of the next). Numeric dates other than ISO 8601 (2026-12-24) are refused, since 03/04 reads two ways: "
    "name the month ('4 mar'). 'in 2 hours' counts clock time; 'in a month' keeps the day of the month or "
    "takes the month's last day. A local time skipped by a clock change moves forward by the gap; a repeated"
    " one means the first. A monthly or yearly repeat on the 29th-31st falls on the month's last day when "
    "shorter. Completing a repeating task moves it to the first occurrence after both its date and today."
)
