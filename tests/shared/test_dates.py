"""Due-date phrases as a user types them, resolved against fixed clocks in several zones.

Every accepted phrase asserts the full wire shape (`to_json`); the clocks sit next to the 2026 clock changes
(Europe/Berlin 29 Mar and 25 Oct, America/Los_Angeles 8 Mar and 1 Nov) and the 2028 leap day.
"""

from __future__ import annotations

import datetime as dt
import json
from calendar import monthrange
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.dates import (
    AMBIGUITY_RULES,
    Due,
    DueParseError,
    InvalidZone,
    Recurrence,
    check_zone,
    describe_due,
    next_occurrence,
    parse_due,
    split_due_phrase,
)

UTC, LA, TOKYO, BERLIN = "UTC", "America/Los_Angeles", "Asia/Tokyo", "Europe/Berlin"


def at(zone: str, text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


NOW = {
    "utc": (UTC, at(UTC, "2026-12-03T10:00")),  # a Thursday
    "tokyo": (TOKYO, at(TOKYO, "2026-12-03T23:30")),  # 14:30 UTC, a Thursday
    "berlin-spring": (BERLIN, at(BERLIN, "2026-03-28T12:00")),  # Saturday; 02:00 -> 03:00 tomorrow
    "berlin-autumn": (BERLIN, at(BERLIN, "2026-10-24T12:00")),  # Saturday; 03:00 -> 02:00 tomorrow
    "la-spring": (LA, at(LA, "2026-03-07T12:00")),  # Saturday; 02:00 -> 03:00 tomorrow
    "la-autumn": (LA, at(LA, "2026-10-31T12:00")),  # Saturday; 02:00 -> 01:00 tomorrow
    "leap": (UTC, at(UTC, "2028-02-28T09:00")),  # Monday, the day before a leap day
}

# (clock, text, date, datetime or None, is_recurring)
PHRASES: list[tuple[str, str, str, str | None, bool]] = [
    # ISO 8601
    ("utc", "2026-12-24", "2026-12-24", None, False),
    ("utc", "2026-12-24T09:00", "2026-12-24", "2026-12-24T09:00:00+00:00", False),
    ("utc", "2026-12-24 09:00", "2026-12-24", "2026-12-24T09:00:00+00:00", False),
    ("utc", "2026-12-24T09:00:00+01:00", "2026-12-24", "2026-12-24T08:00:00+00:00", False),
    ("utc", "2026-12-24 at 9am", "2026-12-24", "2026-12-24T09:00:00+00:00", False),
    # Day words and parts of the day
    ("utc", "today", "2026-12-03", None, False),
    ("utc", "tonight", "2026-12-03", "2026-12-03T20:00:00+00:00", False),
    ("utc", "tomorrow", "2026-12-04", None, False),
    ("utc", "yesterday", "2026-12-02", None, False),
    ("utc", "day after tomorrow", "2026-12-05", None, False),
    ("utc", "this evening", "2026-12-03", "2026-12-03T18:00:00+00:00", False),
    ("utc", "tomorrow morning", "2026-12-04", "2026-12-04T09:00:00+00:00", False),
    ("utc", "noon", "2026-12-03", "2026-12-03T12:00:00+00:00", False),
    ("utc", "midnight", "2026-12-04", "2026-12-04T00:00:00+00:00", False),
    ("utc", "  Friday.  ", "2026-12-04", None, False),
    # Weekdays: today counts unless "next" or the time has gone
    ("utc", "fri", "2026-12-04", None, False),
    ("utc", "next friday", "2026-12-04", None, False),
    ("utc", "this friday", "2026-12-04", None, False),
    ("utc", "on friday", "2026-12-04", None, False),
    ("utc", "thursday", "2026-12-03", None, False),
    ("utc", "next thursday", "2026-12-10", None, False),
    ("utc", "thursday at 9", "2026-12-10", "2026-12-10T09:00:00+00:00", False),
    ("utc", "thursday at 11", "2026-12-03", "2026-12-03T11:00:00+00:00", False),
    # Relative
    ("utc", "in 3 days", "2026-12-06", None, False),
    ("utc", "in 2 weeks", "2026-12-17", None, False),
    ("utc", "in a month", "2027-01-03", None, False),
    ("utc", "in 1 year", "2027-12-03", None, False),
    ("utc", "in 2 hours", "2026-12-03", "2026-12-03T12:00:00+00:00", False),
    ("utc", "in 30 minutes", "2026-12-03", "2026-12-03T10:30:00+00:00", False),
    ("utc", "next week", "2026-12-07", None, False),
    ("utc", "next month", "2027-01-01", None, False),
    ("utc", "end of week", "2026-12-04", None, False),
    ("utc", "end of month", "2026-12-31", None, False),
    ("utc", "end of year", "2026-12-31", None, False),
    ("utc", "this weekend", "2026-12-05", None, False),
    # Month names
    ("utc", "dec 24", "2026-12-24", None, False),
    ("utc", "24 dec", "2026-12-24", None, False),
    ("utc", "December 24th", "2026-12-24", None, False),
    ("utc", "dec 24, 2027", "2027-12-24", None, False),
    ("utc", "feb 29", "2028-02-29", None, False),
    ("utc", "dec 3", "2026-12-03", None, False),
    ("utc", "dec 3 at 9", "2027-12-03", "2027-12-03T09:00:00+00:00", False),
    ("utc", "the 15th", "2026-12-15", None, False),
    # Times
    ("utc", "at 9", "2026-12-04", "2026-12-04T09:00:00+00:00", False),
    ("utc", "at 9am", "2026-12-04", "2026-12-04T09:00:00+00:00", False),
    ("utc", "9:30pm", "2026-12-03", "2026-12-03T21:30:00+00:00", False),
    ("utc", "21:00", "2026-12-03", "2026-12-03T21:00:00+00:00", False),
    ("utc", "at noon", "2026-12-03", "2026-12-03T12:00:00+00:00", False),
    ("utc", "at 5pm", "2026-12-03", "2026-12-03T17:00:00+00:00", False),
    ("utc", "tomorrow at 9", "2026-12-04", "2026-12-04T09:00:00+00:00", False),
    ("utc", "tomorrow   at  9!", "2026-12-04", "2026-12-04T09:00:00+00:00", False),
    ("utc", "Tomorrow at 9 P.M.", "2026-12-04", "2026-12-04T21:00:00+00:00", False),
    ("utc", "at 9 tomorrow", "2026-12-04", "2026-12-04T09:00:00+00:00", False),
    ("utc", "friday 5pm", "2026-12-04", "2026-12-04T17:00:00+00:00", False),
    ("utc", "dec 24 at 10:30", "2026-12-24", "2026-12-24T10:30:00+00:00", False),
    ("utc", "tonight at 9", "2026-12-03", "2026-12-03T21:00:00+00:00", False),
    # Repeating: the first occurrence on or after now
    ("utc", "every day", "2026-12-03", None, True),
    ("utc", "daily", "2026-12-03", None, True),
    ("utc", "every day at 9", "2026-12-04", "2026-12-04T09:00:00+00:00", True),
    ("utc", "every weekday", "2026-12-03", None, True),
    ("utc", "every weekend", "2026-12-05", None, True),
    ("utc", "weekly", "2026-12-03", None, True),
    ("utc", "every week", "2026-12-03", None, True),
    ("utc", "every monday", "2026-12-07", None, True),
    ("utc", "every mon and thu", "2026-12-03", None, True),
    ("utc", "every monday at 9am", "2026-12-07", "2026-12-07T09:00:00+00:00", True),
    ("utc", "every 2 weeks", "2026-12-03", None, True),
    ("utc", "every other week", "2026-12-03", None, True),
    ("utc", "every 3 days", "2026-12-03", None, True),
    ("utc", "monthly", "2026-12-03", None, True),
    ("utc", "every month", "2026-12-03", None, True),
    ("utc", "every month on the 15th", "2026-12-15", None, True),
    ("utc", "every 31st", "2026-12-31", None, True),
    ("utc", "every year", "2026-12-03", None, True),
    ("utc", "yearly", "2026-12-03", None, True),
    ("utc", "every jan 1", "2027-01-01", None, True),
    ("utc", "every 2 weeks on friday", "2026-12-04", None, True),
    # Tokyo: late evening, so "today" there is not today in UTC's terms for long
    ("tokyo", "today", "2026-12-03", None, False),
    ("tokyo", "tomorrow at 9", "2026-12-04", "2026-12-04T09:00:00+09:00", False),
    ("tokyo", "in 2 hours", "2026-12-04", "2026-12-04T01:30:00+09:00", False),
    ("tokyo", "at 11pm", "2026-12-04", "2026-12-04T23:00:00+09:00", False),
    ("tokyo", "midnight", "2026-12-04", "2026-12-04T00:00:00+09:00", False),
    ("tokyo", "2026-12-24T09:00:00+01:00", "2026-12-24", "2026-12-24T17:00:00+09:00", False),
    ("tokyo", "2026-12-24T20:00Z", "2026-12-25", "2026-12-25T05:00:00+09:00", False),
    ("tokyo", "every weekday at 8", "2026-12-04", "2026-12-04T08:00:00+09:00", True),
    # Berlin, spring forward: 02:30 does not exist on 29 Mar and moves forward to 03:30
    ("berlin-spring", "tomorrow at 2:30", "2026-03-29", "2026-03-29T03:30:00+02:00", False),
    ("berlin-spring", "tomorrow at 9", "2026-03-29", "2026-03-29T09:00:00+02:00", False),
    ("berlin-spring", "tonight", "2026-03-28", "2026-03-28T20:00:00+01:00", False),
    ("berlin-spring", "in 24 hours", "2026-03-29", "2026-03-29T13:00:00+02:00", False),
    ("berlin-spring", "every day at 2:30", "2026-03-29", "2026-03-29T03:30:00+02:00", True),
    ("berlin-spring", "sunday", "2026-03-29", None, False),
    # Berlin, fall back: 02:30 happens twice on 25 Oct; a wall time means the first
    ("berlin-autumn", "tomorrow at 2:30", "2026-10-25", "2026-10-25T02:30:00+02:00", False),
    ("berlin-autumn", "tomorrow at 12:00", "2026-10-25", "2026-10-25T12:00:00+01:00", False),
    ("berlin-autumn", "in 24 hours", "2026-10-25", "2026-10-25T11:00:00+01:00", False),
    ("berlin-autumn", "2026-10-25T02:30:00+01:00", "2026-10-25", "2026-10-25T02:30:00+01:00", False),
    # Los Angeles
    ("la-spring", "tomorrow at 2:30", "2026-03-08", "2026-03-08T03:30:00-07:00", False),
    ("la-spring", "tomorrow at 2:30am", "2026-03-08", "2026-03-08T03:30:00-07:00", False),
    ("la-spring", "tomorrow at 9", "2026-03-08", "2026-03-08T09:00:00-07:00", False),
    ("la-spring", "sunday 5pm", "2026-03-08", "2026-03-08T17:00:00-07:00", False),
    ("la-autumn", "tomorrow at 1:30", "2026-11-01", "2026-11-01T01:30:00-07:00", False),
    ("la-autumn", "tomorrow at 9", "2026-11-01", "2026-11-01T09:00:00-08:00", False),
    ("la-autumn", "next week", "2026-11-02", None, False),
    # Leap day
    ("leap", "tomorrow", "2028-02-29", None, False),
    ("leap", "in 1 day", "2028-02-29", None, False),
    ("leap", "feb 29", "2028-02-29", None, False),
    ("leap", "end of month", "2028-02-29", None, False),
    ("leap", "in a year", "2029-02-28", None, False),
    ("leap", "every 29th", "2028-02-29", None, True),
]


@pytest.mark.parametrize(
    ("clock", "text", "date", "moment", "recurring"),
    PHRASES,
    ids=[f"{row[0]}:{row[1].strip()}" for row in PHRASES],
)
def test_phrase_resolves_to_due(
    clock: str, text: str, date: str, moment: str | None, recurring: bool
) -> None:
    zone, now = NOW[clock]
    assert parse_due(text, now, zone).to_json() == {
        "date": date,
        "datetime": moment,
        "timezone": zone,
        "string": text.strip(),
        "is_recurring": recurring,
    }


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("every day", "day;1"),
        ("every 3 days", "day;3"),
        ("every weekday", "week;1;0,1,2,3,4"),
        ("every weekend", "week;1;5,6"),
        ("every mon and thu", "week;1;0,3"),
        ("every other week", "week;2"),
        ("every 2 weeks on friday", "week;2;4"),
        ("every month", "month;1;;3"),
        ("every 31st", "month;1;;31"),
        ("every jan 1", "year;1;;1"),
    ],
)
def test_repeating_phrase_stores_a_canonical_rule(text: str, rule: str) -> None:
    zone, now = NOW["utc"]
    recurrence = parse_due(text, now, zone).recurrence
    assert recurrence is not None
    assert recurrence.to_text() == rule
    assert Recurrence.from_text(rule) == recurrence


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("someday", None),
        ("blah", None),
        ("31 feb", "February has no day 31"),
        ("2026-13-01", "not a calendar date"),
        ("every 0 days", "interval"),
        ("in -3 days", None),
        ("at 25", "no hour 25"),
        ("feb 29 2027", "not a leap year"),
        ("in 2 hours at 9", None),
        ("24/12", None),
        ("tomorrow 9", None),
        ("read 1984", None),
        ("may", None),
    ],
)
def test_unreadable_text_is_refused_by_name(text: str, reason: str | None) -> None:
    zone, now = NOW["utc"]
    with pytest.raises(DueParseError) as raised:
        parse_due(text, now, zone)
    message = str(raised.value)
    assert f'cannot read "{text.strip()}" as a date' in message
    assert "tomorrow at 9" in message
    if reason is not None:
        assert reason in message


