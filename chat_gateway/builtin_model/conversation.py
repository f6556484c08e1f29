"""Reading the model's input: the new message, this turn's tool results, and what earlier turns did.

The model keeps no state between calls. Everything it knows comes from here: the latest user message,
the outputs of the calls it already made for that message (the SDK appends them to the input), and the
conversation window the gateway replays before it (earlier messages with their tool calls).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any

from .confirmation import answers_a_preview, confirms, says_yes
from .intents import CHAT, TARGETED, Intent, Preview, Ref
from .parser import Features, new_tasks, parse_message
from .references import TaskInfo, parse_ref
from .text import normalize, strip_filler
from .toolbox import ACTIVITY, BULK_TOOLS, LIST

# A reply with one of these asked the user to pick a task, or to name a new one; the next message may
# just answer it ("the second one", "buy milk").
QUESTIONS = ("Which one do you mean?", "Which task do you mean?")
ASK_TITLE = "What should I add?"
_OFFERED_ID = re.compile(r"#(\d+)")
_MANY_STATUSES = frozenset({"confirmation_required", "completed", "deleted", "undone"})
_READS = frozenset({LIST, ACTIVITY})
_MENTIONED_ID = re.compile(r"(?:#|\btask\s+)(\d+)", re.I)


@dataclass(frozen=True)
class ToolResult:
    """A tool's output as the model sees it: parsed JSON on success, the error text on failure."""

    ok: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""

    @classmethod
    def read(cls, output: Any) -> ToolResult:
        return _read_output(_text_of(output))

    @classmethod
    def parse(cls, text: str) -> ToolResult:
        try:
            data = json.loads(text)
        except ValueError:
            return cls(ok=False, error=text.strip() or "The tool returned nothing.")
        if isinstance(data, dict) and set(data) == {"error"}:
            error = data["error"]
            message = error.get("message") if isinstance(error, dict) else error
            return cls(ok=False, error=str(message))
        if not isinstance(data, dict):
            return cls(ok=False, error=text.strip())
        return cls(ok=True, data=data)

    def task(self) -> TaskInfo | None:
        """The task a successful add/complete/update/delete result names."""
        if not self.ok:
            return None
        nested = self.data.get("task")
        info = TaskInfo.from_json(nested) if isinstance(nested, Mapping) else None
        return info or TaskInfo.from_json(self.data)

    def changed_many(self) -> bool:
        """True for a result that names several tasks it changed, or would change (bulk, undo)."""
        return (
            self.ok and self.data.get("status") in _MANY_STATUSES and isinstance(self.data.get("tasks"), list)
        )

    def tasks(self) -> list[TaskInfo]:
        listed = self.data.get("tasks") if self.ok else None
        if not isinstance(listed, list):
            return []
        return [info for item in listed if isinstance(item, Mapping) and (info := TaskInfo.from_json(item))]


@lru_cache(maxsize=2048)
def _read_output(text: str) -> ToolResult:
    """Memoised: each model call of a turn, and every later turn, reads the same outputs again."""
    return ToolResult.parse(text)


@dataclass(frozen=True)
class Question:
    """A clarifying question the assistant asked: which request it was about, which tasks it offered."""

    request: str
    offered: tuple[int, ...]
    wants_title: bool = False


@dataclass(frozen=True)
class History:
    """What earlier turns established: the tasks last acted on, the last list shown, an open question."""

    touched: tuple[TaskInfo, ...] = ()
    question: Question | None = None
    shown: tuple[int, ...] = ()
    # The bulk changes the last reply previewed, waiting for a yes; `changed` if that turn changed tasks.
    previews: tuple[Preview, ...] = ()
    changed: bool = False

    def positions(self) -> tuple[int, ...]:
        """The ids "the first one" / "the second one" count through, most specific first."""
        if self.question is not None and self.question.offered:
            return self.question.offered
        return self.shown or tuple(task.id for task in self.touched)


class Turn:
    """The message being answered, this turn's results so far, and (read on demand) the history."""

    def __init__(
        self, message: str, key: str, results: Mapping[str, ToolResult], earlier: Sequence[Mapping[str, Any]]
    ) -> None:
        self.message = message
        self.key = key
        self.results = results
        self._earlier = earlier

    @cached_property
    def history(self) -> History:
        # Most requests ("add milk", "delete task 3") never look back, so the window is read lazily.
        return _read_history(self._earlier)


