"""The phrasings of taking something back: undo, restore from the trash, "I didn't mean that".

- "undo", "undo that", "I didn't mean that", "take that back": undo the latest change still in effect.
- "restore what I deleted", "undo the delete", "bring everything back": undo the latest deletion still
  in effect (a bulk deletion comes back whole).
- "bring back the milk task", "restore task 4", "undelete X", "bring it back": take that task out of
  the trash.
- "undo task 3", "undo the milk one": undo the latest change of that task.

"Reopen X" and "mark X not done" stay reopenings of a completed task (grammar.py); "restore", "bring
back", "undelete" and "recover" always mean the trash.
"""

from __future__ import annotations

import re

from .intents import Intent
from .references import parse_ref


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_THAT = r"(?:that|this|it)"
_PLAIN_UNDO = [
    _rx(r"(?:undo|revert|reverse|roll\s*back|rollback)(?:\s+(?:that|this|it|(?:the|my)\s+(?:last|latest|previous)"
        r"\s+(?:change|thing|action|step|edit|one)|(?:what|everything)\s+(?:i|you)\s+(?:just\s+)?did"
        r"|the\s+(?:last\s+)?(?:change|edit|update|rename|completion)|last))?(?:\s+(?:again|now))?"),
    _rx(r"(?:take|put|change|set)\s+" + _THAT + r"\s+back(?:\s+the\s+way\s+it\s+was)?"),
    _rx(r"(?:i|we)\s+(?:didn'?t|did\s+not|never)\s+(?:mean|want)\s+(?:to\s+(?:do\s+)?)?" + _THAT
        + r"(?:\s+at\s+all)?"),
    _rx(r"(?:i|we)\s+(?:didn'?t|did\s+not|never)\s+(?:mean|want)\s+to\s+(?:complete|finish|rename|change"
        r"|update|edit|mark|do)\s+" + _THAT + r"(?:\s+(?:done|complete))?"),
    _rx(r"(?:that|this)\s+was\s+(?:a\s+)?(?:mistake|wrong|an\s+accident|not\s+what\s+i\s+(?:meant|wanted))"),
    _rx(r"(?:my\s+(?:bad|mistake)|go\s+back)(?:\s+undo)?"),
]  # fmt: skip
_WHAT_I_DELETED = (
    r"(?:(?:what|whatever|everything|all)\s+|the\s+(?:tasks?|ones?|stuff|things?|items?)\s+|it\s+)?"
    r"(?:that\s+|which\s+)?(?:i|we|you)\s+(?:just\s+)?(?:deleted|removed|trashed|threw\s+away|cleared|lost"
    r"|got\s+rid\s+of|erased|wiped)(?:\s+(?:earlier|before|just\s+now|by\s+mistake|by\s+accident))?"
)
_RESTORE = r"(?:restore|recover|undelete|un-delete|untrash|un-trash|retrieve|rescue|get\s+back|bring\s+back)"
_DELETED_UNDO = [
    _rx(r"(?:undo|reverse|revert|cancel)\s+(?:the\s+|my\s+|that\s+)?(?:last\s+)?(?:delete|deletion|removal"
        r"|deleting|wipe|clear(?:ing)?)"),
    _rx(r"(?:i|we)\s+(?:didn'?t|did\s+not|never)\s+(?:mean|want)\s+to\s+(?:delete|remove|trash|clear|wipe)\s+"
        r"(?:that|this|it|them|those|these|everything|all\s+of\s+(?:that|them)|my\s+(?:tasks|list))"),
    _rx(_RESTORE + r"\s+" + _WHAT_I_DELETED),
    _rx(r"(?:give\s+me|put)\s+back\s+" + _WHAT_I_DELETED),
    _rx(_RESTORE + r"\s+(?:(?:all|everything)\s+(?:of\s+)?)?(?:my\s+|the\s+)?(?:deleted|trashed|removed)"
        r"\s+(?:tasks?|ones?|items?|stuff|things|todos)(?:\s+back)?"),
    _rx(_RESTORE + r"\s+(?:everything|all|it\s+all|them\s+all|all\s+of\s+them|my\s+(?:tasks|list|todos)"
        r"|the\s+(?:list|lot))(?:\s+back)?"),
    _rx(r"(?:bring|get|put)\s+(?:everything|it\s+all|them\s+all|all\s+of\s+them|all\s+(?:my\s+)?tasks"
        r"|my\s+(?:tasks|list))\s+back"),
]  # fmt: skip
_REF = r"(?P<ref>.+?)"
_FROM_TRASH = r"(?:\s+(?:from|out\s+of)\s+(?:the\s+)?(?:trash|bin|deleted(?:\s+tasks)?))?"
_RESTORE_REF = [
    _rx(r"(?:restore|recover|undelete|un-delete|untrash|un-trash|retrieve|rescue|revive|bring\s+back"
        r"|get\s+back|put\s+back)\s+" + _REF + _FROM_TRASH + r"(?:\s+(?:back|again))?"),
    _rx(r"(?:bring|get|put)\s+" + _REF + r"\s+back" + _FROM_TRASH + r"(?:\s+again)?"),
    _rx(r"(?:take|get|pull)\s+" + _REF + r"\s+(?:back\s+)?out\s+of\s+the\s+(?:trash|bin)"),
    _rx(r"(?:undo|reverse|revert)\s+(?:the\s+)?(?:deleting|deletion\s+of|delete\s+of|removal\s+of|removing)\s+"
        + _REF),
    _rx(r"(?:i|we)\s+(?:didn'?t|did\s+not|never)\s+(?:mean|want)\s+to\s+(?:delete|remove|trash)\s+" + _REF),
]  # fmt: skip
_UNDO_REF = _rx(r"(?:undo|revert)\s+(?:the\s+(?:last\s+)?(?:change|changes|edit)\s+(?:to|of|on)\s+)?" + _REF)


def parse_recovery(clause: str) -> list[Intent] | None:
    if any(pattern.fullmatch(clause) for pattern in _PLAIN_UNDO):
        return [Intent("undo", text=clause)]
    if any(pattern.fullmatch(clause) for pattern in _DELETED_UNDO):
        return [Intent("undo", deleted=True, text=clause)]
    for pattern in _RESTORE_REF:
        match = pattern.fullmatch(clause)
        ref = parse_ref(match["ref"]) if match else None
        if ref is not None and ref.scope is not None:
            return [Intent("undo", deleted=True, text=clause)]
        if ref is not None:
            return [Intent("restore", ref=ref, text=clause)]
    match = _UNDO_REF.fullmatch(clause)
    ref = parse_ref(match["ref"]) if match else None
    if ref is None:
        return None
    if ref.pronoun is not None or ref.scope is not None:
        return [Intent("undo", text=clause)]
    return [Intent("undo", ref=ref, text=clause)]
