"""ChatKit's `Store`, kept by the task server: a thread is a conversation, an item is a message.

Every method is one MCP call as the caller, and the task server checks ownership on each (ChatKit does
not load the thread before `items.list` or `threads.delete`). What ChatKit would write twice is not sent:
the turn stores its reply itself (with its tool calls, under an idempotency key), and a thread that did
not change since it was read is not saved again. A user message's save returns the window the turn
reads, so a ChatKit turn costs three round trips besides its tools: load the thread, save the user
message (and read the window), save the reply.
"""

from __future__ import annotations

from typing import Any

from chatkit.store import Store, StoreItemType
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata, UserMessageItem

from ..errors import InvalidRequest, NotFound
from .context import ChatKitContext
from .items import item_json, new_id, thread_item, thread_metadata


class AttachmentsUnsupported(InvalidRequest):
    default_message = "Attachments are not supported."


class TaskServerStore(Store[ChatKitContext]):
    def __init__(self, window_size: int) -> None:
        self.window_size = window_size

    def generate_thread_id(self, context: ChatKitContext) -> str:
        return new_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: ChatKitContext
    ) -> str:
        return new_id(item_type)

    async def load_thread(self, thread_id: str, context: ChatKitContext) -> ThreadMetadata:
        window = await context.threads.get_thread(thread_id)
        thread = thread_metadata(window.thread)
        context.known[thread_id] = thread.model_copy(deep=True)
        return thread

    async def save_thread(self, thread: ThreadMetadata, context: ChatKitContext) -> None:
        # ChatKit may pass a whole `Thread`: only the metadata is stored (items are stored one by one).
        fields = _metadata_fields(thread)
        known = context.known.get(thread.id)
        if known is not None and _metadata_fields(known) == fields:
            return
        saved = await context.threads.save_thread(
            thread.id, title=thread.title, status=fields["status"], metadata=fields["metadata"]
        )
        context.known[thread.id] = thread_metadata(saved)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: ChatKitContext
    ) -> Page[ThreadMetadata]:
        page = await context.threads.list_threads(limit, after, order)
        return Page(data=[thread_metadata(t) for t in page.threads], has_more=page.has_more, after=page.after)

    async def delete_thread(self, thread_id: str, context: ChatKitContext) -> None:
        await context.threads.delete_thread(thread_id)
        context.known.pop(thread_id, None)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: ChatKitContext
    ) -> Page[ThreadItem]:
        page = await context.threads.list_items(thread_id, after=after, limit=limit, order=order)
        items = [item for item in map(thread_item, page.items) if item is not None]
        return Page(data=items, has_more=page.has_more, after=page.after)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: ChatKitContext) -> None:
        if item.id in context.recorded:
            return
        if isinstance(item, UserMessageItem):
            saved = await context.threads.save_item(
                thread_id, item_json(item), history_limit=self.window_size
            )
            context.saved_messages[item.id] = saved
            return
        await context.threads.save_item(thread_id, item_json(item))

    async def save_item(self, thread_id: str, item: ThreadItem, context: ChatKitContext) -> None:
        await context.threads.save_item(thread_id, item_json(item))

    async def load_item(self, thread_id: str, item_id: str, context: ChatKitContext) -> ThreadItem:
        page = await context.threads.list_items(thread_id, item_id=item_id, limit=1)
        item = thread_item(page.items[0]) if page.items else None
        if item is None:
            raise NotFound(f"Item {item_id} was not found in thread {thread_id}.")
        return item

    async def delete_thread_item(self, thread_id: str, item_id: str, context: ChatKitContext) -> None:
        if item_id in context.unstored:
            return
        await context.threads.delete_item(thread_id, item_id)

    async def save_attachment(self, attachment: Attachment, context: ChatKitContext) -> None:
        raise AttachmentsUnsupported()

    async def load_attachment(self, attachment_id: str, context: ChatKitContext) -> Attachment:
        raise AttachmentsUnsupported()

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        raise AttachmentsUnsupported()


def _metadata_fields(thread: ThreadMetadata) -> dict[str, Any]:
    return {
        "title": thread.title,
        "status": thread.status.model_dump(mode="json"),
        "metadata": dict(thread.metadata),
    }
