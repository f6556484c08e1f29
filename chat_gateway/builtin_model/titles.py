"""The titles of new tasks: one task or several, and where each title starts and ends.

The rule (the parser's docstring states it too):

1. What follows "called", "named", "titled" or "saying" in an add request, or what is quoted, is one
   title, kept as typed: it is never split and nothing in it is read as a request (parser.py).
2. Otherwise the text is cut at "and", "&", "plus" and commas into parts, and the parts are grouped:
   a part that starts with a verb ("call mom", "buy flowers") starts a new task; a part that does not
   ("bread", "pepper from the store") is one more object of the verb before it; parts before the first
   verb are tasks of their own ("eggs and bread" are two tasks).
3. A verb with several objects is one task when its last object ends with a qualifier, a phrase starting
   with "from", "at", "for", "to", "in", "on", "with", "by", "before", "after", "until" or "near",
   because the qualifier belongs to all of them ("pick up salt and pepper from the store"). Otherwise
   an errand verb is repeated for each object ("buy eggs and bread" is "Buy eggs" and "Buy bread"),
   and any other verb keeps its objects in one task ("go to the gym and the bank"). Nouns with a
   shared qualifier likewise stay one task ("eggs and milk from the farm shop").
"""

from __future__ import annotations

import re
from datetime import date

from .extras import take_extras
from .intents import Intent
from .text import QUOTED, close_enough, tidy_title, unquote


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_DESCRIPTION = [
    _rx(r"(?:,\s*|\s+)(?:with|w/)\s+(?:a\s+|the\s+|some\s+)?(?:description|desc|details?|notes?|comment)"
        r"(?:\s+(?:of|saying|that\s+says|reading))?\s*[:=-]?\s*(?P<d>.+)$"),
    _rx(r"\s*[,;.]?\s*(?:description|desc|details?|notes?|comment)\s*[:=-]\s*(?P<d>.+)$"),
    _rx(r"\s+(?:--|-)\s+(?P<d>.+)$"),
    _rx(r"\s*\((?P<d>[^)]+)\)$"),
    _rx(r"\s*:\s+(?P<d>.+)$"),
]  # fmt: skip
LIST_SUFFIX = _rx(
    r"\s+(?:to|on|onto|in|into)\s+(?:my|the)\s+(?:(?:\w+\s+)?(?:list|tasks|todos?|to-?dos?|to-?do\s+list"
    r"|task\s+list|checklist|agenda)|(?P<typo>\w+))$"
)
_ITEM_SPLIT = _rx(r"\s*(?:,\s*and\s+|,\s*|\s+and\s+|\s*&\s*|\s+plus\s+|\s*\+\s*)\s*")
# Verbs whose object list reads as one errand each: "buy eggs and bread" is "Buy eggs", "Buy bread".
ERRAND = _rx(
    r"(?P<verb>(?:buy|get|grab|call|phone|ring|text|email|message|pay|order|book|pick\s+up|drop\s+off|clean"
    r"|wash|fix|repair|write|read|send|visit|feed|walk|water|cook|bake|return|renew|print|sign|mail|submit"
    r"|bring|collect|contact|charge|fill\s+up|iron|pack|post|review|prepare|check|meet|see|watch|study"
    r"|practice|learn|update|cancel|sort|organi[sz]e|tidy|empty|change|make|do|finish|plan|schedule|file)"
    r"(?:\s+(?:up|out|back|off|in))?)\s+\S"
)
# Other verbs a task often starts with; with ERRAND, what makes a part "start with a verb" (rule 2).
_OTHER_VERB = _rx(
    r"(?:go|take|talk|ask|tell|find|try|start|stop|move|help|put|give|look|think|decide|remember|set"
    r"|arrange|attend|join|reply|respond|answer|follow|hang|install|replace|mow|vacuum|dust|shop|sell"
    r"|donate|throw|recycle|register|sign|apply|research|test|ship|deliver|confirm|invite|thank|wrap"
    r"|decorate|run|drive|fly|rent|borrow|lend|fetch|play|exercise|train|swim|stretch|meditate|drop|pick"
    r"|load|unload|fold|sweep|mop|scrub|shovel|rake|trim|paint|build|backup|back|refill|top|restock"
    r"|repaint|call|share|upload|download|save|transfer|withdraw|deposit|check|confirm|finalize|finalise"
    r"|draft|edit|proofread|publish|record|film|photograph|print|scan|shred|archive|clear|feed|bathe"
    r"|groom|vaccinate|get|buy|grab)\b"
)
_QUALIFIER = _rx(r"\s(?:from|at|for|to|in|on|with|by|before|after|until|near)\s+\S")


