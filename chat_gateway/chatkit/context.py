"""What one /chatkit request carries through ChatKit's server into the store and `respond`."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatkit.types import ThreadMetadata

from shared.auth import Principal
from shared.schemas import ItemSaved

from .threads import ThreadsClient


@dataclass
class ChatKitContext:
    principal: Principal
    threads: ThreadsClient
    request_id: str | None = None
    timezone: str | None = None
    # The tool list's estimated tokens, from the admission check (0 for the builtin model).
    tool_tokens: int = 0
    # A user message's save, with the window the turn reads: `respond` needs no second read.
    saved_messages: dict[str, ItemSaved] = field(default_factory=dict)
    # Items the turn stored itself (its reply, with the tool calls): ChatKit's own save is skipped.
    recorded: set[str] = field(default_factory=set)
    # Items shown while streaming but never stored (a failed turn's partial reply).
    unstored: set[str] = field(default_factory=set)
    # Each thread as last read from or written to the task server: an unchanged save is skipped.
    known: dict[str, ThreadMetadata] = field(default_factory=dict)