def test_text_over_200_characters_is_refused() -> None:
    zone, now = NOW["utc"]
    with pytest.raises(DueParseError, match="longer than 200 characters"):
        parse_due("tomorrow " + "x" * 200, now, zone)


@pytest.mark.parametrize("zone", ["", "localtime", "/etc/localtime", "../UTC", "Mars/Base", "posixrules"])
def test_unknown_zone_is_refused_by_name(zone: str) -> None:
    with pytest.raises(InvalidZone, match=f'unknown time zone "{zone}"'):
        check_zone(zone)
    with pytest.raises(DueParseError):
        parse_due("tomorrow", NOW["utc"][1], zone)


def test_zone_names_are_matched_case_insensitively_to_the_iana_key() -> None:
    assert check_zone("europe/berlin").key == "Europe/Berlin"
    assert parse_due("today", NOW["utc"][1], "asia/tokyo").timezone == "Asia/Tokyo"


def test_same_wall_time_in_two_zones_is_two_moments() -> None:
    now = NOW["utc"][1]
    berlin, tokyo = parse_due("tomorrow at 9", now, BERLIN), parse_due("tomorrow at 9", now, TOKYO)
    berlin_moment, tokyo_moment = berlin.datetime(), tokyo.datetime()
    assert berlin_moment is not None
    assert tokyo_moment is not None
    assert berlin_moment.time() == tokyo_moment.time() == dt.time(9)
    assert berlin_moment - tokyo_moment == dt.timedelta(hours=8)