def read_turn(model_input: str | Sequence[Any]) -> Turn:
    if isinstance(model_input, str):
        return Turn(model_input, _call_key(model_input, 1, ()), {}, ())
    items = [item if type(item) is dict else _as_dict(item) for item in model_input]
    users = [index for index, item in enumerate(items) if item.get("role") == "user"]
    last_user = users[-1] if users else -1
    message = _text_of(items[last_user].get("content")) if users else ""
    earlier = items[: max(last_user, 0)]
    results = {
        str(item.get("call_id")): ToolResult.read(item.get("output"))
        for item in items[last_user + 1 :]
        if item.get("type") == "function_call_output"
    }
    used_ids = [str(item["call_id"]) for item in earlier if "call_id" in item]
    return Turn(message, _call_key(message, len(users), used_ids), results, earlier)


def _call_key(message: str, user_count: int, used_ids: Sequence[str]) -> str:
    """A call-id prefix for this message, unique among the ids already in the conversation."""
    key = f"call_bm{user_count}_{zlib.crc32(message.encode()) & 0xFFFFFF:06x}"
    while any(call_id.startswith(key + "_") for call_id in used_ids):
        key += "x"
    return key


def _read_history(items: Sequence[Mapping[str, Any]]) -> History:
    turns: list[list[Mapping[str, Any]]] = []
    for item in items:
        if item.get("role") == "user" or not turns:
            turns.append([])
        turns[-1].append(item)
    touched: tuple[TaskInfo, ...] = ()
    for turn in reversed(turns):
        found = _touched_in(turn)
        if found is not None:
            touched = found
            break
    previews, changed = _previews(turns[-1]) if turns else ((), False)
    return History(
        touched=touched,
        question=_question(turns),
        shown=_shown(turns[-1]) if turns else (),
        previews=previews,
        changed=changed,
    )


def _previews(turn: Sequence[Mapping[str, Any]]) -> tuple[tuple[Preview, ...], bool]:
    """The previous turn's bulk previews that hold a token, and whether that turn changed tasks.

    Only the immediately preceding turn counts: a token the user was not just shown is never used.
    """
    outputs = {
        item.get("call_id"): item.get("output") for item in turn if item.get("type") == "function_call_output"
    }
    previews: list[Preview] = []
    changed = False
    for item in turn:
        if item.get("type") != "function_call":
            continue
        name = str(item.get("name"))
        result = ToolResult.read(outputs.get(item.get("call_id"), ""))
        token = result.data.get("confirmation_token")
        if name in BULK_TOOLS.values() and result.data.get("status") == "confirmation_required":
            action = str(result.data.get("action", ""))
            if isinstance(token, str) and token and action in BULK_TOOLS:
                previews.append(Preview(name, token, json.dumps(_arguments(item), sort_keys=True), action))
        elif result.ok and name not in _READS:
            changed = True
    return tuple(previews), changed


def _touched_in(turn: Sequence[Mapping[str, Any]]) -> tuple[TaskInfo, ...] | None:
    """Tasks a past turn acted on; None when it called no tool, so an earlier turn is looked at."""
    outputs = {
        item.get("call_id"): item.get("output") for item in turn if item.get("type") == "function_call_output"
    }
    called = False
    acted: list[TaskInfo] = []
    attempted: list[TaskInfo] = []
    listed: list[TaskInfo] = []
    for item in turn:
        if item.get("type") != "function_call":
            continue
        called = True
        result = ToolResult.read(outputs.get(item.get("call_id"), ""))
        task = result.task()
        if task is not None and "task_id" in result.data:
            acted = [t for t in acted if t.id != task.id] + [task]
        elif result.changed_many():
            acted = [t for t in acted if t not in result.tasks()] + result.tasks()
        elif not result.ok:
            task_id = _arguments(item).get("task_id")
            attempted += [TaskInfo(task_id, "")] if isinstance(task_id, int) else []
        listed = result.tasks() if "tasks" in result.data else listed
    if not called:
        return None
    if acted or attempted:
        # A failed attempt still makes its task the subject: "delete it" then reports the same error.
        return tuple(acted or attempted)
    # Listing made a task the subject when only one task was listed or the reply spoke of only one.
    mentioned = {int(n) for reply in turn if reply.get("role") == "assistant"
                 for n in _MENTIONED_ID.findall(_text_of(reply.get("content")))}  # fmt: skip
    spoken = [t for t in listed if t.id in mentioned]
    return tuple(listed) if len(listed) == 1 else tuple(spoken) if len(spoken) == 1 else ()


