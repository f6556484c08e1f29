"""Text helpers for the builtin model: cleaning a message, splitting it into clauses, fuzzy words.

Everything here is pure and cheap: the whole model must stay well under a millisecond per turn, so the
patterns are compiled once at import and the fuzzy matcher only ever compares a handful of short words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Curly quotes and dashes arrive from phones and word processors; the patterns only know ASCII.
_TRANSLATE = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-"})

# A quoted span is an exact title; an apostrophe inside a word ("don't", "kids'") is not a quote.
QUOTED = re.compile(r'"([^"]+)"|(?<![\w])\'([^\']+)\'(?![\w])')

_LEADING_FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|yo|ok|okay|k|alright|all right|so|well|um+|uh+|er+|hm+|oh|ah|right|now|and"
    r"|also|then|plus|please|pls|plz|kindly|just|quickly|actually|sorry|excuse me|thanks|thank you|thx"
    r"|cool|great|nice|perfect|awesome|good|sure|yes|yeah|yep|oops|btw|by the way|one more thing"
    r"|another thing|next|ok then|wait|oh wait|hold on|on second thought|whoops|lastly|finally)"
    r"(?:\s+there)?(?:[\s,!.:;-]+|$))+",
    re.I,
)
_REQUEST_WRAPPER = re.compile(
    r"^(?:(?:could|can|would|will|wont|won't)\s+(?:you|u|ya)(?:\s+(?:please|pls|kindly|just|quickly|maybe))*"
    r"|(?:i'?d|i would) (?:like|love) (?:it )?(?:you to|if you (?:could|would|can))"
    r"|i (?:want|need) you to|go ahead and|be a dear and|i'?d appreciate it if you(?: could)?"
    r"|you (?:can|could|should|need to|must)|(?:please|pls|plz|kindly|just|quickly|now))\s+",
    re.I,
)
_TRAILING_FILLER = re.compile(
    r"(?:[\s,]+(?:please|pls|plz|thanks|thank you(?: so much| very much)?|thank u|thx|ty|cheers|for me"
    r"|right now|now|asap|if you can|if you could|if possible|when you get a chance|real quick|quickly"
    r"|ok|okay|thanks a lot|will you|would you|could you|can you|again|too|as well|thanks again|but|and"
    r"|so|also)"
    r")+[\s.!?]*$",
    re.I,
)
TRAILING_PUNCT = re.compile(r"[\s.!?,;:]+$")
_INNER_PLEASE = re.compile(r"\s*\b(?:please|pls|plz|kindly)\b,?", re.I)

# Clause starters that mean a new request follows "and" or a comma (see split_clauses).
COMMAND_START = (
    r"(?:add|create|put|remind|delete|remove|erase|get rid of|complete|finish|mark|tick|cross|show|list"
    r"|display|rename|update|change|edit|reopen|uncheck|undo|what|what's|whats|tell me|give me|clear|set"
    r"|also|how many|i did|i finished|i completed|i've|i have done|then)"
)
_SENTENCE_START = (
    r"(?:add|create|put|remind|delete|remove|erase|get|complete|finish|mark|check|tick|cross|show|list"
    r"|display|view|rename|update|change|edit|set|reopen|uncheck|undo|what|what's|whats|which|how|tell"
    r"|give|clear|cancel|i|i'm|i've|we|please|can|could|would|will|also|and|then|thanks|thank|oh|ok"
    r"|okay|hi|hello|hey|new|task|todo|reminder|don't|dont|remember|need|help|now|next)"
)
_HARD_SPLIT = re.compile(
    r"\s*(?:;|\n+|(?<=[.!?])\s+(?=" + _SENTENCE_START + r"\b)|,?\s+(?:and\s+then|and\s+also|then|also"
    r"|after that|afterwards|plus)\s+)\s*",
    re.I,
)
_SOFT_SPLIT = re.compile(r"\s*(,\s*and|,|\band)\s+(?=" + COMMAND_START + r"\b)", re.I)
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")


def normalize(text: str) -> str:
    """Unicode-fold, straighten quotes and collapse whitespace; casing is kept for titles."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return " ".join(text.split())


def protect_quotes(text: str) -> tuple[str, list[str]]:
    """Replace quoted spans by placeholders so splitting and filler removal never cut into them."""
    quoted: list[str] = []

    def keep(match: re.Match[str]) -> str:
        quoted.append(match.group(0))
        return f"\x00{len(quoted) - 1}\x00"

    return QUOTED.sub(keep, text), quoted


def restore_quotes(text: str, quoted: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: quoted[int(m.group(1))], text)


def is_filler(clause: str) -> bool:
    """A clause of nothing but filler ("oh wait,") carries no request of its own."""
    return not _LEADING_FILLER.sub("", clause).strip(" ,.!?;:-")


def strip_filler(clause: str) -> str:
    """Remove greetings, politeness and request wrappers around a command ("could you please ...")."""
    previous = None
    while previous != clause:
        previous = clause
        stripped = _LEADING_FILLER.sub("", clause)
        # A message that is nothing but filler ("thanks!") keeps its words for the chat rules.
        if stripped:
            clause = stripped
        clause = _REQUEST_WRAPPER.sub("", clause)
        clause = _TRAILING_FILLER.sub("", clause)
        clause = TRAILING_PUNCT.sub("", clause)
    if " " in clause:
        clause = _INNER_PLEASE.sub("", clause).strip()
    return clause