# --- Completing repeating tasks ---------------------------------------------------------------------------


def completions(due: Due, count: int) -> list[Due]:
    """Complete each occurrence on its own day, `count` times."""
    dues = []
    for _ in range(count):
        moment = due.datetime() or dt.datetime.combine(due.date, dt.time(12), ZoneInfo(due.timezone))
        due = next_occurrence(due, moment)
        dues.append(due)
    return dues


def test_weekly_across_clock_change_keeps_local_time() -> None:
    due = parse_due("every monday at 9am", at(BERLIN, "2026-03-20T12:00"), BERLIN)
    assert [d.to_json()["datetime"] for d in [due, *completions(due, 2)]] == [
        "2026-03-23T09:00:00+01:00",
        "2026-03-30T09:00:00+02:00",
        "2026-04-06T09:00:00+02:00",
    ]
    later = completions(parse_due("every sunday at 9am", at(LA, "2026-10-26T12:00"), LA), 1)[0]
    assert later.to_json()["datetime"] == "2026-11-08T09:00:00-08:00"


def test_next_occurrence_keeps_string_zone_and_rule() -> None:
    due = parse_due("every monday at 9am", at(BERLIN, "2026-03-20T12:00"), BERLIN)
    following = next_occurrence(due, at(BERLIN, "2026-03-23T10:00"))
    assert (following.string, following.timezone, following.recurrence, following.time) == (
        due.string,
        due.timezone,
        due.recurrence,
        due.time,
    )


