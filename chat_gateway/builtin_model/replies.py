"""The assistant's words: one short reply that says exactly what the tools did.

A sentence claims success only for a call whose result says so; a failed call is reported with the
tool's own reason. Every confirmation names the task by title and id, so the user can check it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import reports
from .conversation import ASK_TITLE, QUESTIONS
from .extras import SpokenDate
from .intents import CHAT, Action, Intent
from .references import TaskInfo
from .reports import join_names as _join
from .reports import named as _named
from .steps import Outcome, Step
from .titles import ERRAND
from .toolbox import ADD, COMPLETE, DELETE, LIST, UNDO, UPDATE, Toolbox

_STATUS_WORD = {"all": "", "pending": "pending ", "completed": "completed "}
_MAX_LISTED = 50


def compose(outcomes: Sequence[Outcome], tools: Toolbox) -> str:
    working = [o for o in outcomes if o.intent.action not in CHAT]
    chat = [o.intent for o in outcomes if o.intent.action in CHAT]
    parts: list[str] = []
    if any(i.action == "greet" for i in chat):
        parts.append(
            "Hi!" if working else "Hi! I can help you keep track of your tasks. What would you like to do?"
        )
    for group in _runs(working):
        parts.extend(_describe(group))
    for intent in chat:
        if intent.action == "help":
            parts.append(help_text(tools))
        elif intent.action == "unknown":
            parts.append(_not_understood(intent, alone=not working and len(chat) == 1))
        elif not working and intent.action == "thank" and not any(i.action == "greet" for i in chat):
            parts.append("You're welcome! Anything else for your list?")
        elif intent.action == "bye":
            parts.append("Bye! Your tasks will be here when you come back.")
        elif not working and intent.action == "dismiss":
            parts.append("OK, I left your tasks as they are.")
    _once(parts, reports.ASK_AGAIN, ' Reply "yes" to go ahead with all of it, or "no".')
    _once(
        parts, reports.UNDO_HINT, ' Say "undo" to take back the last of these, and again for the one before.'
    )
    return _join_parts([p for p in parts if p]) or "OK."


def _once(parts: list[str], sentence: re.Pattern[str], together: str) -> None:
    """Several bulk parts of one reply: their shared closing sentence (the question, the undo hint) once."""
    found = [i for i, part in enumerate(parts) if sentence.search(part)]
    for index in found[:-1]:
        parts[index] = sentence.sub("", parts[index])
    if len(found) > 1:
        parts[found[-1]] = sentence.sub(together, parts[found[-1]])


def _join_parts(parts: list[str]) -> str:
    """Sentences run on in one paragraph; a list (anything multi-line) gets lines of its own."""
    text = ""
    previous_multiline = False
    for part in parts:
        multiline = "\n" in part
        separator = "" if not text else "\n" if multiline or previous_multiline else " "
        text = f"{text}{separator}{part}"
        previous_multiline = multiline
    return text


def _runs(outcomes: list[Outcome]) -> list[list[Outcome]]:
    """Consecutive simple adds go together: "Added 'Eggs' (task 3) and 'Bread' (task 4)." reads better."""
    runs: list[list[Outcome]] = []
    for outcome in outcomes:
        if runs and _simple_add(outcome) and _simple_add(runs[-1][-1]):
            runs[-1].append(outcome)
        else:
            runs.append([outcome])
    return runs


def _simple_add(outcome: Outcome) -> bool:
    return (
        outcome.intent.action == "add"
        and len(outcome.steps) == 1
        and outcome.steps[0].result.ok
        and not outcome.intent.description
        and not outcome.intent.extras
    )


def _describe(group: list[Outcome]) -> list[str]:
    if len(group) > 1:
        return [f"Added {_join([_named(_result_task(o.steps[0])) for o in group])}."]
    outcome = group[0]
    action = outcome.intent.action
    if outcome.problem:
        return [_problem(outcome)]
    if outcome.candidates:
        return [_ambiguous(outcome)]
    if action == "list":
        return [_listing(outcome)]
    special = reports.sentences(outcome)
    if special is not None:
        return special
    lines = [_step_sentence(action, outcome.intent, step) for step in outcome.steps]
    where = " in the trash" if action == "restore" else ""
    lines += [f"I couldn't find a task matching '{words}'{where}." for words in outcome.missing]
    return _merge_successes(action, outcome, lines)


def _merge_successes(action: Action, outcome: Outcome, lines: list[str]) -> list[str]:
    """ "Marked 'A' (task 1) and 'B' (task 2) as done." rather than two sentences that say the same."""
    plain = [
        step for step in outcome.steps if step.result.ok and not _already(action, step) and action != "update"
    ]
    if len(plain) < 2 or action == "add":
        return lines
    names = _join([_named(_result_task(step)) for step in plain])
    merged = {
        "complete": f"Marked {names} as done.",
        "reopen": f"Reopened {names}.",
        "delete": f"Deleted {names}.",
    }
    others = [line for step, line in zip(outcome.steps, lines, strict=False) if step not in plain]
    return [merged[action], *others, *lines[len(outcome.steps) :]]


def _step_sentence(action: Action, intent: Intent, step: Step) -> str:
    if not step.result.ok:
        return _failure(action, intent, step)
    task = _result_task(step)
    name = _named(task)
    if action == "add":
        return f"Added {name}{_details(intent, task)}."
    if action == "complete":
        if _already(action, step):
            return f"{name[0].upper()}{name[1:]} was already done."
        if task.completed is False and task.due:
            # A repeating task: this time is done, and it moved to its next date.
            return f"Done for this time: {name} repeats {task.due}."
        return f"Marked {name} as done."
    if action == "reopen":
        return f"Reopened {name}; it's pending again."
    if action == "delete":
        return f"Deleted {name}."
    return _update_sentence(intent, step, task)


def _update_sentence(intent: Intent, step: Step, task: TaskInfo) -> str:
    changes: list[str] = []
    before = step.before
    if "title" in step.call.arguments:
        if before is not None and before.title and before.title != task.title:
            changes.append(f"Renamed task {task.id} from '{before.title}' to '{task.title}'.")
        else:
            changes.append(f"Renamed task {task.id} to '{task.title}'.")
    description = step.call.arguments.get("description")
    if description == "":
        changes.append(f"Cleared the description of {_named(task)}.")
    elif description is not None:
        changes.append(f'Set the description of {_named(task)} to "{description}".')
    extras = {k: v for k, v in step.call.arguments.items() if k not in ("task_id", "title", "description")}
    if extras:
        said = ", ".join(f"{k.replace('_', ' ')} {_value(v)}" for k, v in extras.items())
        changes.append(f"Updated {_named(task)}: {said}.")
    return " ".join(changes) or f"Updated {_named(task)}."


def _failure(action: Action, intent: Intent, step: Step) -> str:
    reason = clean_error(step.result.error)
    if action == "add":
        return f"I couldn't add '{step.call.arguments.get('title', intent.title)}': {reason}"
    task_id = step.call.arguments.get("task_id")
    known = step.before
    what = _named(known) if known is not None and known.title else f"task {task_id}"
    return f"I couldn't {action} {what}: {reason}"


def _problem(outcome: Outcome) -> str:
    action = verb = outcome.intent.action
    special = reports.problem(outcome)
    if special is not None:
        return special
    if outcome.problem == "unsupported":
        what = "tasks" if action != "update" else "that"
        return f"Sorry, I can't {verb} {what} here: the task tools don't offer it."
    if outcome.problem == "lookup_failed":
        return f"I couldn't look up your tasks to {verb} one: {clean_error(outcome.error)}"
    if outcome.problem == "no_title":
        return f'{ASK_TITLE} Tell me the task, for example "buy milk".'
    if outcome.problem == "skipped":
        return f"I didn't {verb} it, because the step before it failed."
    if outcome.problem == "nothing":
        scope = outcome.intent.ref.scope if outcome.intent.ref else None
        kind = {"completed": "completed tasks", "pending": "pending tasks"}.get(scope or "", "tasks")
        return f"There are no {kind} to {verb}."
    return (
        f"I'm not sure which task you want me to {verb}. {QUESTIONS[1]} "
        "Tell me its number or a word from its title."
    )


def _ambiguous(outcome: Outcome) -> str:
    ref = outcome.intent.ref
    about = f"matching '{ref.words}'" if ref is not None and ref.words else "that could be the one you mean"
    options = ", ".join(f"#{t.id} '{t.title}'" for t in outcome.candidates)
    return f"I found {len(outcome.candidates)} tasks {about}: {options}. {QUESTIONS[0]}"


def _listing(outcome: Outcome) -> str:
    intent = outcome.intent
    if outcome.error:
        return f"I couldn't read your tasks: {clean_error(outcome.error)}"
    tasks = outcome.listed or []
    if intent.ref is not None and intent.ref.ids:
        found = {t.id: t for t in tasks}
        return " ".join(
            f"Task {i}: '{found[i].title}' ({'done' if found[i].completed else 'pending'}){_desc(found[i])}."
            if i in found
            else f"I couldn't find task {i}."
            for i in intent.ref.ids
        )
    noun = _noun(intent, len(tasks))
    if not tasks:
        if intent.status == "completed" and not intent.query and not intent.filters:
            return "You haven't completed any tasks yet."
        return f"You have no {noun}." + (
            "" if intent.query or intent.status != "all" or intent.filters else ' Try "add buy milk".'
        )
    count = f"You have {len(tasks)} {noun}"
    shown = tasks[:_MAX_LISTED]
    lines = [
        f"- #{t.id} {t.title}{_done_mark(t, intent)}{f' (due {t.due})' if t.due else ''}{_desc(t, ' - ')}"
        for t in shown
    ]
    if len(tasks) > len(shown) or outcome.more:
        lines.append("- ... and more; ask for pending or completed tasks to narrow it down.")
    return f"{count}:\n" + "\n".join(lines)


_DUE_WORDS = {
    "overdue": "overdue",
    "today": "due today",
    "tomorrow": "due tomorrow",
    "next_7_days": "due in the next 7 days",
    "no_date": "without a due date",
    "any_date": "with a due date",
}


def _noun(intent: Intent, count: int) -> str:
    """ "pending tasks", "task matching 'milk'", "tasks due today tagged 'work'": what a listing counts."""
    matching = f" matching '{intent.query}'" if intent.query else ""
    filters = dict(intent.filters)
    status = _STATUS_WORD[intent.status]
    if "completed_from" in filters:
        status, matching = "", f"{matching} completed {filters['completed_from']}"
    elif filters.get("due") == "overdue":
        status = "overdue "
    elif "due" in filters:
        matching += " " + _DUE_WORDS.get(filters["due"], "")
    if "tag" in filters:
        matching += f" tagged '{filters['tag']}'"
    if "priority" in filters:
        status = f"{status}{filters['priority']}-priority "
    return f"{status}task{'' if count == 1 else 's'}{matching}"


def _not_understood(intent: Intent, *, alone: bool) -> str:
    text = intent.text.strip()
    if not alone:
        return f'I didn\'t understand "{text}".'
    hint = ""
    if ERRAND.match(text) and len(text.split()) <= 8 and not text.endswith("?"):
        # "buy milk" on its own reads like a task; say how to add it rather than guess.
        hint = f' To add it as a task, say "add {text}".'
    return (
        "Sorry, I can't help with that. I can add, list, complete, rename and delete your tasks: try "
        f'"add buy milk" or "what\'s on my list?".{hint}'
    )


def help_text(tools: Toolbox) -> str:
    examples = [
        (ADD, '"add buy milk" or "remind me to call mom"'),
        (LIST, '"what\'s on my list?", "show pending" or "what have I finished?"'),
        (COMPLETE, '"mark task 3 done" or "I did the milk one"'),
        (UPDATE, '"rename task 2 to Call dad" or "change the description of task 2 to ..."'),
        (DELETE, '"delete the meeting task"'),
        (UNDO, '"undo", or "bring back the milk task" from the trash'),
    ]
    lines = [f"- {text}" for tool, text in examples if tools.has(tool)]
    if not lines:
        return "I can't reach your task list right now, so there is nothing I can do yet."
    return "I keep your task list. You can say things like:\n" + "\n".join(lines)


def clean_error(error: str) -> str:
    """The tool's reason in a sentence, without hints meant for a model ("Call list_tasks ...")."""
    text = error.split("Error:", 1)[-1].strip() if "Error:" in error else error.strip()
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s and not re.match(r"Call \w+", s)]
    reason = " ".join(sentences[:2]) or "the task server reported an error."
    return reason if reason.endswith((".", "!", "?")) else reason + "."


def _result_task(step: Step) -> TaskInfo:
    return step.result.task() or TaskInfo(int(step.call.arguments.get("task_id", 0)), "")


def _already(action: Action, step: Step) -> bool:
    return action == "complete" and step.before is not None and step.before.completed is True


def _details(intent: Intent, task: TaskInfo | None = None) -> str:
    bits = [f'with the description "{intent.description}"'] if intent.description else []
    for kind, value in intent.extras:
        if kind == "due":
            # As the task server read it, in the user's zone: "due tomorrow, Fri 4 Dec, 09:00".
            bits.append(f"due {task.due if task is not None and task.due else _value(value)}")
        else:
            bits.append(f"{kind} {_value(value)}")
    return f" ({'; '.join(bits)})" if bits else ""


def _done_mark(task: TaskInfo, intent: Intent) -> str:
    return " (done)" if task.completed and intent.status == "all" else ""


def _desc(task: TaskInfo, prefix: str = ": ") -> str:
    return f"{prefix}{task.description}" if task.description else ""


def _value(value: object) -> str:
    if isinstance(value, SpokenDate):
        return value.phrase
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
