"""IANA time zones and local wall times in them, across clock changes."""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from shared.dates.errors import InvalidZone


def local_moment(date: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The wall time on `date` in `zone`. A time skipped by a clock change moves forward by the gap
    (02:30 on a 02:00->03:00 night is 03:30); a repeated time is the first one unless `time.fold` is 1."""
    local = dt.datetime.combine(date, time, tzinfo=zone)
    probe = local.replace(fold=0).astimezone(dt.UTC).astimezone(zone)
    if probe.replace(tzinfo=None) != local.replace(tzinfo=None):
        return probe
    return local


@cache
def _zone_keys() -> dict[str, str]:
    """Lower-cased IANA names to their keys, read from the tz database once, on first use."""
    excluded = {"localtime", "posixrules", "factory"}
    return {key.lower(): key for key in available_timezones() if key.lower() not in excluded}


def check_zone(zone: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name such as "Europe/Berlin" (case-insensitive; the canonical key is used).

    Anything else, including "", file paths and "localtime", raises InvalidZone naming the zone.
    """
    key = _zone_keys().get(zone.lower()) if isinstance(zone, str) and len(zone) <= 64 else None
    if key is None:
        shown = zone[:64] if isinstance(zone, str) else repr(zone)
        raise InvalidZone(f'unknown time zone "{shown}": use an IANA name such as "Europe/Berlin" or "UTC"')
    return ZoneInfo(key)


def require_aware(moment: dt.datetime, name: str) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
