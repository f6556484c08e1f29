"""From a user message to intents: split into clauses, read each one, and read new tasks' titles.

The parser is a pure function of the message and of the features the tools offer (a due date is taken
out of a title only when `add_task` can store it; see extras.py). A clause that makes no sense as typed,
or whose first word is a misspelt command, is read again with misspelt command words corrected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from .extras import take_extras, update_extras
from .grammar import (
    DONE_STATEMENT,
    PARTICIPLE_STATEMENT,
    TARGETED_RULES,
    is_strong,
    parse_bare_verb,
    parse_chat,
    parse_list,
)
from .intents import Intent
from .text import (
    QUOTED,
    TRAILING_PUNCT,
    close_enough,
    correct_typos,
    is_filler,
    normalize,
    protect_quotes,
    restore_quotes,
    split_clauses,
    strip_filler,
    tidy_title,
    unquote,
)


@dataclass(frozen=True)
class Features:
    """Optional task fields the tools accept ("due", "priority", "tags"), and today's date for "friday"."""

    add: frozenset[str] = frozenset()
    update: frozenset[str] = frozenset()
    today: date = field(default_factory=date.today)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_NOUN = r"(?:tasks?|todos?|to-?dos?|items?|reminders?|entry|entries|one)"
_ADD_RULES: list[re.Pattern[str]] = [
    _rx(r"(?:add|put)\s+(?:to|on|onto)\s+(?:my|the)\s+(?:\w+\s+)?(?:list|to-?do\s+list|tasks|todos)\s*:?\s+(?P<body>.+)"),
    _rx(r"(?:put|stick|throw|pop|get|add)\s+(?P<body>.+?)\s+(?:on|onto|in|into|to)\s+(?:my|the)\s+(?:\w+\s+)?"
        r"(?:list|to-?do\s+list|tasks|todos|agenda|calendar|checklist)"),
    _rx(r"(?:add|create|insert|append|jot(?:\s+down)?|note(?:\s+down)?|write(?:\s+down)?|record|log|enter"
        r"|capture|save|track|include)(?:\s+(?:a|an|the|one|another|this|me\s+a|me\s+an|some))?(?:\s+new)?"
        r"(?:\s+" + _NOUN + r")?(?:\s*(?::|-)\s*|\s+(?:called|named|titled|that\s+says|saying|which\s+says|to"
        r"|for|about|reading)\s+|\s+)(?P<body>.+)"),
    _rx(r"(?:make|set\s+up|setup|schedule|start|open|new)\s+(?:a\s+|an\s+|me\s+a\s+|another\s+)?(?:new\s+)?"
        r"(?:task|todo|to-?do|item|reminder|entry)s?(?:\s*(?::|-)\s*|\s+(?:called|named|titled|to|for|about"
        r"|saying|that\s+says)\s+|\s+)(?P<body>.+)"),
    _rx(r"remind\s+(?:me|us)\s+(?:to|about|that|of|re:?)\s+(?P<body>.+)"),
    _rx(r"remind\s+(?:me|us)\s+(?P<when>.+?)\s+to\s+(?P<body>.+)"),
    _rx(r"(?:set|create|add|make|new)\s+(?:a|an|me\s+a)?\s*reminder\s*(?:to|for|about|:|-|that)\s*(?P<body>.+)"),
    _rx(r"(?:new\s+)?(?:task|todo|to-?do|reminder|item|note)\s*(?::|-)\s*(?P<body>.+)"),
    _rx(r"(?:to-?do|reminder)\s+(?P<body>.+)"),
]  # fmt: skip
# "I need to X" is a new task unless X is itself a request about the list ("I need to see my tasks").
_WANT_RULES: list[re.Pattern[str]] = [
    _rx(r"(?:i|we)(?=[\s'])\s*(?:(?:really|still|also|definitely|probably|just|then)\s+)*(?:(?:need|have|got|must"
        r"|should|ought|want|would\s+like|'d\s+like|'ve\s+got|have\s+got|plan|'m\s+going|am\s+going|'ll\s+have"
        r"|will\s+have|'ll\s+need|will\s+need|'d\s+love|would\s+love)(?:\s+to)?|gotta|'m\s+gonna|am\s+gonna"
        r"|wanna)\s+(?:(?:really|definitely|probably|also|still|just|totally|actually|quickly)\s+)*"
        r"(?P<body>.+)"),
    _rx(r"(?:(?:don'?t|do\s+not)\s+(?:let\s+me\s+)?forget\s+(?:to|about)|remember\s+to|need\s+to|have\s+to"
        r"|has\s+to|gotta|got\s+to|must|should)\s+(?P<body>.+)"),
]  # fmt: skip
_ADD_START = _rx(
    r"(?:add|create|insert|append|jot|note|write|put|new|remind|reminder|set\s+a\s+reminder|make\s+a\s+task"
    r"|(?:i|we)\s+(?:\w+\s+)?(?:need|have|want|must|should|gotta|got)|need\s+to|have\s+to|don'?t\s+forget"
    r"|remember\s+to|task\s*:|to-?do\s*:)\b"
)
_REFERENCE_LIKE = _rx(
    r"\b(?:it|that|this|them|those|these|both|tasks?|items?|ones?|list|everything|all|todos?|pending"
    r"|completed|done|finished)\b|#?\d+"
)
_DESCRIPTION = [
    _rx(r"(?:,\s*|\s+)(?:with|w/)\s+(?:a\s+|the\s+|some\s+)?(?:description|desc|details?|notes?|comment)"
        r"(?:\s+(?:of|saying|that\s+says|reading))?\s*[:=-]?\s*(?P<d>.+)$"),
    _rx(r"\s*[,;.]?\s*(?:description|desc|details?|notes?|comment)\s*[:=-]\s*(?P<d>.+)$"),
    _rx(r"\s+(?:--|-)\s+(?P<d>.+)$"),
    _rx(r"\s*\((?P<d>[^)]+)\)$"),
    _rx(r"\s*:\s+(?P<d>.+)$"),
]  # fmt: skip
_LIST_SUFFIX = _rx(
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


def parse_message(message: str, features: Features) -> list[Intent]:
    """The intents of a message, in order. Memoised: every model call of a turn re-reads the message."""
    return list(_parse_message(message, features))


@lru_cache(maxsize=1024)
def _parse_message(message: str, features: Features) -> tuple[Intent, ...]:
    protected, quoted = protect_quotes(normalize(message))
    clauses: list[str] = []
    for clause, separator in split_clauses(protected):
        previous = strip_filler(clauses[-1]) if clauses else ""
        if separator and _ADD_START.match(previous) and not _REFERENCE_LIKE.search(clause):
            # "add write report and finish slides": the second part is another title, not a request.
            joiner = ", " if separator.strip() == "," else " and "
            clauses[-1] = f"{clauses[-1]}{joiner}{clause}"
        else:
            clauses.append(clause)
    intents: list[Intent] = []
    for clause in clauses:
        # Small talk is read before filler removal, which would reduce "thank you so much" to "so much".
        chat = parse_chat(TRAILING_PUNCT.sub("", restore_quotes(clause, quoted)).lower())
        if chat is None and is_filler(clause):
            continue
        intents.extend(chat or parse_clause(restore_quotes(strip_filler(clause), quoted), features))
    # A message of nothing but filler ("hmm", "ok then") gets the greeting's invitation to ask.
    return tuple(intents) or (Intent("greet" if protected.strip() else "unknown", text=message),)


def parse_clause(clause: str, features: Features) -> list[Intent]:
    if not clause:
        return []
    corrected = correct_typos(clause)
    intents = None
    if corrected.split(" ", 1)[0] != clause.split(" ", 1)[0]:
        # A misspelt first word is a misspelt command ("mrak task 3 done"): read the corrected clause first.
        intents = _parse(corrected, features)
    if intents is None:
        intents = _parse(clause, features)
    if intents is None and corrected != clause:
        intents = _parse(corrected, features)
    return intents or [Intent("unknown", text=clause)]


def _parse(clause: str, features: Features) -> list[Intent] | None:
    for parse in _STAGES:
        intents = parse(clause, features)
        if intents:
            return intents
    return None


def _chat(clause: str, features: Features) -> list[Intent] | None:
    return parse_chat(clause.lower()) or parse_bare_verb(clause)


def _targeted(clause: str, features: Features) -> list[Intent] | None:
    extras = update_extras(clause, features.update, features.today)
    if extras:
        return extras
    for pattern, build in TARGETED_RULES:
        match = pattern.fullmatch(clause)
        if match:
            intents = build(match)
            if intents:
                return intents
    return None


def _lists(clause: str, features: Features) -> list[Intent] | None:
    return parse_list(clause)


def _done_statement(clause: str, features: Features) -> list[Intent] | None:
    match = DONE_STATEMENT[0].fullmatch(clause)
    return DONE_STATEMENT[1](match) if match else None


def _adds(clause: str, features: Features) -> list[Intent] | None:
    for pattern in _ADD_RULES:
        match = pattern.fullmatch(clause)
        if match:
            body = match["body"]
            if "when" in match.groupdict() and match["when"]:
                body = f"{body} {match['when']}"
            return new_tasks(body, features)
    for pattern in _WANT_RULES:
        match = pattern.fullmatch(clause)
        if match:
            inner = _parse(match["body"], features)
            if inner and all(_is_deliberate(intent) for intent in inner):
                return inner
            return new_tasks(match["body"], features)
    return None


def _is_deliberate(intent: Intent) -> bool:
    """In "I need to finish the report" the request is a new task; in "I need to see my list" it is not."""
    if intent.action in ("list", "add"):
        return True
    if intent.ref is None or intent.action not in ("complete", "delete", "update", "reopen"):
        return False
    return intent.ref.words is None or is_strong(intent.ref, intent.ref.words)


def _participle_statement(clause: str, features: Features) -> list[Intent] | None:
    match = PARTICIPLE_STATEMENT[0].fullmatch(clause)
    return PARTICIPLE_STATEMENT[1](match) if match else None


_STAGES: list[Callable[[str, Features], list[Intent] | None]] = [
    _chat,
    _targeted,
    _lists,
    _done_statement,
    _participle_statement,
    _adds,
]


def new_tasks(body: str, features: Features) -> list[Intent] | None:
    """The tasks an add names: one per quoted title or per item of "eggs, milk and bread"."""
    body, description = _split_description(body.strip())
    body, extras = take_extras(body, features.add, features.today)
    suffix = _LIST_SUFFIX.search(body)
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
        items = _distribute_verb(parts)
    titles = [tidy_title(item) for item in items]
    if not all(titles):
        return None
    return [Intent("add", title=t, description=description, extras=extras, text=body) for t in titles]


def _looks_like_list(word: str) -> bool:
    return any(close_enough(word.lower(), known) for known in ("list", "tasks", "todos", "todo"))


def _split_description(body: str) -> tuple[str, str | None]:
    for pattern in _DESCRIPTION:
        match = pattern.search(body)
        if match and match.start() > 0:
            return body[: match.start()], unquote(match["d"])
    return body, None


def _distribute_verb(items: list[str]) -> list[str]:
    if len(items) < 2:
        return items
    first = ERRAND.match(items[0])
    if first is None:
        return items
    verb = first["verb"]
    return [items[0]] + [
        item if ERRAND.match(item) or len(item.split()) > 3 else f"{verb} {item}" for item in items[1:]
    ]
