"""Does the user's message say yes to the bulk change the assistant just previewed?

Only a message that is nothing but a yes counts: "yes", "yes please", "yep", "sure", "go ahead",
"do it", "confirm", "ok delete them". A yes that names the other action ("yes, mark them done" after a
delete preview) or asks for anything more ("yes and add milk") is read as a new request, so the token
is never used for something the user did not agree to.
"""

from __future__ import annotations

import re

from .text import normalize

# Words that answer the question on their own.
_STRONG_YES = (
    r"yes|yeah|yea|yep|yup|ya|yah|y|sure|sure\s+thing|confirm(?:ed)?|i\s+confirm|go\s+ahead|go\s+for\s+it"
    r"|do\s+it|do\s+that|please\s+do|absolutely|definitely|of\s+course|affirmative|proceed|i'?m\s+sure"
    r"|i\s+am\s+sure|certainly|let'?s\s+do\s+it|make\s+it\s+so|carry\s+on|please\s+go\s+ahead"
    r"|go\s+on|that'?s\s+(?:fine|right|correct|ok|okay)|correct|sounds\s+good"
)
# Words that are a yes only as an answer to a question ("ok" with nothing asked is just "ok").
_SOFT_YES = r"ok|okay|k|alright|all\s+right|fine|right|please|cool|great|perfect|yes\s+please"
_VERBS = {
    "delete": r"(?:delete|remove|trash|clear|wipe|erase|bin|nuke|get\s+rid\s+of|clear\s+(?:them\s+)?out)",
    "complete": r"(?:complete|finish|mark|check\s+off|tick\s+off|close)",
}
# "delete them" on its own confirms; "delete everything" again needs a yes before it to count as one.
_PRONOUN = (
    r"(?:them|those|these|it|both|them\s+all|all\s+of\s+them|all\s+of\s+those|those\s+tasks|these\s+tasks"
    r"|the\s+tasks|all\s+(?:\d+|two|three|four|five|ten)(?:\s+of\s+them)?)"
)
_SCOPE = r"(?:all|everything|the\s+lot|all\s+tasks|all\s+of\s+it)"
_DONE = r"(?:\s+(?:as\s+)?(?:done|complete|completed|finished))?"
_TAIL = r"(?:\s+(?:please|now|then|thanks|thank\s+you))*"


def _pattern(action: str) -> re.Pattern[str]:
    yes = rf"(?:(?:{_STRONG_YES}|{_SOFT_YES})\s*)"
    lead = r"(?:please\s+|go\s+ahead\s+and\s+|just\s+)?"
    after_yes = rf"(?:{lead}{_VERBS[action]}(?:\s+(?:{_PRONOUN}|{_SCOPE}))?{_DONE}{_TAIL})"
    alone = rf"(?:{lead}{_VERBS[action]}\s+{_PRONOUN}{_DONE}{_TAIL})"
    return re.compile(rf"(?:{yes}+{after_yes}?|{alone})", re.I)


_CONFIRMS = {action: _pattern(action) for action in _VERBS}
_JUST_YES = re.compile(rf"(?:(?:{_STRONG_YES})\s*)+(?:{_TAIL})?", re.I)
_YES_FIRST = re.compile(rf"(?:{_STRONG_YES}|ok|okay|k|alright|all\s+right)\b", re.I)


def _clean(message: str) -> str:
    text = re.sub(r"[,!.;:]+", " ", normalize(message).lower())
    return " ".join(text.split())


def confirms(message: str, action: str) -> bool:
    """True when `message` is a plain yes to the previewed `action` ("complete" or "delete")."""
    pattern = _CONFIRMS.get(action)
    text = _clean(message)
    return pattern is not None and bool(text) and pattern.fullmatch(text) is not None


def says_yes(message: str) -> bool:
    """True for a plain yes ("yes", "sure", "go ahead"), whatever it may answer."""
    text = _clean(message)
    return bool(text) and _JUST_YES.fullmatch(text) is not None


def answers_a_preview(message: str) -> bool:
    """True for a yes to a bulk action ("ok, delete them", "yes, mark them done"): an answer to a
    preview, never a new request of its own."""
    text = _clean(message)
    verbs = "|".join(_VERBS.values())
    return _YES_FIRST.match(text) is not None and re.search(rf"\b(?:{verbs})\b", text) is not None
