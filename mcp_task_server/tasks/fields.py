"""What a task's newer fields look like in the database, from what a caller gave.

- priority: "none" | "low" | "medium" | "high", stored 0-3 so that sorting by it sorts by importance;
- tags: lowercase, 1-50 characters, at most 20, a leading "#" dropped, duplicates merged, order kept;
- due: natural language or ISO 8601 (shared.dates), resolved in the caller's time zone and stored as the
  local date, the instant when it has a time, the zone, what was asked and the recurrence rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.dates import Due, DueParseError, InvalidZone, check_zone, parse_due
from shared.schemas import PRIORITY_LEVELS, Priority

from ..errors import InvalidArgument
from ..models import TAG_MAX, TAGS_MAX
from .repository import DUE_FIELDS


def priority_value(priority: Priority) -> int:
    return PRIORITY_LEVELS.index(priority)


def clean_tags(tags: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        value = " ".join(tag.strip().lstrip("#").lower().split())
        if not value or len(value) > TAG_MAX:
            raise InvalidArgument(f"tags: each tag is 1-{TAG_MAX} characters (after dropping a leading #).")
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > TAGS_MAX:
        raise InvalidArgument(f"tags: at most {TAGS_MAX} tags per task.")
    return cleaned


def zone_or_error(zone: str) -> str:
    """The canonical IANA key ("europe/berlin" gives "Europe/Berlin"), or invalid_argument."""
    try:
        return check_zone(zone).key
    except InvalidZone as e:
        raise InvalidArgument(f"timezone: {e}") from None


def due_columns(text: str, now: datetime, zone: str) -> dict[str, Any]:
    """The DUE_FIELDS for `text` ("" clears the due date)."""
    if not text.strip():
        return dict.fromkeys(DUE_FIELDS)
    try:
        due = parse_due(text, now, zone)
    except DueParseError as e:
        raise InvalidArgument(f"due: {e}") from None
    return columns_of(due)


def columns_of(due: Due) -> dict[str, Any]:
    return {
        "due_date": due.date,
        "due_datetime": due.datetime(),
        "due_timezone": due.timezone,
        "due_string": due.string,
        "due_recurrence": due.recurrence.to_text() if due.recurrence else None,
    }
