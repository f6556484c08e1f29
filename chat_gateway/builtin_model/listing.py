"""The phrasings of questions about the list: everything, pending, completed, one task, a search.

"Show my tasks", "what's left?", "what have I finished?", "is the milk task done?", "do I have a task
about milk?": each is a `list` intent with the status and the task or words it is about.
"""

from __future__ import annotations

import re

from .intents import Intent, Ref, Status
from .references import parse_ref
from .text import content_words, correct_typos


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_STRONG_LIST = _rx(r"(?:list|show|display|view|pull\s+up|bring\s+up|print|read\s+(?:me\s+)?(?:out|back))\b")
_WEAK_LIST = _rx(
    r"(?:get|give|tell|see|let\s+me\s+(?:see|know)|check|what|what's|whats|what\s+is|what\s+are|what're"
    r"|which|how\s+many|how\s+much|do\s+i\s+have|do\s+we\s+have|have\s+i|did\s+i|are\s+there|is\s+there"
    r"|any|anything|remind\s+me\s+what|can\s+i\s+see|may\s+i\s+see|i\s+want\s+to\s+see|i'?d\s+like\s+to"
    r"\s+see|go\s+over|review|recap|summari[sz]e|where\s+am\s+i|where\s+are\s+we|status|current)\b"
)
_LIST_NOUN = _rx(
    r"\b(?:tasks?|to-?dos?|todo\s+list|list|items?|reminders?|agenda|checklist|chores|everything|stuff"
    r"|things|plate|schedule|backlog|all)\b"
)
_BARE_LIST = _rx(
    r"(?:(?:my|all|the|all\s+my|all\s+of\s+my|all\s+the|current|any|open|remaining)\s+)*(?:(?:pending|open"
    r"|completed|complete|done|finished|unfinished|incomplete|remaining|outstanding)\s+)?(?:tasks?|to-?dos?"
    r"|todo\s+list|to-?do\s+list|list|items|reminders|agenda|checklist)(?:\s+(?:pending|completed|done"
    r"|finished|remaining|left|list|please))?|pending|completed|done|finished|unfinished|outstanding"
    r"|remaining|open\s+(?:ones|tasks)|done\s+ones|finished\s+ones|completed\s+ones|everything"
)
_PENDING = _rx(
    r"\b(?:pending|open|incomplete|unfinished|uncompleted|not\s+(?:yet\s+)?(?:done|finished|completed"
    r"|complete|checked\s+off)|undone|remaining|left|outstanding|active|current|to\s+do|todo(?!\s+list)"
    r"|still\s+(?:need|have|got|to)|need\s+to\s+do|have\s+to\s+do|next|due|not\s+started|to\s+be\s+done"
    r"|waiting|haven'?t\s+(?:done|finished|completed)|didn'?t\s+(?:do|finish|complete)|unchecked|up\s+next"
    r"|on\s+my\s+plate|still\s+open)\b"
)
_COMPLETED = _rx(
    r"\b(?:completed|complete|done|finished|accomplished|checked\s+off|ticked\s+off|crossed\s+off|closed"
    r"|achieved|got\s+done|(?:have|did|has)\s+(?:i|we)\s+(?:(?:already|actually)\s+)?(?:done|did|do|achieved"
    r"|accomplished|finished|finish|completed|complete|get\s+done|checked\s+off|ticked\s+off))\b"
)
_QUERY = _rx(
    r"\b(?:about|with|containing|mentioning|matching|related\s+to|regarding|that\s+(?:mentions?|contains?"
    r"|says?|includes?)|called|named|titled|involving|for)\s+(?P<q>.+)$"
)
_SEARCH = _rx(
    r"(?:search(?:\s+(?:for|my\s+tasks\s+for|tasks\s+for))?|find(?:\s+me)?|look\s+(?:for|up)|lookup"
    r"|do\s+i\s+(?:still\s+)?have\s+(?:a|an|any)\s+(?:task|todo|item|reminder)s?(?:\s+(?:about|for|to"
    r"|called|named|with|that\s+says))?|is\s+there\s+(?:a|an|any)\s+(?:task|todo|item)s?(?:\s+(?:about|for"
    r"|to|called|named|with))?|(?:show|list|display|give)(?:\s+me)?(?:\s+(?:my|the|all|all\s+my))?)\s+(?P<q>.+)"
)
_NOT_A_QUERY = _rx(
    r"(?:today|now|please|again|for\s+me|so\s+far|yet|this\s+week|on\s+it|in\s+it|my\s+list)"
    r"|(?:what|which|how|where|when|who|everything|anything|all|i|i'?ve|we|we'?ve)\b.*"
)
_BOTH_STATES = _rx(
    r"\b(?:done\s+or\s+not|(?:done|completed|finished)\s+(?:and|or)\s+(?:pending|open|not(?:\s+done)?|undone)"
    r"|(?:pending|open)\s+(?:and|or)\s+(?:done|completed|finished))\b"
)
_FIELD_OF = _rx(r".*\b(?:description|details|notes?|status|state)\s+(?:of|for|on)\s+(?P<q>.+)")
_IS_DONE_QUESTION = _rx(
    r"(?:is|are|was|were|has|have|did)\s+(?:i\s+(?:already\s+)?(?:done|finished|completed|do|finish|complete)\s+)?"
    r"(?P<q>.+?)\s+(?:been\s+)?(?:done|finished|completed|complete|checked\s+off)(?:\s+(?:yet|already))?"
)


