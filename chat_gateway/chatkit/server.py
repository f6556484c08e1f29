"""The ChatKit server: a user message answered by the same agent, model and task tools as /chat.

`respond` runs `ChatService.execute` over the window the store read when it saved the user message, and
streams the turn as ChatKit events: the assistant message's text as it comes, a progress line per tool
call, the finished message. The reply is stored by the turn itself, with its tool calls, under an
idempotency key, exactly once. A turn that fails is stored as /chat stores one (a note saying what was
done); the client gets an error event, and the partly streamed message is removed: nothing half-written
stays in the thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    FeedbackKind,
    ProgressUpdateEvent,
    StreamOptions,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)

from ..errors import GatewayError
from ..metrics import CHATKIT_FEEDBACK
from ..tool_records import fit_for_record, fit_reply
from ..turns import ChatService, TurnOutcome
from .context import ChatKitContext
from .items import assistant_item, item_json
from .store import TaskServerStore

_PROGRESS = {
    "add_task": "Adding a task",
    "list_tasks": "Reading your list",
    "complete_task": "Completing a task",
    "update_task": "Updating a task",
    "delete_task": "Moving a task to the trash",
    "restore_task": "Restoring a task",
    "undo": "Undoing",
    "list_activity": "Reading the history",
}


class TodoChatKitServer(ChatKitServer[ChatKitContext]):
    def __init__(self, chat: ChatService) -> None:
        super().__init__(TaskServerStore(chat.window_size))
        self.chat = chat

    def get_stream_options(self, thread: ThreadMetadata, context: ChatKitContext) -> StreamOptions:
        return StreamOptions(allow_cancel=True)

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: ChatKitContext
    ) -> None:
        # ChatKit's default stores the half-streamed reply. The turn records itself instead: a note that
        # it stopped, with the tool calls that ran (ChatService._execute, in the background).
        return None

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: ChatKitContext
    ) -> None:
        """Counted (`gateway_chatkit_feedback_total`), once the thread is known to be the caller's; the
        items are ChatKit's to name, and their text stays in the thread."""
        await self.store.load_thread(thread_id, context)
        CHATKIT_FEEDBACK.labels(feedback).inc(len(item_ids))

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: ChatKitContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Any failure ends the stream with a ChatKit error event carrying the gateway's message (ChatKit
        would otherwise log a traceback and send a generic error)."""
        try:
            async for event in self._respond(thread, input_user_message, context):
                yield event
        except GatewayError as error:
            raise CustomStreamError(error.message, allow_retry=error.status_code >= 500) from error

    async def _respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: ChatKitContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is None:
            raise CustomStreamError("There is no message to answer.")
        saved = context.saved_messages.pop(input_user_message.id, None)
        if saved is not None:
            conversation_id, window, title = saved.conversation_id, saved.messages, saved.title
        else:
            # threads.retry_after_item: the message is stored and what followed it was just deleted.
            read = await context.threads.get_thread(thread.id, self.chat.window_size)
            conversation_id, window, title = read.thread.conversation_id, read.messages, read.thread.title
        if not window or window[-1].role != "user":
            raise CustomStreamError("The message to answer is not the thread's last one.")
        if title != thread.title:
            # Stored already (the task server titles a thread from its first message): ChatKit then shows
            # the new title, and the store sees nothing left to save.
            thread.title = title
            context.known[thread.id] = thread.model_copy(deep=True)
        started = self.chat.from_window(
            conversation_id, window[-1].id, window, context.timezone, context.tool_tokens
        )
        reply = assistant_item(self.store.generate_item_id("message", thread, context), thread.id, _now(), "")

        async def record(outcome: TurnOutcome) -> None:
            stored = reply.model_copy(
                update={"content": [AssistantMessageContent(text=fit_reply(outcome.response))]}
            )
            await context.threads.save_item(
                thread.id,
                item_json(stored),
                tool_calls=fit_for_record(outcome.tool_calls),
                idempotency_key=f"chatkit-reply:{reply.id}",
            )
            context.recorded.add(reply.id)

        shown = False
        try:
            async for event in self.chat.execute(context.principal, started, context.request_id, record):
                if event.event in ("delta", "done") and not shown:
                    shown = True
                    yield ThreadItemAddedEvent(item=reply)
                    yield ThreadItemUpdatedEvent(
                        item_id=reply.id,
                        update=AssistantMessageContentPartAdded(
                            content_index=0, content=AssistantMessageContent(text="")
                        ),
                    )
                if event.event == "delta":
                    yield ThreadItemUpdatedEvent(
                        item_id=reply.id,
                        update=AssistantMessageContentPartTextDelta(
                            content_index=0, delta=str(event.data["text"])
                        ),
                    )
                elif event.event == "tool_call":
                    name = str(event.data.get("name", ""))
                    yield ProgressUpdateEvent(icon="check", text=_PROGRESS.get(name, name) + "…")
                elif event.event == "done" and event.outcome is not None:
                    text = AssistantMessageContent(text=fit_reply(event.outcome.response))
                    yield ThreadItemUpdatedEvent(
                        item_id=reply.id,
                        update=AssistantMessageContentPartDone(content_index=0, content=text),
                    )
                    yield ThreadItemDoneEvent(item=reply.model_copy(update={"content": [text]}))
        except GatewayError:
            if shown:
                context.unstored.add(reply.id)
                yield ThreadItemRemovedEvent(item_id=reply.id)
            raise


def _now() -> datetime:
    return datetime.now(UTC)
