"""Per-user rate limit on chat turns: a fixed one-minute window per user.

In memory by default (each replica counts on its own); with RATE_LIMIT_STORAGE_URL=redis://... every
replica shares one count, so N replicas still allow RATE_LIMIT_PER_MINUTE per user, not N times that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.audit import audit

from .errors import RateLimited

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class RateLimiter(Protocol):
    async def hit(self, user_id: str) -> None:
        """Count one turn for the user; raise RateLimited (with Retry-After) when over the limit."""

    async def aclose(self) -> None: ...


class NoLimit:
    async def hit(self, user_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


class MemoryRateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, user_id: str) -> None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        async with self._lock:
            started, count = self._windows.get(user_id, (window, 0))
            if started != window:
                started, count = window, 0
                if len(self._windows) > 100_000:
                    # Forget users from past windows so memory stays bounded.
                    self._windows = {u: w for u, w in self._windows.items() if w[0] == window}
            count += 1
            self._windows[user_id] = (started, count)
        if count > self.per_minute:
            raise _limited(user_id, int((window + 1) * WINDOW_SECONDS - now) + 1)

    async def aclose(self) -> None:
        return None


class RedisRateLimiter:
    def __init__(self, url: str, per_minute: int) -> None:
        self.per_minute = per_minute
        self._redis: Redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    async def hit(self, user_id: str) -> None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"todo-chat:rate:{user_id}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, WINDOW_SECONDS * 2)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as e:
            # Fail open: a rate limiter outage must not take chat down with it.
            logger.warning("rate limiter storage unavailable: %s", type(e).__name__)
            return
        if int(count) > self.per_minute:
            raise _limited(user_id, int((window + 1) * WINDOW_SECONDS - now) + 1)

    async def aclose(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(per_minute: int, storage_url: str | None) -> RateLimiter:
    if per_minute <= 0:
        return NoLimit()
    if storage_url:
        return RedisRateLimiter(storage_url, per_minute)
    return MemoryRateLimiter(per_minute)


def _limited(user_id: str, retry_after: int) -> RateLimited:
    audit("rate_limited", service="chat_gateway", user_id=user_id, retry_after=retry_after)
    return RateLimited(retry_after=retry_after)