_DUE_FILTERS = [
    ("overdue", _rx(r"\b(?:overdue|past\s+due|late)\b")),
    # Only said outright: "what do I have to do today?" asks for the pending list, dated or not.
    ("today", _rx(r"\b(?:due\s+today|today'?s\s+(?:tasks|list|to-?dos?)|for\s+today)\b")),
    ("tomorrow", _rx(r"\b(?:due\s+tomorrow|tomorrow'?s\s+(?:tasks|list)|(?:for|on)\s+tomorrow"
                     r"|(?:have|to\s+do)\s+tomorrow)\b")),
    ("next_7_days", _rx(r"\b(?:(?:due\s+)?this\s+week|next\s+(?:7|seven)\s+days|coming\s+up)\b")),
]  # fmt: skip
_FINISHED_ON = _rx(r"\b(?:finish|finished|complete|completed|did|done|got\s+done)\b.*?\b"
                   r"(?P<day>yesterday|today)\b")  # fmt: skip
_TAG = _rx(r"(?:#|\btagged\s+(?:as\s+)?|\bwith\s+the\s+(?:tag|label)\s+)(?P<t>[a-z][\w-]*)")
# "show my work tasks": one word between "my" and "tasks" is a tag unless it says a state, a time or a
# priority ("my open tasks", "my old tasks", "my urgent tasks").
_IMPLICIT_TAG = _rx(
    r"\b(?:my|the|all)\s+(?:(?:pending|open|remaining|completed|done|finished|overdue)\s+)?"
    r"(?P<t>[a-z][a-z-]{1,49})\s+(?:tasks|to-?dos|items|ones|stuff|list)\b"
)
_NOT_A_TAG = frozenset(
    re.findall(
        r"\S+",
        """pending open completed complete done finished unfinished incomplete uncompleted undone remaining
        left outstanding active current old new recent latest other overdue late due dated undated upcoming
        next first last few many all daily weekly monthly recurring repeating important urgent critical
        priority prioritized today's tomorrow's todays tomorrows this week's whole entire full to-do todo
        checked unchecked closed deleted trashed archived own same previous earlier later future past high
        medium low normal top""",
    )
)
_PRIORITY_FILTER = _rx(
    r"\b(?:(?P<level>high|medium|low)(?:[\s-]+priority|[\s-]+prio)\b|priority\s+(?P<level2>high|medium|low)\b"
    r"|(?P<urgent>urgent|important|top[\s-]+priority)\b|(?P<p>p[1-4])\b)"
)
_P_LEVEL = {"p1": "high", "p2": "medium", "p3": "low", "p4": "none"}