def split_clauses(text: str) -> list[tuple[str, str | None]]:
    """Split a protected message into (clause, separator) pairs; the separator is None for a hard split.

    A soft separator is "and"/"," before a command word: the parser may glue such a clause back onto
    an add ("add write report and finish slides" is two tasks, not an add and a completion).
    """
    clauses: list[tuple[str, str | None]] = []
    for hard in _HARD_SPLIT.split(text):
        parts = _SOFT_SPLIT.split(hard)
        separator: str | None = None
        for index, part in enumerate(parts):
            if index % 2:
                separator = part
            elif part.strip():
                clauses.append((part.strip(), separator))
                separator = None
    return clauses


def unquote(text: str) -> str:
    text = text.strip()
    match = QUOTED.fullmatch(text)
    if match:
        return (match.group(1) or match.group(2)).strip()
    return text.strip("\"'").strip()


def tidy_title(text: str) -> str:
    """A title as a person would write it: trimmed, without trailing punctuation, capitalised."""
    text = TRAILING_PUNCT.sub("", unquote(text)).strip(" -:,")
    if not text:
        return text
    if text.isupper() and " " in text:
        # A title typed in capitals is shouting, not an acronym: "BUY MILK" becomes "Buy milk".
        text = text.lower()
    first = text.split(" ", 1)[0]
    # "buy milk" becomes "Buy milk", but "iPhone case" and "eBay return" keep their own casing.
    if first.isalpha() and first.islower():
        text = text[0].upper() + text[1:]
    return text


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    _words(
        "a about an and at called entry for from her his in is it item items its list my named of on one "
        "ones or our please re regarding reminder reminders say says task tasks that that's the their "
        "these thing things this those titled to to-do todo todos which with your"
    )
)


def stem(word: str) -> str:
    """Crude plural folding so "meetings" finds "meeting"; good enough for matching titles."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=4096)
def content_words(text: str) -> tuple[str, ...]:
    """The words that identify a task, lowercased and stemmed, without articles or filler."""
    return tuple(stem(w) for w in _WORD.findall(text.lower().replace("'s ", " ")) if w not in STOPWORDS)


@lru_cache(maxsize=8192)
def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: a swap of two neighbours ("teh") counts as one typo."""
    if a == b:
        return 0
    if abs(len(a) - len(b)) > 2:
        return 3
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def close_enough(typed: str, known: str) -> bool:
    """One typo in a word of four letters or more, two in a long word."""
    if len(typed) < 4 or len(known) < 4:
        return False
    return edit_distance(typed, known) <= (2 if len(known) >= 8 else 1)


# The vocabulary the typo pass corrects towards: command words only, never title words.
KEYWORDS = _words(
    "add need create delete remove complete completed finish finished mark done show list display rename "
    "update change edit pending remind reminder tasks task todo todos description everything cancel "
    "erase check what's whats clear reopen uncheck title details open remaining outstanding"
)
# Common words that are one letter away from a keyword ("and"/"add", "dome"/"done") stay as typed.
_NEVER_CORRECT = frozenset(
    _words(
        "and the to do at on in is it me my of or as an a be by are was has had his her its our out dome "
        "bone gone none tone lone hone make mask made park dark bark mart call calls cake fake take lake "
        "lift gist mist most fist life line like link lint cheek chick check when whom shoe shop snow "
        "slow show shot shut what that then than thin tall tell toll till dish wish fish upset delta "
        "create crate cart card desk disk task taste tasty tusk ask tax text next test best"
    )
)
_COMMON_TYPOS = {
    "ad": "add", "addd": "add", "teh": "the", "hte": "the", "adn": "and", "taks": "task", "tsak": "task",
    "tasl": "task", "tsk": "task", "tasks": "tasks", "tkas": "task", "lst": "list", "mi": "my", "ym": "my",
}  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z']+")


@lru_cache(maxsize=2048)
def correct_typos(text: str) -> str:
    """Replace misspelt command words ("dleete", "shwo", "lsit") with the word they resemble.

    The parser reads the corrected text only where the text as typed made no sense, or where its first
    word (the command) is a misspelling, so a title word is not "corrected" into a keyword.
    """
    return _TOKEN.sub(lambda match: _corrected(match.group(0).lower()) or match.group(0), text)


_KEYWORD_SET = frozenset(KEYWORDS)
_LONG_KEYWORDS = tuple(keyword for keyword in KEYWORDS if len(keyword) > 3)
_KEYWORDS_BY_INITIAL: dict[str, tuple[str, ...]] = {
    initial: tuple(k for k in KEYWORDS if k[0] == initial) for initial in {k[0] for k in KEYWORDS}
}


@lru_cache(maxsize=8192)
def _corrected(word: str) -> str | None:
    if word in _NEVER_CORRECT or word in _KEYWORD_SET:
        return None
    if word in _COMMON_TYPOS:
        return _COMMON_TYPOS[word]
    if any(keyword in word for keyword in _LONG_KEYWORDS):
        # "incomplete", "unfinished" and "tasks" are words of their own, not misspellings.
        return None
    # Typos rarely hit the first letter, and comparing against a handful of keywords keeps this fast.
    for keyword in _KEYWORDS_BY_INITIAL.get(word[:1], ()):
        if abs(len(keyword) - len(word)) <= 2 and close_enough(word, keyword):
            return keyword
    return None