def test_monthly_on_the_31st_clamps_and_returns() -> None:
    due = parse_due("every 31st", at(UTC, "2027-01-10T12:00"), UTC)
    assert [d.date.isoformat() for d in [due, *completions(due, 3)]] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
        "2027-04-30",
    ]
    leap = parse_due("every month", at(UTC, "2028-01-31T08:00"), UTC)
    assert [d.date.isoformat() for d in completions(leap, 2)] == ["2028-02-29", "2028-03-31"]


def test_every_weekday_from_friday_goes_to_monday() -> None:
    due = parse_due("every weekday at 8", at(UTC, "2026-12-04T07:00"), UTC)
    assert due.date == dt.date(2026, 12, 4)
    assert [d.date.isoformat() for d in completions(due, 2)] == ["2026-12-07", "2026-12-08"]


def test_yearly_on_feb_29_falls_on_feb_28_between_leap_years() -> None:
    due = parse_due("every feb 29", at(UTC, "2028-02-01T12:00"), UTC)
    assert [d.date.isoformat() for d in [due, *completions(due, 4)]] == [
        "2028-02-29",
        "2029-02-28",
        "2030-02-28",
        "2031-02-28",
        "2032-02-29",
    ]


def test_overdue_repeat_moves_past_today() -> None:
    due = parse_due("every 3 days", at(UTC, "2026-12-01T12:00"), UTC)
    assert next_occurrence(due, at(UTC, "2026-12-09T12:00")).date == dt.date(2026, 12, 10)
    biweekly = parse_due("every 2 weeks on mon and thu", at(UTC, "2026-12-07T00:00"), UTC)
    assert [d.date.isoformat() for d in completions(biweekly, 3)] == [
        "2026-12-10",
        "2026-12-21",
        "2026-12-24",
    ]


