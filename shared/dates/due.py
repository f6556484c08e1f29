"""`Due`: a resolved due date, optionally with a time and a repeating rule, and its wire shape."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shared.dates.recurrence import Recurrence
from shared.dates.zones import local_moment


@dataclass(frozen=True)
class Due:
    """A resolved due: a local date, an optional local wall time, the zone they are in, what was asked."""

    date: dt.date
    time: dt.time | None
    timezone: str
    string: str
    recurrence: Recurrence | None

    @property
    def is_recurring(self) -> bool:
        return self.recurrence is not None

    def datetime(self) -> dt.datetime | None:
        """The aware moment in `timezone`, or None when all-day. See `local_moment` for clock changes."""
        if self.time is None:
            return None
        return local_moment(self.date, self.time, ZoneInfo(self.timezone))

    def to_json(self) -> dict[str, object]:
        """The wire shape (Todoist's fields): date, datetime (ISO 8601 with offset, or None), timezone, ..."""
        moment = self.datetime()
        return {
            "date": self.date.isoformat(),
            "datetime": moment.isoformat() if moment is not None else None,
            "timezone": self.timezone,
            "string": self.string,
            "is_recurring": self.is_recurring,
        }
