"""Optional task fields (due dates, priorities, tags): read only when the tools can store them.

When `add_task` or `update_task` gains a field, the parser starts taking that detail out of the title
and passing it as the argument; until then "pay rent due friday" stays the title. Teaching the model a
new field means a few phrasings here plus a name in `toolbox._EXTRA_NAMES`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from .intents import Intent
from .references import parse_ref


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_LIST_OF_WORDS = re.compile(r"\s*(?:,|\band\b)\s*", re.I)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_PRIORITY = [
    _rx(
        r"(?:,\s*|\s+)(?:with\s+)?(?:(?:a|an)\s+)?(?P<p>low|medium|normal|high|top|urgent)(?:\s+|-)priority\b"
    ),
    _rx(r"(?:,\s*|\s+)(?:priority|prio)\s*[:=]?\s*(?P<p>low|medium|normal|high|urgent)\b"),
    _rx(r"(?:,\s*|\s+)(?:it'?s\s+)?(?P<p>urgent|important)$"),
    _rx(r"^(?P<p>urgent|important)\s*[:!-]?\s+"),
]
_DATE = (
    r"(?P<d>today|tonight|tomorrow|tmrw|tmr|next\s+week|(?:next\s+|this\s+)?(?:mon|tues|wednes|thurs|fri"
    r"|satur|sun)day|\d{4}-\d{2}-\d{2})"
)
_DUE = [
    _rx(r"(?:,\s*|\s+)due\s+(?:on\s+|by\s+)?" + _DATE + r"\b"),
    _rx(r"(?:,\s*|\s+)(?:(?:by|on|before|for)\s+)?" + _DATE + r"$"),
]
_TAGS = [
    _rx(r"(?:,\s*|\s+)(?:tagged|tag(?:ged)?\s+(?:it\s+)?(?:as|with)|with\s+(?:the\s+)?tags?|tags?\s*:|labels?\s*:"
        r"|label(?:led)?\s+(?:as|with))\s+(?P<t>[\w-]+(?:\s*(?:,|and)\s*[\w-]+)*)$"),
    _rx(r"(?:^|\s+)#(?P<t>[a-z][\w-]*)"),
]  # fmt: skip


def take_extras(
    body: str, supported: frozenset[str], today: date
) -> tuple[str, tuple[tuple[str, object], ...]]:
    """Take the supported details out of a new task's text: ("Pay rent", (("due", "2025-03-07"),))."""
    extras: list[tuple[str, object]] = []
    if "tags" in supported:
        tags: list[str] = []
        for pattern in _TAGS:
            for found in list(pattern.finditer(body)):
                tags.extend(t for t in _LIST_OF_WORDS.split(found["t"]) if t)
            body = pattern.sub("", body)
        if tags:
            extras.append(("tags", tuple(dict.fromkeys(t.lower() for t in tags))))
    if "priority" in supported:
        for pattern in _PRIORITY:
            said = pattern.search(body)
            if said:
                spoken = said["p"].lower()
                extras.append(("priority", {"top": "high", "important": "high"}.get(spoken, spoken)))
                body = (body[: said.start()] + " " + body[said.end() :]).strip()
                break
    if "due" in supported:
        for pattern in _DUE:
            match = pattern.search(body)
            if match:
                extras.append(("due", resolve_date(match["d"], today).isoformat()))
                body = body[: match.start()] + body[match.end() :]
                break
    return body.strip(), tuple(extras)


def resolve_date(spoken: str, today: date) -> date:
    """ "friday" is the next Friday after today; "next friday" the one a week after that."""
    spoken = " ".join(spoken.lower().split())
    if spoken in ("today", "tonight"):
        return today
    if spoken in ("tomorrow", "tmrw", "tmr"):
        return today + timedelta(days=1)
    if spoken == "next week":
        return today + timedelta(days=7 - today.weekday())
    if _ISO_DATE.fullmatch(spoken):
        return date.fromisoformat(spoken)
    day = _WEEKDAYS.index(spoken.split()[-1])
    ahead = (day - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead + (7 if spoken.startswith("next") and ahead < 7 else 0))


_UPDATE_EXTRAS = [
    ("priority", _rx(r"(?:set|change|update|make|mark)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+"
                     r"(?P<ref>.+?)\s+(?:to|as|=)\s+(?P<v>low|medium|normal|high|urgent)")),
    ("priority", _rx(r"(?:make|mark|set|flag)\s+(?P<ref>.+?)\s+(?:as\s+)?(?:a\s+)?(?P<v>low|medium|normal"
                     r"|high|top|urgent)(?:\s+priority)?")),
    ("due", _rx(r"(?:set|change|update|move|push)\s+(?:the\s+)?(?:due\s+date|deadline)\s+(?:of|for|on)\s+"
                r"(?P<ref>.+?)\s+(?:to|as)\s+" + _DATE.replace("?P<d>", "?P<v>"))),
    ("due", _rx(r"(?P<ref>.+?)\s+is\s+due\s+(?:on\s+|by\s+)?" + _DATE.replace("?P<d>", "?P<v>"))),
    ("tags", _rx(r"(?:tag|label)\s+(?P<ref>.+?)\s+(?:with|as)\s+(?P<v>[\w-]+(?:\s*(?:,|and)\s*[\w-]+)*)")),
]  # fmt: skip


def update_extras(clause: str, supported: frozenset[str], today: date) -> list[Intent] | None:
    """ "Make task 3 high priority", "the report is due friday": an update of an optional field."""
    for kind, pattern in _UPDATE_EXTRAS:
        if kind not in supported:
            continue
        match = pattern.fullmatch(clause)
        ref = parse_ref(match["ref"]) if match else None
        if match is None or ref is None:
            continue
        value: object = match["v"].lower()
        if kind == "due":
            value = resolve_date(match["v"], today).isoformat()
        elif kind == "tags":
            value = tuple(t for t in _LIST_OF_WORDS.split(match["v"].lower()) if t)
        elif value == "top":
            value = "high"
        return [Intent("update", ref=ref, extras=((kind, value),), text=clause)]
    return None