def test_next_occurrence_of_a_one_off_due_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not repeat"):
        next_occurrence(parse_due("tomorrow", NOW["utc"][1], UTC), NOW["utc"][1])


# --- Describing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("today at 9", "today, 09:00"),
        ("tomorrow at 9", "tomorrow, Fri 4 Dec, 09:00"),
        ("next week", "Mon 7 Dec"),
        ("dec 24 2027", "Fri 24 Dec 2027"),
        ("every monday at 9am", "every Monday, next Mon 7 Dec, 09:00"),
        ("every 2 weeks on mon and thu", "every 2 weeks on Mon and Thu, today"),
        ("every 31st", "every month on the 31st, next Thu 31 Dec"),
        ("yesterday", "yesterday"),
        ("2026-11-30", "3 days ago (Mon 30 Nov)"),
    ],
)
def test_describe_due_for_people(text: str, described: str) -> None:
    zone, now = NOW["utc"]
    assert describe_due(parse_due(text, now, zone), now) == described


def test_describe_due_uses_the_dues_zone_and_resolved_time() -> None:
    due = parse_due("tomorrow at 2:30", NOW["berlin-spring"][1], BERLIN)
    assert describe_due(due, at(UTC, "2026-03-28T22:30")) == "tomorrow, Sun 29 Mar, 03:30"
    assert describe_due(due, at(UTC, "2026-03-28T23:30")) == "today, 03:30"  # 00:30 in Berlin


# --- Splitting a sentence ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "split"),
    [
        ("call mom tomorrow at 9", ("call mom", "tomorrow at 9")),
        ("tomorrow at 9 call mom", ("call mom", "tomorrow at 9")),
        ("tomorrow at 9: call mom", ("call mom", "tomorrow at 9")),
        ("call mom tomorrow at 9.", ("call mom", "tomorrow at 9")),
        ("buy milk", ("buy milk", None)),
        ("pay rent every month on the 1st", ("pay rent", "every month on the 1st")),
        ("water plants every mon and thu at 8am", ("water plants", "every mon and thu at 8am")),
        ("submit report by friday", ("submit report", "by friday")),
        ("lunch with sam at noon", ("lunch with sam", "at noon")),
        ("dentist dec 24 at 10:30", ("dentist", "dec 24 at 10:30")),
        ("call mom, next friday", ("call mom", "next friday")),
        ("call may", ("call may", None)),
        ("read 1984", ("read 1984", None)),
        ("buy 2 apples", ("buy 2 apples", None)),
        ("meet sun", ("meet sun", None)),
        ("tomorrow", ("tomorrow", None)),
        ("", ("", None)),
    ],
)
def test_split_due_phrase(sentence: str, split: tuple[str, str | None]) -> None:
    assert split_due_phrase(sentence) == split


