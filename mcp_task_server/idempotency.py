"""Idempotency keys: a write retried with the same key returns its first result and changes nothing.

The key is claimed, with the write's result, at the end of the write's own transaction (INSERT ... ON
CONFLICT): one statement after the work, where claiming first and storing the result after it took two.
Two concurrent calls with one key cannot both act: the second's claim waits on the first's uncommitted
key, then finds it taken, and its transaction (its work with it) is rolled back before it replays the
first result. A retry whose work fails because the first try already acted (the task is in the trash
now) finds the key the same way (`earlier`). A write that fails rolls back its claim too, so a retry
after a failure really runs again. A key is held for 24 hours; the purge removes it after that, and an
expired key may be used afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import Conflict, InvalidArgument

KEY_LIFETIME_HOURS = 24
ResultT = TypeVar("ResultT", bound=BaseModel)

_CLAIM = text(
    "INSERT INTO idempotency_keys (user_id, key, tool, fingerprint, result) "
    "VALUES (:user_id, :key, :tool, :fingerprint, CAST(:result AS jsonb)) "
    "ON CONFLICT (user_id, key) DO UPDATE "
    "SET tool = EXCLUDED.tool, fingerprint = EXCLUDED.fingerprint, result = EXCLUDED.result, "
    "created_at = now() "
    f"WHERE idempotency_keys.created_at < now() - interval '{KEY_LIFETIME_HOURS} hours' "
    "RETURNING true"
)
_EARLIER = text(
    "SELECT tool, fingerprint, result FROM idempotency_keys WHERE user_id = :user_id AND key = :key "
    f"AND created_at >= now() - interval '{KEY_LIFETIME_HOURS} hours'"
)


class KeyTaken(Conflict):
    """The key was claimed by an earlier call: this call's transaction must roll back, then `earlier`
    replays that call's result (a Conflict only if that call's key has just expired)."""

    default_message = "This idempotency_key was just released. Retry in a moment."


def fingerprint(tool: str, arguments: Mapping[str, Any]) -> str:
    canonical = json.dumps({"tool": tool, "arguments": arguments}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def once(
    session: AsyncSession,
    user_id: str,
    key: str,
    tool: str,
    arguments: Mapping[str, Any],
    work: Callable[[], Awaitable[ResultT]],
) -> ResultT:
    """Run `work` and claim the key with its result, in the caller's transaction; raises KeyTaken when
    the key was used already (roll back, then call `earlier`)."""
    result = await work()
    params = {
        "user_id": user_id,
        "key": key,
        "tool": tool,
        "fingerprint": fingerprint(tool, arguments),
        "result": result.model_dump_json(),
    }
    if (await session.execute(_CLAIM, params)).scalar_one_or_none() is None:
        raise KeyTaken()
    return result


async def earlier(
    session: AsyncSession,
    user_id: str,
    key: str,
    tool: str,
    arguments: Mapping[str, Any],
    result_type: type[ResultT],
) -> ResultT | None:
    """The result of the earlier call that used this key with these arguments; None when the key is
    unused (or expired). Another call's key raises InvalidArgument."""
    params = {"user_id": user_id, "key": key}
    row = (await session.execute(_EARLIER, params)).one_or_none()
    if row is None:
        return None
    if row.tool != tool or row.fingerprint != fingerprint(tool, arguments):
        raise InvalidArgument(
            "This idempotency_key was already used for a different call in the last "
            f"{KEY_LIFETIME_HOURS} hours. Use a new key for a new request."
        )
    if row.result is None:  # Written by a version that claimed keys before their result.
        raise Conflict("A call with this idempotency_key is still running. Retry in a moment.")
    return result_type.model_validate(row.result)