def _arguments(call: Mapping[str, Any]) -> dict[str, Any]:
    try:
        arguments = json.loads(str(call.get("arguments") or "{}"))
    except ValueError:
        return {}
    return arguments if isinstance(arguments, dict) else {}


def _shown(turn: Sequence[Mapping[str, Any]]) -> tuple[int, ...]:
    """Ids of listed tasks in the order the last reply showed them, for "delete the second one"."""
    listed: set[int] = set()
    for item in turn:
        if item.get("type") == "function_call_output":
            listed.update(task.id for task in ToolResult.read(item.get("output")).tasks())
    replies = [_text_of(item.get("content")) for item in turn if item.get("role") == "assistant"]
    if not listed or not replies:
        return ()
    return tuple(dict.fromkeys(n for n in map(int, _OFFERED_ID.findall(replies[-1])) if n in listed))


def _question(turns: Sequence[Sequence[Mapping[str, Any]]]) -> Question | None:
    if not turns:
        return None
    last = turns[-1]
    replies = [_text_of(item.get("content")) for item in last if item.get("role") == "assistant"]
    request = next((_text_of(item.get("content")) for item in last if item.get("role") == "user"), "")
    if not replies or not request:
        return None
    if ASK_TITLE in replies[-1]:
        return Question(request, (), wants_title=True)
    if not any(q in replies[-1] for q in QUESTIONS):
        return None
    return Question(request, tuple(int(n) for n in _OFFERED_ID.findall(replies[-1])))


def understand(turn: Turn, features: Features) -> list[Intent]:
    """Parse the message; a bare answer to a clarifying question completes the earlier request.

    A plain yes to the bulk changes the last reply previewed confirms them; "undo" right after a
    preview that changed nothing means "don't"; a yes with nothing waiting says so, and so does "ok,
    delete them" (a yes to a question that was not asked never acts).
    """
    if any(confirms(turn.message, action) for action in BULK_TOOLS):
        previews = turn.history.previews
        matching = [p for p in previews if confirms(turn.message, p.action)]
        if matching:
            return [Intent("confirm", preview=preview, text=turn.message) for preview in matching]
        if not previews and answers_a_preview(turn.message):
            return [Intent("confirm", text=turn.message)]
    intents = parse_message(turn.message, features)
    plain_undo = all(i.action == "undo" and i.ref is None and not i.deleted for i in intents)
    if plain_undo and turn.history.previews and not turn.history.changed:
        return [Intent("dismiss", text=turn.message)]
    if says_yes(turn.message) and all(i.action in CHAT for i in intents):
        return [Intent("confirm", text=turn.message)]
    if any(intent.ref is not None and intent.ref.ordinal is not None for intent in intents):
        intents = [_by_position(intent, turn.history) for intent in intents]
    if any(intent.action != "unknown" for intent in intents):
        return intents
    question = turn.history.question
    if question is None:
        return intents
    if question.wants_title:
        return new_tasks(strip_filler(normalize(turn.message)), features) or intents
    answer = parse_ref(strip_filler(normalize(turn.message)))
    if answer is None:
        return intents
    if answer.ordinal is not None and question.offered:
        index = answer.ordinal - 1 if answer.ordinal > 0 else len(question.offered) - 1
        if index >= len(question.offered):
            return intents
        answer = Ref(ids=(question.offered[index],))
    elif answer.pronoun == "them" and question.offered:
        answer = Ref(ids=question.offered)
    elif answer.pronoun is not None or answer.ordinal is not None:
        return intents
    for earlier in parse_message(question.request, features):
        if earlier.action in TARGETED and (earlier.ref is None or not earlier.ref.ids):
            return [replace(earlier, ref=answer)]
    return intents


def _by_position(intent: Intent, history: History) -> Intent:
    """ "The second one" counts through what the conversation just showed, when it showed something."""
    ref = intent.ref
    positions = history.positions()
    if ref is None or ref.ordinal is None or not positions:
        return intent
    index = ref.ordinal - 1 if ref.ordinal > 0 else len(positions) - 1
    return replace(intent, ref=Ref(ids=(positions[index],))) if index < len(positions) else intent


def _as_dict(item: Any) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    dump = getattr(item, "model_dump", None)
    return dump(exclude_unset=True) if callable(dump) else {}


def _text_of(content: Any) -> str:
    if type(content) is str:
        return content
    if isinstance(content, Mapping):
        return str(content.get("text", ""))
    if isinstance(content, Sequence):
        return "".join(_text_of(part) for part in content)
    return "" if content is None else str(content)
