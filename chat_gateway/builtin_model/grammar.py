"""The phrasings of requests about existing tasks and of small talk, as ordered regex rules.

Questions about the list are in listing.py; undo and restore in recovery.py.

Each rule is a full-match pattern plus a builder. Order matters: specific phrasings come before general
ones ("mark it as not done" is a reopen before "mark it done" is a completion; "remove the description
of X" is an update before "remove X" is a deletion). A builder may decline (return None), for example
when the words where a task should be name no task, and the next rule gets its chance.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .intents import Action, Intent, Ref
from .references import parse_ref
from .text import tidy_title, unquote

Builder = Callable[[re.Match[str]], list[Intent] | None]
Rule = tuple[re.Pattern[str], Builder]

REF = r"(?P<ref>.+?)"
LIST_SUFFIX = (
    r"(?:\s+(?:from|off|out\s+of|on|in)\s+(?:my|the)\s+(?:\w+\s+)?"
    r"(?:list|tasks|todos?|to-?dos?|to-?do\s+list|task\s+list|checklist))?"
)
DONE = (
    r"(?:done|complete|completed|finished|checked(?:\s+off)?|ticked(?:\s+off)?|crossed(?:\s+off)?|resolved"
    r"|closed|taken\s+care\s+of|handled|sorted(?:\s+out)?|dealt\s+with|accomplished)"
)
NOT_DONE = (
    r"(?:not\s+(?:yet\s+)?(?:done|complete|completed|finished)|undone|incomplete|uncompleted|unfinished"
    r"|pending|open|active|to-?do|outstanding|unchecked|not\s+started)"
)
PAST_TENSE = (
    r"(?:bought|called|paid|emailed|texted|sent|picked\s+up|walked|fed|cleaned|washed|fixed|wrote|read"
    r"|booked|ordered|returned|renewed|submitted|made|cooked|baked|watered|visited|mailed|printed|signed"
    r"|filed|scheduled|reviewed|prepared|mowed|vacuumed|packed|posted|answered|messaged|phoned|rang|met"
    r"|went\s+to|attended|dropped\s+off|collected|cleared|tidied|ironed|replied\s+to|contacted|renewed"
    r"|charged|studied|practiced|practised|organized|organised|finished\s+up|did)"
)
_STATUS_TITLE = re.compile(r"(?:done|complete|completed|finished)|" + NOT_DONE, re.I)
_NEGATIVE_STATUS = re.compile(r"(?:not|un|in|pending|open|active|to-?do|outstanding)", re.I)
# "update task 2 title to X" and "change task 2's name to X" name the field after the task.
_OWNED_TITLE = re.compile(r"^(.+?)(?:'s)?\s+(?:title|name)(?=\s+(?:to|as|into)\s|\s*:)", re.I)
# Longest first: "change X to say Y" must not leave "say Y" as the title.
_TITLE_SEPARATOR = r"\s+(?:to\s+say|to\s+read|so\s+it\s+says|to|as|into)\s+|\s*(?::|->|=>|→)\s*|\s+-\s+"
_OWNED_DESCRIPTION = re.compile(r"\b(?:description|desc|details|notes?)$", re.I)
_VERB_START = re.compile(
    r"^(?:add|create|delete|remove|mark|set|change|update|rename|show|list|make|complete|finish)\b", re.I
)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


def _targeted(action: Action, **fixed: Any) -> Builder:
    def build(match: re.Match[str]) -> list[Intent] | None:
        ref = parse_ref(match["ref"])
        if ref is None:
            return None
        values = dict(fixed)
        groups = match.groupdict()
        if groups.get("desc") is not None:
            values["description"] = unquote(groups["desc"])
        return [Intent(action, ref=ref, text=match.string, **values)]

    return build


def is_strong(ref: Ref, phrase: str) -> bool:
    """A reference that cannot be mistaken for the start of a title: an id, a pronoun, quotes, "X one"."""
    if ref.words is None:
        return True
    phrase = phrase.strip().lower()
    return phrase[:1] in "\"'" or phrase.endswith((" one", " task", " item", " todo", "'", '"'))


def _cut(rest: str, separator: str) -> tuple[Ref, str, str] | None:
    """Where to cut "<task> to <new value>": the strongest reference wins ("rename go to gym one to X")."""
    cuts: list[tuple[Ref, str, str]] = []
    for sep in re.finditer(separator, rest, re.I):
        phrase, value = rest[: sep.start()], rest[sep.end() :]
        ref = parse_ref(phrase) if phrase.strip() and value.strip() else None
        if ref is not None:
            cuts.append((ref, phrase, value))
    return min(cuts, key=lambda cut: not is_strong(cut[0], cut[1]), default=None)


def _retitle(match: re.Match[str]) -> list[Intent] | None:
    cut = _cut(_OWNED_TITLE.sub(r"\1", match["rest"]), _TITLE_SEPARATOR)
    if cut is None or _OWNED_DESCRIPTION.search(cut[1]):
        # "update task 3 description: ..." is about the description, which a later rule reads.
        return None
    ref, value = cut[0], unquote(cut[2])
    if _STATUS_TITLE.fullmatch(value):
        # "change task 3 to done" changes its state, not its title.
        action: Action = "reopen" if _NEGATIVE_STATUS.match(value) else "complete"
        return [Intent(action, ref=ref, text=match.string)]
    return [Intent("update", ref=ref, title=tidy_title(value), text=match.string)]


def _retitle_with(match: re.Match[str], separator: str) -> list[Intent] | None:
    cut = _cut(match["rest"], separator)
    return (
        None if cut is None else [Intent("update", ref=cut[0], title=tidy_title(cut[2]), text=match.string)]
    )


def _describe(match: re.Match[str]) -> list[Intent] | None:
    cut = _cut(match["rest"], _DESC_SEPARATOR)
    return (
        None
        if cut is None
        else [Intent("update", ref=cut[0], description=unquote(cut[2]), text=match.string)]
    )


def _describe_owned(match: re.Match[str]) -> list[Intent] | None:
    if _VERB_START.match(match["ref"]):
        return None
    return _targeted("update")(match)


_DESC_SEPARATOR = (
    r"\s*(?::|=|\s-\s)\s*|\s+(?:saying|that\s+says|reading|which\s+says|as|to|with|to\s+say|to\s+read)\s+"
)
_DESC_NOUN = r"(?:description|desc|details?|notes?|comment|info)"

TARGETED_RULES: list[Rule] = [
    # Descriptions first: "remove the description of X" must not delete X.
    (_rx(r"(?:clear|remove|delete|drop|erase|wipe|empty|reset)\s+(?:the\s+|its\s+)?" + _DESC_NOUN
         + r"\s+(?:of|from|for|on|in)\s+" + REF), _targeted("update", description="")),
    (_rx(r"(?:add|put|attach|give|write|set|append|include|leave)\s+(?:it\s+)?(?:a|an|the|some|this)?\s*"
         + _DESC_NOUN + r"\s+(?:to|for|on|of|in)\s+(?P<rest>.+)"), _describe),
    (_rx(r"(?:change|update|edit|modify|alter|replace|set|make|rewrite)\s+(?:the\s+)?" + _DESC_NOUN
         + r"\s+(?:of|for|on|in)\s+(?P<rest>.+)"), _describe),
    (_rx(r"describe\s+" + REF + r"\s+as\s+(?P<desc>.+)"), _targeted("update")),
    # Titles.
    (_rx(r"(?:rename|retitle|relabel|reword|re-title|re-name)\s+(?P<rest>.+)"), _retitle),
    (_rx(r"(?:change|update|edit|set|modify|alter|fix|correct)\s+(?:the\s+)?(?:title|name|wording|text|label)"
         r"\s+(?:of|for|on|in)\s+(?P<rest>.+)"), _retitle),
    (_rx(r"(?:change|update|edit|modify|alter|switch|fix|correct|rewrite|reword)\s+(?P<rest>.+)"), _retitle),
    (_rx(r"make\s+(?P<rest>.+)"), lambda m: _retitle_with(m, r"\s+(?:say|read)\s+")),
    (_rx(r"(?P<rest>.+)"), lambda m: _retitle_with(m, r"\s+should\s+(?:be\s+(?:called|named)|say)\s+")),
    # Reopening, before completion, because "not done" contains "done".
    (_rx(r"(?:mark|set|flag|move|put|change|switch|turn)\s+" + REF
         + r"\s+(?:as\s+|to\s+|back\s+to\s+|back\s+as\s+)?(?:being\s+)?" + NOT_DONE + r"(?:\s+again)?"),
     _targeted("reopen")),
    (_rx(r"(?:reopen|re-open|uncheck|untick|unmark|uncomplete|un-complete|unfinish)\s+"
         + REF + r"(?:\s+again)?"), _targeted("reopen")),
    (_rx(REF + r"\s+(?:is\s+not|isn'?t|was\s+not|wasn'?t|is\s+still\s+not|still\s+isn'?t)\s+(?:actually\s+"
         r"|really\s+)?(?:done|finished|complete|completed)(?:\s+(?:yet|after\s+all|actually))?"),
     _targeted("reopen")),
    (_rx(r"(?:i|we)\s+(?:didn'?t|did\s+not|haven'?t|have\s+not|never)\s+(?:actually\s+|really\s+)?(?:do|did"
         r"|done|finish|finished|complete|completed)\s+" + REF + r"(?:\s+(?:yet|after\s+all))?"),
     _targeted("reopen")),
    # Completion.
    (_rx(r"(?:mark|set|flag|put|move|change|switch|turn)\s+" + REF + r"\s+(?:as\s+|to\s+)?(?:being\s+)?"
         + DONE + r"(?:\s+(?:now|already|today))?"), _targeted("complete")),
    (_rx(r"(?:mark|set)\s+(?:as\s+)?" + DONE + r"\s*:?\s+" + REF), _targeted("complete")),
    (_rx(r"(?:check|tick|cross)\s+" + REF + r"\s+off(?:\s+(?:of\s+)?(?:my|the)\s+(?:\w+\s+)?list)?"),
     _targeted("complete")),
    (_rx(r"(?:complete|finish|finished|close|resolve|check\s+off|tick\s+off|tick|cross\s+off|done\s+with"
         r"|finished\s+with|(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:done|finished|through)\s+with|did|done)\s*:?\s+"
         + REF + LIST_SUFFIX), _targeted("complete")),
    (_rx(r"(?:i|we)(?:'ve|\s+have|'d|\s+had)?\s+(?:(?:just|already|finally|now|actually)\s+)*(?:did|done"
         r"|finished|completed|complete|took\s+care\s+of|taken\s+care\s+of|handled|sorted(?:\s+out)?"
         r"|knocked\s+out|wrapped\s+up|got\s+through|crossed\s+off|checked\s+off|ticked\s+off|finish)\s+"
         + REF + r"(?:\s+(?:now|already|today|yesterday))?"), _targeted("complete")),
    (_rx(r"(?:i|we)(?:'ve|\s+have)?\s+(?:(?:just|already|finally|now|actually)\s+)*" + PAST_TENSE + r"\s+"
         + REF + r"(?:\s+(?:now|already|today|yesterday))?"), _targeted("complete")),
    # Deletion.
    (_rx(r"(?:delete|remove|del|rm|erase|cancel|trash|discard|scrap|ditch|nuke|drop|get\s+rid\s+of"
         r"|throw\s+(?:out|away)|forget\s+about|forget|scratch|strike|bin|toss|purge|clear(?:\s+out)?"
         r"|wipe(?:\s+out)?|axe|kill)\s+" + REF + LIST_SUFFIX
         + r"(?:\s+(?:for\s+good|permanently|completely|entirely|altogether|as\s+well))?"),
     _targeted("delete")),
    (_rx(r"take\s+" + REF + r"\s+off(?:\s+(?:of\s+)?(?:my|the)\s+(?:\w+\s+)?list)?"), _targeted("delete")),
    (_rx(r"(?:i|we)\s+(?:don'?t|do\s+not)\s+need\s+(?:to\s+)?" + REF
         + r"\s+(?:anymore|any\s+more|any\s+longer)"),
     _targeted("delete")),
    (_rx(r"(?:i|we)\s+no\s+longer\s+need\s+(?:to\s+)?" + REF), _targeted("delete")),
    (_rx(r"(?:(?:update|set|change|edit|make)\s+)?" + REF + r"(?:'s)?\s+" + _DESC_NOUN
         + r"\s*(?:should\s+be|is\s+now|to|=|:)\s*(?P<desc>.+)"), _describe_owned),
]  # fmt: skip

# "task 3 is done" comes after the list rules, so that "show what's done" stays a question.
PARTICIPLE = (
    r"(?:paid|bought|sent|booked|ordered|fixed|cleaned|washed|returned|renewed|submitted|signed|filed|mailed"
    r"|posted|cooked|made|picked\s+up|scheduled|cancell?ed|packed|printed|watered|fed|walked|called|emailed"
    r"|texted|written|read|finished\s+up|over|sorted|ready|sent\s+off|taken\s+out|out\s+of\s+the\s+way)"
)
# "is", or the "'s" of "that's done" (which has no space before it).
_COPULA = r"(?:'s|'re|\s+(?:is|are|was|were|has\s+been|have\s+been|got|s))"
_ADVERBS = r"\s+(?:(?:now|all|already|finally)\s+)*"
_WHEN = r"(?:\s+(?:now|already|today))?"
PARTICIPLE_STATEMENT: Rule = (
    _rx(REF + _COPULA + _ADVERBS + PARTICIPLE + _WHEN),
    _targeted("complete"),
)  # fmt: skip
DONE_STATEMENT: Rule = (
    _rx(REF + _COPULA + "?" + _ADVERBS + DONE + _WHEN),
    _targeted("complete"),
)

_ACK = (
    r"(?:thanks|thank\s+you|thank\s+u|thx|ty|tysm|cheers|much\s+appreciated|appreciate\s+it|great|awesome"
    r"|perfect|cool|nice|ok|okay|k|got\s+it|good|sounds\s+good|that'?s\s+(?:great|perfect)|all\s+good"
    r"|brilliant|excellent|lovely|wonderful|fantastic|amazing|sweet|neat|great\s+job|well\s+done|good\s+job"
    r"|you'?re\s+the\s+best|alright|all\s+right|yay)"
)
_CHAT: list[tuple[Action, re.Pattern[str]]] = [
    (
        "help",
        _rx(
            r"(?:help|help\s+me|h|\?+|what\s+can\s+(?:you|u)\s+do(?:\s+for\s+me)?|what\s+do\s+you\s+do"
            r"|how\s+does\s+(?:this|it)\s+work|how\s+do\s+(?:i|you)\s+(?:use\s+(?:this|you|it)|work)"
            r"|commands|menu|options|what\s+are\s+you|who\s+are\s+you|how\s+can\s+you\s+help(?:\s+me)?"
            r"|what\s+can\s+i\s+(?:say|ask|do)|what\s+are\s+(?:the|your)\s+commands|instructions|usage"
            r"|what\s+is\s+this|what\s+should\s+i\s+say|examples?|tutorial|show\s+me\s+how"
            r"|how\s+(?:do|can|should)\s+i\s+(?:add|create|delete|remove|complete|finish|list|see|rename|edit"
            r"|update|change|mark|use)\b.*)"
        ),
    ),
    (
        "greet",
        _rx(
            r"(?:hi|hello|hey|hiya|howdy|yo|greetings|good\s+(?:morning|afternoon|evening|day)|morning"
            r"|evening|sup|what'?s\s+up|wassup|hola|heya|hey\s+hey)(?:\s+(?:there|bot|assistant|buddy"
            r"|friend|you|again))?(?:\s+how\s+are\s+you(?:\s+doing)?)?"
        ),
    ),
    (
        "thank",
        _rx(
            _ACK + r"(?:\s+(?:" + _ACK + r"|so\s+much|a\s+lot|very\s+much|again|a\s+bunch|mate|buddy"
            r"|a\s+million))*"
        ),
    ),
    (
        "bye",
        _rx(
            r"(?:bye|goodbye|good\s*night|see\s+you(?:\s+later)?|see\s+ya|later|cya|ttyl|farewell"
            r"|that'?s\s+all(?:\s+for\s+now)?|i'?m\s+done(?:\s+for\s+(?:now|today))?|bye\s+bye)"
        ),
    ),
    (
        "dismiss",
        _rx(
            r"(?:never\s*mind|nvm|forget\s+it|forget\s+about\s+it|cancel|cancel\s+that|nothing|no"
            r"|nope|no\s+thanks|stop|abort|not\s+now|nah|skip\s+it|don'?t\s+bother)"
        ),
    ),
]


_BARE_VERB = _rx(
    r"(?P<verb>complete|finish|mark(?:\s+(?:as\s+)?(?:done|complete))?|check\s+off|delete|remove|rename|edit"
    r"|update|change|reopen|add|create|new)(?:\s+(?:a|the|my|one|another))?(?:\s+new)?(?:\s+(?:task|item|todo|one"
    r"|reminder))?"
)
_BARE_ACTION: dict[str, Action] = {
    "delete": "delete", "remove": "delete", "rename": "update", "edit": "update", "update": "update",
    "change": "update", "reopen": "reopen", "add": "add", "create": "add", "new": "add",
}  # fmt: skip


def parse_bare_verb(clause: str) -> list[Intent] | None:
    """ "Complete", "delete a task" or "add" with no task named: the reply asks which one, or what."""
    match = _BARE_VERB.fullmatch(clause)
    if match is None:
        return None
    action = _BARE_ACTION.get(match["verb"].split()[0].lower(), "complete")
    return [Intent(action, text=clause)]


def parse_chat(clause: str) -> list[Intent] | None:
    words = " ".join(re.sub(r"[,!.;:]+", " ", clause).split())
    for action, pattern in _CHAT:
        if pattern.fullmatch(words):
            return [Intent(action, text=clause)]
    return None
