"""Idempotency keys: a write retried with the same key returns its first result and changes nothing.

The key is claimed in the same transaction as the write (INSERT ... ON CONFLICT), so two concurrent
calls with one key cannot both act: the second waits for the first to commit, then replays its result.
A write that fails rolls back its claim too, so a retry after a failure really runs again. A key is
held for 24 hours; the purge removes it after that, and an expired key may be used afresh.
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
    "INSERT INTO idempotency_keys (user_id, key, tool, fingerprint) "
    "VALUES (:user_id, :key, :tool, :fingerprint) "
    "ON CONFLICT (user_id, key) DO UPDATE "
    "SET tool = EXCLUDED.tool, fingerprint = EXCLUDED.fingerprint, result = NULL, created_at = now() "
    f"WHERE idempotency_keys.created_at < now() - interval '{KEY_LIFETIME_HOURS} hours' "
    "RETURNING true"
)
_EARLIER = text(
    "SELECT tool, fingerprint, result FROM idempotency_keys WHERE user_id = :user_id AND key = :key"
)
_STORE = text(
    "UPDATE idempotency_keys SET result = CAST(:result AS jsonb) WHERE user_id = :user_id AND key = :key"
)


def fingerprint(tool: str, arguments: Mapping[str, Any]) -> str:
    canonical = json.dumps({"tool": tool, "arguments": arguments}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def once(
    session: AsyncSession,
    user_id: str,
    key: str,
    tool: str,
    arguments: Mapping[str, Any],
    result_type: type[ResultT],
    work: Callable[[], Awaitable[ResultT]],
) -> ResultT:
    """Run `work` the first time this key is used with these arguments; replay its result after that.

    Needs a transaction: the claim, the work and the stored result commit together or not at all."""
    params = {"user_id": user_id, "key": key, "tool": tool, "fingerprint": fingerprint(tool, arguments)}
    claimed = (await session.execute(_CLAIM, params)).scalar_one_or_none()
    if claimed is None:
        earlier = (await session.execute(_EARLIER, params)).one()
        if earlier.tool != tool or earlier.fingerprint != params["fingerprint"]:
            raise InvalidArgument(
                "This idempotency_key was already used for a different call in the last "
                f"{KEY_LIFETIME_HOURS} hours. Use a new key for a new request."
            )
        if earlier.result is None:
            raise Conflict("A call with this idempotency_key is still running. Retry in a moment.")
        return result_type.model_validate(earlier.result)
    result = await work()
    await session.execute(_STORE, {**params, "result": result.model_dump_json()})
    return result