def test_ambiguity_rules_are_one_short_paragraph() -> None:
    assert "\n" not in AMBIGUITY_RULES
    assert len(AMBIGUITY_RULES) < 1500


# --- Properties -------------------------------------------------------------------------------------------

# Words the grammar knows, so generated phrases reach deep into it.
WORDS = [
    "every",
    "next",
    "this",
    "in",
    "on",
    "at",
    "by",
    "the",
    "of",
    "and",
    "other",
    "a",
    "today",
    "tomorrow",
    "tonight",
    "noon",
    "midnight",
    "morning",
    "evening",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "year",
    "monday",
    "fri",
    "sun",
    "dec",
    "feb",
    "may",
    "29th",
    "1st",
    "31st",
    "0",
    "3",
    "9",
    "12",
    "25",
    "9am",
    "5pm",
    "2:30",
    "21:00",
    "2026-12-24",
    "-",
]
ZONES = st.sampled_from([UTC, LA, TOKYO, BERLIN])
TEXT = st.one_of(st.text(max_size=60), st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=TEXT, zone=ZONES, now=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1)))
def test_parse_due_only_refuses_or_returns_json(text: str, zone: str, now: dt.datetime) -> None:
    try:
        due = parse_due(text, now.replace(tzinfo=dt.UTC), zone)
    except DueParseError:
        return
    assert json.loads(json.dumps(due.to_json())) == due.to_json()
    describe_due(due, now.replace(tzinfo=dt.UTC))


@st.composite
def rules(draw: st.DrawFn) -> Recurrence:
    unit = draw(st.sampled_from(["day", "week", "month", "year"]))
    interval = draw(st.integers(1, 999))
    weekdays: tuple[int, ...] = ()
    month_day = None
    if unit == "week":
        weekdays = tuple(sorted(draw(st.sets(st.integers(0, 6)))))
    if unit in ("month", "year"):
        month_day = draw(st.one_of(st.none(), st.integers(1, 31)))
    return Recurrence(unit, interval, weekdays, month_day)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rule=rules())
def test_recurrence_text_round_trips(rule: Recurrence) -> None:
    assert Recurrence.from_text(rule.to_text()) == rule


@pytest.mark.parametrize(
    "text", ["", "week", "week;0", "week;1;", "week;1;3,0", "day;1;0", "month;1;;32", "x;1"]
)
def test_recurrence_from_text_refuses_non_canonical_text(text: str) -> None:
    with pytest.raises(ValueError, match="recurrence"):
        Recurrence.from_text(text)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    rule=rules().filter(lambda rule: rule.interval <= 30),
    date=st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)),
    time=st.one_of(st.none(), st.times().map(lambda time: time.replace(microsecond=0))),
    zone=ZONES,
    days_later=st.integers(-400, 400),
)
def test_next_occurrence_is_later_and_keeps_local_time(
    rule: Recurrence, date: dt.date, time: dt.time | None, zone: str, days_later: int
) -> None:
    due = Due(date, time, zone, "every so often", rule)
    after = dt.datetime.combine(date + dt.timedelta(days=days_later), dt.time(12), ZoneInfo(zone))
    following = next_occurrence(due, after)
    assert following.date > max(due.date, after.date())
    assert following.time == due.time
    moment, following_moment = due.datetime(), following.datetime()
    if moment is not None and following_moment is not None:
        assert following_moment > moment
    if rule.weekdays:
        assert following.date.weekday() in rule.weekdays
    if rule.month_day is not None:
        month_length = monthrange(following.date.year, following.date.month)[1]
        assert following.date.day == min(rule.month_day, month_length)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(sentence=TEXT)
def test_split_due_phrase_returns_a_phrase_parse_due_accepts(sentence: str) -> None:
    title, phrase = split_due_phrase(sentence)
    if phrase is not None:
        assert title
        parse_due(phrase, NOW["utc"][1], UTC)
