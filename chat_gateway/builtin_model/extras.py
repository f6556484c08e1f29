"""Optional task fields (due dates, priorities, tags): read only when the tools can store them.

When `add_task` or `update_task` gains a field, the parser starts taking that detail out of the title
and passing it as the argument; until then "pay rent due friday" stays the title. Teaching the model a
new field means a few phrasings here plus a name in `toolbox._EXTRA_NAMES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from shared.dates import DueParseError, parse_due, split_due_phrase

from .intents import Intent
from .references import parse_ref


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_LIST_OF_WORDS = re.compile(r"\s*(?:,|\band\b)\s*", re.I)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FILLER = re.compile(r"^(?:due|by|on)\s+", re.I)
_BARE_TIME = re.compile(r"(?:(?:due|by|on)\s+)?(?:at\s+)?\d{1,2}", re.I)

_PRIORITY = [
    _rx(
        r"(?:,\s*|\s+)(?:with\s+)?(?:(?:a|an)\s+)?(?P<p>low|medium|normal|high|top|urgent)(?:\s+|-)priority\b"
    ),
    _rx(r"(?:,\s*|\s+)(?:priority|prio)\s*[:=]?\s*(?P<p>low|medium|normal|high|urgent)\b"),
    _rx(r"(?:,\s*|\s+)(?:it'?s\s+)?(?P<p>urgent|important)$"),
    _rx(r"^(?P<p>urgent|important)\s*[:!-]?\s+"),
    # Todoist's shorthand: p1 is the highest.
    _rx(r"(?:,\s*|\s+)(?P<p>p[1-4])\b"),
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


@dataclass(frozen=True)
class SpokenDate:
    """A due date as the user said it. A tool that takes text gets the words, which the task server
    reads in the user's time zone (a date resolved here could be a day off); one that takes an ISO
    date gets it resolved against `today`."""

    phrase: str
    today: date

    def iso_date(self) -> str | None:
        now = datetime.combine(self.today, time(12), UTC)
        try:
            return parse_due(self.phrase, now, "UTC").date.isoformat()
        except DueParseError:
            return None


def take_extras(
    body: str, supported: frozenset[str], today: date
) -> tuple[str, tuple[tuple[str, object], ...]]:
    """Take the supported details out of a new task's text: ("Pay rent", (("due", SpokenDate(...)),))."""
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
                extras.append(("priority", priority_word(said["p"])))
                body = (body[: said.start()] + " " + body[said.end() :]).strip()
                break
    if "due" in supported:
        # The phrase as the user said it ("tomorrow at 9", "every monday"): the task server reads it in
        # the user's time zone, which this model does not know (a date resolved here could be a day off).
        rest, phrase = split_due_phrase(body)
        if phrase is not None and _BARE_TIME.fullmatch(phrase):
            # "pick up kids at 3": a bare hour reads as 03:00 on a 24-hour clock, which nobody means; it
            # stays in the title rather than become a wrong date.
            phrase = None
        if phrase is not None:
            extras.append(("due", SpokenDate(_FILLER.sub("", phrase), today)))
            body = rest.rstrip(" ,;-")
        else:
            for pattern in _DUE:
                match = pattern.search(body)
                if match:
                    extras.append(("due", SpokenDate(match["d"], today)))
                    body = body[: match.start()] + body[match.end() :]
                    break
    return body.strip(), tuple(extras)


def priority_word(spoken: str) -> str:
    """The tools' priority for what was said: "normal" is medium, "top", "urgent" and "important" high."""
    spoken = spoken.lower()
    shorthand = {"p1": "high", "p2": "medium", "p3": "low", "p4": "none"}
    return {"top": "high", "important": "high", "urgent": "high", "normal": "medium", **shorthand}.get(
        spoken, spoken
    )


_UPDATE_EXTRAS = [
    ("priority", _rx(r"(?:set|change|update|make|mark)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+"
                     r"(?P<ref>.+?)\s+(?:to|as|=)\s+(?P<v>low|medium|normal|high|urgent)")),
    ("priority", _rx(r"(?:make|mark|set|flag)\s+(?P<ref>.+?)\s+(?:as\s+)?(?:a\s+)?(?P<v>low|medium|normal"
                     r"|high|top|urgent)(?:\s+priority)?")),
    ("due", _rx(r"(?:set|change|update|move|push)\s+(?:the\s+)?(?:due\s+date|deadline)\s+(?:of|for|on)\s+"
                r"(?P<ref>.+?)\s+(?:to|as)\s+" + _DATE.replace("?P<d>", "?P<v>"))),
    ("due", _rx(r"(?P<ref>.+?)\s+is\s+due\s+(?:on\s+|by\s+)?" + _DATE.replace("?P<d>", "?P<v>"))),
    ("tags", _rx(r"(?:tag|label)\s+(?P<ref>.+?)\s+(?:with|as)\s+(?P<v>[\w-]+(?:\s*(?:,|and)\s*[\w-]+)*)")),
    # "move the dentist to monday", "push task 3 to next week": any phrase the date parser reads.
    ("due", _rx(r"(?:move|push|reschedule|postpone|put\s+off|bump|shift)\s+(?P<ref>.+?)\s+(?:to|until|till)"
                r"\s+(?P<v>.+)")),
    ("due", _rx(r"(?:remove|clear|delete|drop|unset)\s+(?:the\s+)?(?:due\s+date|deadline|date)\s+"
                r"(?:of|from|on|for)\s+(?P<ref>.+?)(?P<v>)")),
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
            spoken = SpokenDate(" ".join(match["v"].split()), today)
            if spoken.phrase and spoken.iso_date() is None:
                continue  # "move milk to the top" is not a date.
            value = spoken
        elif kind == "tags":
            value = tuple(t for t in _LIST_OF_WORDS.split(match["v"].lower()) if t)
        elif kind == "priority":
            value = priority_word(match["v"])
        return [Intent("update", ref=ref, extras=((kind, value),), text=clause)]
    return None
