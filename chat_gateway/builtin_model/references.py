"""Turning what the user said about a task into task ids, against the list the task server returned.

A reference acts only on a unique match. Several matches come back as candidates so the reply can ask
which one; no match comes back empty so the reply can say so. Nothing here guesses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.dates import describe_due_json

from .intents import Action, Ref
from .text import STOPWORDS, close_enough, content_words, correct_typos, stem, unquote

_PRONOUN_IT = re.compile(
    r"(?:it|that|this|that one|this one|that task|this task|the task|task|that item|the item|the one|same one"
    r"|the same one|the last one|the one i just (?:added|made|created|mentioned))",
    re.I,
)
_PRONOUN_THEM = re.compile(
    r"(?:them|they|those|these|both|both of them|all of them|all of those|those ones|these ones|the two"
    r"|those two|these two|them all|all three|those tasks|these tasks|the ones i just added)",
    re.I,
)
_STATUS_WORDS: Mapping[str, str] = {
    "completed": "completed", "complete": "completed", "done": "completed", "finished": "completed",
    "checked": "completed", "ticked": "completed", "closed": "completed", "old": "completed",
    "pending": "pending", "open": "pending", "unfinished": "pending", "incomplete": "pending",
    "remaining": "pending", "outstanding": "pending", "active": "pending", "undone": "pending",
}  # fmt: skip
_STATUS = "(?:" + "|".join(_STATUS_WORDS) + ")"
_NOUNS = r"(?:ones|tasks|items|todos|to-dos|things|reminders|stuff)"
_ON_LIST = r"(?:\s+(?:on|in|from)\s+(?:my|the)\s+list)?"
_BULK = re.compile(
    r"(?:all|every|each)(?:\s+(?:of|the|my|your))*(?:\s+(?P<status>"
    + _STATUS
    + r"))?(?:\s+"
    + _NOUNS
    + ")?"
    + _ON_LIST
    + r"|(?:the\s+|my\s+)?(?P<status2>"
    + _STATUS
    + r")(?:\s+"
    + _NOUNS
    + ")?"
    + _ON_LIST
    + r"|everything|every task|every single task|my (?:whole |entire )?(?:list|todo list|to-do list)"
    r"|(?:my|the) (?:tasks|todos|to-dos|items|reminders)"
    r"|the (?:whole |entire )?list|the lot",
    re.I,
)
_ID = r"(?:(?:tasks?|items?|todos?|to-dos?)\s*)?(?:(?:numbers?|nos?\.?|ids?|#)\s*)?#?\d+"
_IDS = re.compile(
    _ID + r"(?:\s*(?:,|and|&|\+|or|,\s*and)\s*" + _ID + ")*",
    re.I,
)
_NUMBER_NAMES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
)
_NUMBERS = {name: value for value, name in enumerate(_NUMBER_NAMES.split(" "))}
# "task one" is task 1; a bare "one" is not ("the milk one").
_NUMBER_WORD = re.compile(r"\b(tasks?|items?|numbers?|no\.?|#)\s*(" + "|".join(_NUMBERS) + r")\b", re.I)
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "last": -1, "latter": -1, "former": 1}  # fmt: skip
_ORDINAL = re.compile(r"(?:the\s+)?(" + "|".join(_ORDINALS) + r")(?:\s+(?:one|task|item))?", re.I)
_WRAPPER = re.compile(
    r"^(?:the|my|a|an|our|that|this|those|these)\s+|^(?:(?:task|item|todo|to-do|reminder|entry|one)s?\s+"
    r"(?:called|named|titled|about|for|to|that says|saying|with|regarding)\s+)"
    r"|^(?:one|task|item|todo|to-do)s?\s+(?=[\"'])"
    r"|\s+(?:one|ones|task|tasks|item|items|todo|todos|to-do|entry|thing|reminder)$"
    r"|\s+(?:from|on|off|in)\s+(?:my|the)\s+(?:\w+\s+)?(?:list|todo list|to-do list|tasks)$",
    re.I,
)
_ONE_ABOUT = re.compile(
    r"^(?:the\s+)?(?:one|task|item|todo|reminder)s?\s+(?:about|for|with|called|named|titled|that says"
    r"|saying|regarding|mentioning|to)\s+",
    re.I,
)
_PART_SPLIT = re.compile(r"\s*(?:,\s*and|,|\band\b|&)\s*", re.I)


def parse_ref(text: str) -> Ref | None:
    """Read a reference phrase ("#3", "the milk one", "it", "all completed tasks", "tasks 1 and 2")."""
    text = text.strip(" .!?,")
    if not text:
        return None
    if _PRONOUN_IT.fullmatch(text):
        return Ref(pronoun="it")
    if _PRONOUN_THEM.fullmatch(text):
        return Ref(pronoun="them")
    text = _NUMBER_WORD.sub(lambda m: f"{m.group(1)} {_NUMBERS[m.group(2).lower()]}", text)
    if _IDS.fullmatch(text):
        return Ref(ids=tuple(dict.fromkeys(int(n) for n in re.findall(r"\d+", text))))
    ordinal = _ORDINAL.fullmatch(text)
    if ordinal:
        return Ref(ordinal=_ORDINALS[ordinal.group(1).lower()])
    bulk = _BULK.fullmatch(text)
    if bulk:
        word = (bulk.group("status") or bulk.group("status2") or "").lower()
        status = _STATUS_WORDS.get(word, "all")
        return Ref(
            scope="completed" if status == "completed" else "pending" if status == "pending" else "all"
        )
    words = _strip_wrappers(text)
    corrected = correct_typos(text)
    if corrected != text:
        # "tsak 2" is task 2; a misspelt title word is left for the fuzzy title match instead.
        again = parse_ref(corrected)
        if again is not None and again.words is None:
            return again
    if not words or not content_words(words):
        # "delete my tasks" names no task at all; saying so beats guessing which ones.
        return None
    parts = tuple(p for p in (_strip_wrappers(x) for x in _PART_SPLIT.split(words)) if content_words(p))
    return Ref(words=words, parts=parts if len(parts) > 1 else ())


def _strip_wrappers(text: str) -> str:
    text = _ONE_ABOUT.sub("", text.strip())
    previous = None
    while previous != text:
        previous = text
        text = _WRAPPER.sub("", text).strip()
    return unquote(text)


@dataclass(frozen=True)
class TaskInfo:
    id: int
    title: str
    completed: bool | None = None
    description: str | None = None
    # When it is due, for people, in the task's own zone ("tomorrow, Fri 4 Dec, 09:00"), if it is.
    due: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskInfo | None:
        task_id = data.get("id", data.get("task_id"))
        title = data.get("title")
        if not isinstance(task_id, int) or not isinstance(title, str):
            return None
        completed = data.get("completed")
        description = data.get("description")
        return cls(
            task_id,
            title,
            completed if isinstance(completed, bool) else None,
            description if isinstance(description, str) else None,
            describe_due_json(data.get("due"), datetime.now(UTC)),
        )


@dataclass(frozen=True)
class Resolution:
    """Tasks a reference picked out; `candidates` when it could mean several, `missing` when none."""

    tasks: tuple[TaskInfo, ...] = ()
    candidates: tuple[TaskInfo, ...] = ()
    missing: tuple[str, ...] = ()


def resolve(ref: Ref, tasks: Sequence[TaskInfo], action: Action) -> Resolution:
    if ref.scope is not None:
        wanted = None if ref.scope == "all" else ref.scope == "completed"
        return Resolution(tasks=tuple(t for t in tasks if wanted is None or t.completed is wanted))
    if ref.words is None:
        return Resolution()
    whole = match_words(ref.words, tasks, action)
    if len(whole) == 1 or not ref.parts:
        return _resolution(ref.words, whole)
    # "the milk one and the eggs one": each part must pick out exactly one task of its own.
    picked: list[TaskInfo] = []
    missing: list[str] = []
    for part in ref.parts:
        found = match_words(part, tasks, action)
        if len(found) > 1:
            return Resolution(candidates=tuple(found))
        if found:
            picked.extend(t for t in found if t not in picked)
        else:
            missing.append(part)
    if not picked and whole:
        return _resolution(ref.words, whole)
    return Resolution(tasks=tuple(picked), missing=tuple(missing))


def _resolution(words: str, found: list[TaskInfo]) -> Resolution:
    if len(found) == 1:
        return Resolution(tasks=(found[0],))
    if found:
        return Resolution(candidates=tuple(found))
    return Resolution(missing=(words,))


def match_words(words: str, tasks: Sequence[TaskInfo], action: Action | None = None) -> list[TaskInfo]:
    """Tasks whose title contains every word of `words` (as typed, as a prefix, or with one typo)."""
    phrase = " ".join(unquote(words).lower().split())
    exact = [t for t in tasks if " ".join(t.title.lower().split()) == phrase]
    if len(exact) == 1:
        return exact
    query = content_words(phrase) or tuple(stem(w) for w in phrase.split() if w not in STOPWORDS)
    if not query:
        return []
    found = [t for t in tasks if _all_words_match(query, content_words(t.title), exact=True)]
    if not found:
        found = [t for t in tasks if _all_words_match(query, content_words(t.title), exact=False)]
    if len(found) > 1 and action in ("complete", "reopen"):
        # Completing a finished task changes nothing, so "the milk one" means the pending one.
        preferred = [t for t in found if t.completed is (action == "reopen")]
        found = preferred or found
    return found


def _all_words_match(query: tuple[str, ...], title: tuple[str, ...], *, exact: bool) -> bool:
    for word in query:
        if exact:
            hit = any(word == t or (len(word) >= 3 and t.startswith(word)) for t in title)
        else:
            hit = any(close_enough(word, t) for t in title)
        if not hit:
            return False
    return True