def list_filters(lowered: str) -> tuple[tuple[str, str], ...]:
    """The date and tag filters a list question names ("what's due today?", "#work tasks")."""
    filters: list[tuple[str, str]] = []
    finished = _FINISHED_ON.search(lowered)
    if finished:
        filters += [("completed_from", finished["day"]), ("completed_to", finished["day"])]
    else:
        due = next((name for name, pattern in _DUE_FILTERS if pattern.search(lowered)), None)
        if due is not None:
            filters.append(("due", due))
    tag = _TAG.search(lowered)
    implicit = _IMPLICIT_TAG.search(lowered)
    if tag:
        filters.append(("tag", tag["t"]))
    elif implicit and implicit["t"] not in _NOT_A_TAG:
        filters.append(("tag", implicit["t"]))
    level = _PRIORITY_FILTER.search(lowered)
    if level:
        named = level["level"] or level["level2"]
        filters.append(("priority", named or ("high" if level["urgent"] else _P_LEVEL[str(level["p"])])))
    return tuple(filters)


def parse_list(clause: str) -> list[Intent] | None:
    clause = correct_typos(clause)
    lowered = clause.lower()
    strong = _STRONG_LIST.match(lowered) is not None
    status = _list_status(lowered)
    filters = list_filters(lowered)
    if any(name == "completed_from" for name, _ in filters):
        status = "completed"
    elif any(value == "overdue" for _, value in filters):
        status = "pending"
    bare = _BARE_LIST.fullmatch(lowered) is not None
    weak = _WEAK_LIST.match(lowered) is not None and (
        _LIST_NOUN.search(lowered) is not None or status != "all" or bool(filters)
    )
    asked = _IS_DONE_QUESTION.fullmatch(clause)
    if asked and not strong and not weak:
        # "is the milk task done?" shows that task with its state.
        ref = parse_ref(asked["q"])
        if ref is not None and (ref.ids or ref.words):
            words = None if ref.ids else ref.words
            return [Intent("list", ref=ref if ref.ids else None, query=words, text=clause)]
    if not (strong or bare or weak):
        search = _SEARCH.fullmatch(clause)
        if search is None or not lowered.startswith(("search", "find", "look", "do i", "is there")):
            return None
    count = lowered.startswith("how many")
    ref, query = _list_target(_without_filters(clause) if filters else clause)
    if filters and query is not None and not content_words(query):
        query = None
    return [Intent("list", ref=ref, status=status, query=query, count=count, text=clause, filters=filters)]


def _without_filters(clause: str) -> str:
    """The clause without the words its tag and priority filters came from, so they are not a search too."""
    clause = _PRIORITY_FILTER.sub(" ", _TAG.sub(" ", clause))
    implicit = _IMPLICIT_TAG.search(clause)
    if implicit and implicit["t"].lower() not in _NOT_A_TAG:
        clause = clause[: implicit.start("t")] + clause[implicit.end("t") :]
    return re.sub(r"\s+", " ", clause).strip()


def _list_status(lowered: str) -> Status:
    if _BOTH_STATES.search(lowered):
        return "all"
    cleaned = re.sub(r"\bto-?\s?do\s+list\b", "list", lowered)
    pending = _PENDING.search(cleaned) is not None
    completed = _COMPLETED.search(cleaned) is not None
    negated = re.search(r"\bnot\s+(?:yet\s+)?(?:done|finished|completed|complete)|haven'?t|didn'?t", cleaned)
    if pending and (negated or not completed):
        return "pending"
    if completed and not pending:
        return "completed"
    return "all"


def _list_target(clause: str) -> tuple[Ref | None, str | None]:
    """The task or words a list question is about ("show task 3", "do I have anything about milk")."""
    for pattern in (_FIELD_OF, _QUERY, _SEARCH):
        match = pattern.search(clause) if pattern is _QUERY else pattern.fullmatch(clause)
        if match is None:
            continue
        phrase = match["q"].strip()
        if _NOT_A_QUERY.fullmatch(phrase) or _BARE_LIST.fullmatch(phrase.lower()):
            continue
        if _list_status(phrase.lower()) != "all" and not content_words(_strip_status(phrase)):
            continue
        ref = parse_ref(phrase)
        if ref is not None and ref.ids:
            return ref, None
        if ref is not None and ref.words is not None:
            return None, ref.words
    return None, None


def _strip_status(phrase: str) -> str:
    return _PENDING.sub(" ", _COMPLETED.sub(" ", phrase))
