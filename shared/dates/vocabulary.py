"""The words due phrases are made of: repeat units, weekday and month names and their short forms."""

from __future__ import annotations

from typing import Final, Literal

Unit = Literal["day", "week", "month", "year"]
UNIT_NAMES: Final[dict[str, Unit]] = {"day": "day", "week": "week", "month": "month", "year": "year"}

WEEKDAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS: Final = {
    **{name.lower(): index for index, name in enumerate(WEEKDAY_NAMES)},
    **{name[:3].lower(): index for index, name in enumerate(WEEKDAY_NAMES)},
    "tues": 1, "thur": 3, "thurs": 3,
}  # fmt: skip
MONTHS: Final = {
    **{name.lower(): index for index, name in enumerate(MONTH_NAMES, start=1)},
    **{name[:3].lower(): index for index, name in enumerate(MONTH_NAMES, start=1)},
    "sept": 9,
}  # fmt: skip
