"""The purge: trashed tasks past TRASH_RETENTION_DAYS, the activity log past ACTIVITY_RETENTION_DAYS,
idempotency keys past 24 hours and expired bulk previews are deleted.

Every replica runs the loop; a transaction-scoped advisory lock lets one purge run at a time and the
others skip that round, so replicas never duplicate the work or block each other. Deletes go in
batches, so a large backlog never holds long locks. `python -m mcp_task_server purge` runs it once
(for a CronJob, or by hand).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .idempotency import KEY_LIFETIME_HOURS

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "todo" + "purge" as one 64-bit number, unlikely to clash.
PURGE_LOCK_KEY = 0x746F646F7075726765 & 0x7FFFFFFFFFFFFFFF
BATCH = 2000
_DAY = 86400.0

_STATEMENTS = {
    "tasks": "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE trashed_at < now() - "
    "make_interval(secs => :trash_seconds) LIMIT :batch FOR UPDATE SKIP LOCKED)",
    "changes": "DELETE FROM task_changes WHERE id IN (SELECT id FROM task_changes WHERE created_at < now() - "
    "make_interval(secs => :activity_seconds) LIMIT :batch)",
    "idempotency_keys": "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys "
    f"WHERE created_at < now() - interval '{KEY_LIFETIME_HOURS} hours' LIMIT :batch)",
    "confirmations": "DELETE FROM bulk_confirmations WHERE ctid IN (SELECT ctid FROM bulk_confirmations "
    "WHERE expires_at < now() LIMIT :batch)",
}


@dataclass(frozen=True)
class Purged:
    ran: bool
    counts: dict[str, int]


async def purge_once(
    sessions: async_sessionmaker[AsyncSession], trash_days: float, activity_days: float
) -> Purged:
    """One purge round, unless another replica holds the purge lock right now."""
    params = {"trash_seconds": trash_days * _DAY, "activity_seconds": activity_days * _DAY, "batch": BATCH}
    counts = dict.fromkeys(_STATEMENTS, 0)
    async with sessions() as session, session.begin():
        locked = await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PURGE_LOCK_KEY})
        if not locked.scalar_one():
            return Purged(ran=False, counts=counts)
        for name, sql in _STATEMENTS.items():
            while True:
                result = await session.execute(text(sql), params)
                deleted = int(getattr(result, "rowcount", 0))
                counts[name] += deleted
                if deleted < BATCH:
                    break
    return Purged(ran=True, counts=counts)


async def purge_forever(
    sessions: async_sessionmaker[AsyncSession], trash_days: float, activity_days: float, interval: float
) -> None:
    """The lifespan's background loop. Jittered, so replicas started together do not all try at once."""
    await asyncio.sleep(random.uniform(0, min(interval, 60.0)))  # noqa: S311 - jitter, not security
    while True:
        try:
            purged = await purge_once(sessions, trash_days, activity_days)
            if purged.ran and any(purged.counts.values()):
                logger.info("purged %s", ", ".join(f"{n} {name}" for name, n in purged.counts.items()))
        except (SQLAlchemyError, OSError) as e:
            logger.warning("purge failed, retrying next round: %s", type(e).__name__)
        await asyncio.sleep(interval * random.uniform(0.9, 1.1))  # noqa: S311