def starts_with_verb(part: str) -> bool:
    return ERRAND.match(part) is not None or _OTHER_VERB.match(part) is not None


def new_tasks(body: str, fields: frozenset[str], today: date) -> list[Intent] | None:
    """The tasks an add names: one per quoted title, or per task of the grouping rule above.

    `fields` are the optional fields add_task offers (a due date is taken out of the title only then).
    """
    body, description = _split_description(body.strip())
    body, extras = take_extras(body, fields, today)
    suffix = LIST_SUFFIX.search(body)
    if suffix and (not suffix["typo"] or _looks_like_list(suffix["typo"])):
        body = body[: suffix.start()]
    quoted = [m.group(1) or m.group(2) for m in QUOTED.finditer(body)]
    if quoted and not re.sub(r"(?:,|&|\band\b|\s)+", "", QUOTED.sub(" ", body), flags=re.I):
        items = quoted
    elif QUOTED.fullmatch(body.strip()) or description is not None:
        items = [body]
    else:
        # "remind me to pick up Emma and to buy bread": each item may repeat the "to".
        parts = [re.sub(r"^to\s+", "", p.strip(), flags=re.I) for p in _ITEM_SPLIT.split(body) if p.strip()]
        items = group_items(parts)
    titles = [tidy_title(item) for item in items]
    if not all(titles):
        return None
    return [Intent("add", title=t, description=description, extras=extras, text=body) for t in titles]


def group_items(parts: list[str]) -> list[str]:
    """Rules 2 and 3: which parts are tasks of their own, and which objects share a verb."""
    if len(parts) < 2:
        return parts
    groups: list[list[str]] = []
    for part in parts:
        if starts_with_verb(part) or not groups or not starts_with_verb(groups[-1][0]):
            groups.append([part])
        else:
            groups[-1].append(part)
    # Leading nouns with a shared qualifier ("eggs and milk from the farm shop") are one task too.
    leading = [g[0] for g in groups if not starts_with_verb(g[0])]
    if len(leading) > 1 and len(leading) == len(groups) and _QUALIFIER.search(" " + leading[-1]):
        return [_rejoin(leading)]
    items: list[str] = []
    for group in groups:
        items.extend(_one_verb(group))
    return items


def _one_verb(group: list[str]) -> list[str]:
    if len(group) == 1:
        return group
    if _QUALIFIER.search(" " + group[-1]):
        return [_rejoin(group)]
    errand = ERRAND.match(group[0])
    if errand is None:
        # "go to the gym and the bank": repeating "go" would not make a task, so it stays one.
        return [_rejoin(group)]
    return [group[0]] + [f"{errand['verb']} {obj}" for obj in group[1:]]


def _rejoin(parts: list[str]) -> str:
    """ "salt, pepper and oil from the store": the parts with commas, "and" before the last."""
    if len(parts) == 2:
        return f"{parts[0]} and {parts[1]}"
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _looks_like_list(word: str) -> bool:
    return any(close_enough(word.lower(), known) for known in ("list", "tasks", "todos", "todo"))


def _split_description(body: str) -> tuple[str, str | None]:
    for pattern in _DESCRIPTION:
        match = pattern.search(body)
        if match and match.start() > 0:
            return body[: match.start()], unquote(match["d"])
    return body, None
