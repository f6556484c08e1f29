"""The cost of `shared.dates.parse_due`: mean microseconds per call over a fixed list of phrases.

.venv/bin/python -m bench.dates [calls]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time

from shared.dates import DueParseError, parse_due, split_due_phrase

PHRASES = (
    "tomorrow at 9",
    "next friday",
    "in 3 days",
    "dec 24",
    "2026-12-24T09:00:00+01:00",
    "every monday at 9am",
    "every 2 weeks on friday",
    "every month on the 15th",
    "tonight",
    "at 5pm",
    "end of month",
    "someday",
)
NOW = dt.datetime(2026, 12, 3, 10, tzinfo=dt.UTC)


def bench_parse(n: int) -> float:
    """Mean microseconds per parse_due call (refusals included) over `n` calls cycling through PHRASES."""
    started = time.perf_counter()
    for index in range(n):
        with contextlib.suppress(DueParseError):
            parse_due(PHRASES[index % len(PHRASES)], NOW, "Europe/Berlin")
    return (time.perf_counter() - started) / n * 1e6


def bench_split(n: int) -> float:
    """Mean microseconds per split_due_phrase call on a sentence with a due phrase at its end."""
    started = time.perf_counter()
    for _ in range(n):
        split_due_phrase("call mom about the trip tomorrow at 9")
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    bench_parse(100)  # warm the zone cache and the regex engine
    print(f"parse_due: {bench_parse(calls):.1f} us per call over {calls} calls")
    print(f"split_due_phrase: {bench_split(calls // 10):.1f} us per call")


if __name__ == "__main__":
    main()
