"""What the parser understood: intents, and the references they make to tasks.

These are plain frozen values so the planner can re-derive the same plan from the same input on every
model call; nothing is remembered between calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal[
    "add",
    "list",
    "complete",
    "reopen",
    "delete",
    "update",
    "restore",
    "undo",
    "confirm",
    "greet",
    "thank",
    "help",
    "bye",
    "dismiss",
    "unknown",
]
Status = Literal["all", "pending", "completed"]
Pronoun = Literal["it", "them"]

# Actions that call a tool on existing tasks and therefore need to know which tasks.
TARGETED: frozenset[Action] = frozenset({"complete", "reopen", "delete", "update", "restore"})
CHAT: frozenset[Action] = frozenset({"greet", "thank", "help", "bye", "dismiss", "unknown"})


@dataclass(frozen=True)
class Ref:
    """How the user pointed at tasks: by id, by title words, by pronoun, by status, or by position.

    `parts` holds the pieces of "the milk one and the eggs one", tried when the whole phrase matches
    no single task.
    """

    ids: tuple[int, ...] = ()
    words: str | None = None
    parts: tuple[str, ...] = ()
    pronoun: Pronoun | None = None
    scope: Status | None = None
    ordinal: int | None = None

    @property
    def needs_lookup(self) -> bool:
        """True when the task list must be read before acting (anything but ids and pronouns)."""
        return self.words is not None or self.scope is not None or self.ordinal is not None

    def describe(self) -> str:
        if self.words is not None:
            return self.words
        if self.ids:
            return ", ".join(f"task {i}" for i in self.ids)
        if self.scope is not None:
            return "all tasks" if self.scope == "all" else f"all {self.scope} tasks"
        return "that task"


@dataclass(frozen=True)
class Preview:
    """A bulk change the assistant previewed in its last reply, waiting for the user's yes.

    `arguments` are the preview call's own (JSON text, to stay hashable): if the set changed before the
    user confirmed, the same call previews it again.
    """

    tool: str
    token: str
    arguments: str
    action: str


@dataclass(frozen=True)
class Intent:
    """One thing the user asked for. Extras hold optional fields such as a due date or priority."""

    action: Action
    ref: Ref | None = None
    title: str | None = None
    description: str | None = None
    status: Status = "all"
    query: str | None = None
    count: bool = False
    text: str = ""
    extras: tuple[tuple[str, object], ...] = field(default=())
    # A list's filters by date or tag, as list_tasks names them: (("due", "today"),).
    filters: tuple[tuple[str, str], ...] = field(default=())
    # "confirm": the preview the user said yes to (None when nothing was waiting for a yes).
    preview: Preview | None = None
    # "undo" of "restore what I deleted": the latest deletion still in effect, not the latest change.
    deleted: bool = False

    @property
    def mutates(self) -> bool:
        return self.action in TARGETED or self.action == "add"
