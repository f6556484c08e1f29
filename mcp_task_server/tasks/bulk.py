"""Bulk complete and bulk delete: a preview and a token first, the change only with the token.

The token stands for the exact set the user was shown (task id -> version), for one user and one action,
for ten minutes. Confirming locks those tasks and acts on all of them in one transaction, or on none
when any changed since the preview (`conflict`). The changes share a batch id, so one undo brings the
whole set back.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence

from shared.schemas import BulkAction, BulkResult, BulkTask, TaskOut, TaskStatusFilter

from ..context import Origin
from ..errors import ConfirmationRequired, Conflict, InvalidArgument, NotFound
from ..models import Task
from .repository import ConfirmationRepository, TaskRepository

BULK_LIMIT = 500
CONFIRMATION_TTL_SECONDS = 600.0
_DONE_STATUS = {"complete": "completed", "delete": "deleted"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BulkService:
    def __init__(
        self, tasks: TaskRepository, confirmations: ConfirmationRepository, user_id: str, origin: Origin
    ) -> None:
        self.tasks = tasks
        self.confirmations = confirmations
        self.user_id = user_id
        self.origin = origin

    async def run(
        self,
        action: BulkAction,
        task_ids: Sequence[int] | None,
        status: TaskStatusFilter | None,
        confirmation_token: str | None,
    ) -> BulkResult:
        if confirmation_token is not None:
            return await self.confirm(action, confirmation_token, task_ids)
        if (task_ids is None) == (status is None):
            raise InvalidArgument(
                'Give either task_ids or status (a filter such as "all" or "completed"), not both.'
            )
        return await self.preview(action, task_ids, status)

    async def preview(
        self, action: BulkAction, task_ids: Sequence[int] | None, status: TaskStatusFilter | None
    ) -> BulkResult:
        selected = await self._select(action, task_ids, status)
        if not selected:
            return BulkResult(status="nothing_to_do", action=action, count=0, tasks=[])
        token = secrets.token_urlsafe(24)
        versions = {task.id: task.version for task in selected}
        expires_at = await self.confirmations.create(
            token_hash(token), self.user_id, action, versions, CONFIRMATION_TTL_SECONDS
        )
        return BulkResult(
            status="confirmation_required",
            action=action,
            count=len(selected),
            tasks=[BulkTask(id=t.id, title=t.title, version=t.version) for t in selected],
            confirmation_token=token,
            expires_at=expires_at,
        )

    async def _select(
        self, action: BulkAction, task_ids: Sequence[int] | None, status: TaskStatusFilter | None
    ) -> list[Task]:
        if task_ids is not None:
            wanted = list(dict.fromkeys(task_ids))
            found = await self.tasks.page(self.user_id, "all", None, len(wanted), ids=wanted)
            missing = sorted(set(wanted) - {task.id for task in found})
            if missing:
                names = ", ".join(str(task_id) for task_id in missing)
                raise NotFound(
                    f"Not on the list: task{'s' if len(missing) > 1 else ''} {names}. Nothing was changed; "
                    "call list_tasks to see the user's tasks and their ids."
                )
            selected = found
        else:
            assert status is not None
            if action == "complete" and status == "completed":
                return []
            scope = "pending" if action == "complete" else status
            selected = await self.tasks.page(self.user_id, scope, None, BULK_LIMIT + 1)
        if action == "complete":
            # Completing a completed task changes nothing, so it is not part of the set.
            selected = [task for task in selected if not task.completed]
        if len(selected) > BULK_LIMIT:
            raise InvalidArgument(
                f"That is more than {BULK_LIMIT} tasks; one bulk call acts on at most {BULK_LIMIT}. "
                "Narrow it down with task_ids, or repeat after this batch is done."
            )
        return selected

    async def confirm(
        self, action: BulkAction, confirmation_token: str, task_ids: Sequence[int] | None
    ) -> BulkResult:
        preview = await self.confirmations.take(token_hash(confirmation_token), self.user_id)
        if preview is None:
            raise ConfirmationRequired()
        if preview.action != action:
            other = "complete_tasks" if preview.action == "complete" else "delete_tasks"
            raise ConfirmationRequired(f"This confirmation token is for {other}. Nothing was changed.")
        versions = {int(task_id): int(version) for task_id, version in preview.tasks.items()}
        if task_ids is not None and set(task_ids) != set(versions):
            raise InvalidArgument(
                "task_ids differ from the tasks this confirmation token stands for; "
                "pass only confirmation_token."
            )
        ids = sorted(versions)
        current = await self.tasks.lock(self.user_id, ids)
        changed = [task_id for task_id in ids if _moved(current.get(task_id), versions[task_id], action)]
        if changed:
            raise _set_changed(changed, current, len(ids))
        values = {"completed": True} if action == "complete" else {"trashed": True}
        batch = uuid.uuid4()
        done = await self.tasks.change(self.user_id, ids, values, action, self.origin, batch_id=batch)
        if len(done) != len(ids):
            # Cannot happen while the rows are locked; refuse rather than act on part of the set.
            raise Conflict("The tasks changed while confirming. Nothing was changed; preview again.")
        return BulkResult(
            status=_DONE_STATUS[action],
            action=action,
            count=len(done),
            tasks=[BulkTask(id=c.row.id, title=c.row.title, version=c.row.version) for c in done],
            batch=str(batch),
        )


def _moved(task: Task | None, version: int, action: BulkAction) -> bool:
    if task is None or task.trashed_at is not None or task.version != version:
        return True
    return action == "complete" and task.completed


def _set_changed(changed: list[int], current: dict[int, Task], total: int) -> Conflict:
    gone = [task_id for task_id in changed if task_id not in current]
    described = [
        f"'{current[task_id].title}' (task {task_id})" for task_id in changed if task_id in current
    ] + [f"task {task_id} (gone)" for task_id in gone]
    message = (
        f"{len(changed)} of the {total} tasks changed since the preview: {', '.join(described[:10])}"
        f"{' and more' if len(described) > 10 else ''}. Nothing was changed; call again without "
        "confirmation_token for a new preview and ask the user again."
    )
    tasks = [TaskOut.model_validate(current[t]).model_dump(mode="json") for t in changed if t in current]
    return Conflict(message, details={"tasks": tasks})
