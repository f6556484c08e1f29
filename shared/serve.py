"""Run an ASGI app the way both services run: our logging, no server header, a graceful stop.

Stopping takes two steps, so that a load balancer can move traffic away before anything is refused:

1. SIGTERM starts the drain. `/readyz` answers 503 `draining` at once, while the process keeps serving
   the requests in flight and any new ones for `drain_seconds`, the time a balancer needs to notice.
2. Then uvicorn's own shutdown: the listener closes, requests still running get up to
   `GRACEFUL_STOP_SECONDS` to finish, and the lifespan closes the pools.

A second SIGTERM, or SIGINT (Ctrl-C while developing), skips what is left of the drain.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import time
from contextlib import suppress
from types import FrameType
from typing import Final

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger(__name__)

# How long requests still running when the listener closes may take before they are cut off.
GRACEFUL_STOP_SECONDS: Final = 10


class _Drain:
    """Whether this process is draining. One per process, like the signals that start it."""

    def __init__(self) -> None:
        self.started_at: float | None = None

    @property
    def active(self) -> bool:
        return self.started_at is not None

    def begin(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()


DRAIN: Final = _Drain()


def draining() -> bool:
    """True once SIGTERM has arrived: readiness probes must then answer 503 `draining`."""
    return DRAIN.active


class _DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_seconds: float) -> None:
        super().__init__(config)
        self._drain_seconds = drain_seconds
        self._drain_announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self._drain_seconds > 0 and not DRAIN.active and not self.should_exit:
            # Kept, so that uvicorn raises the signal again once it has stopped, as it does for the others.
            self._captured_signals.append(sig)
            # Only state changes here: logging takes locks, which a signal handler must not wait for.
            DRAIN.begin()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if await super().on_tick(counter):
            return True
        started = DRAIN.started_at
        if started is None:
            return False
        if not self._drain_announced:
            self._drain_announced = True
            logger.info(
                "SIGTERM: not ready from now on; serving for %.0f s more, then stopping", self._drain_seconds
            )
        if time.monotonic() - started >= self._drain_seconds:
            logger.info("drain over; closing the listener")
            return True
        return False


def serve(app: ASGIApp, host: str, port: int, log_level: str, *, drain_seconds: float = 10.0) -> None:
    # Everything built so far (the libraries, their pydantic models) lives as long as the process; freezing
    # it keeps the collector from walking it again, which otherwise pauses a request for ~150 ms.
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # Keep shared.logging's single-line format.
        log_level=log_level.lower(),
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
    )
    server = _DrainingServer(config, drain_seconds)
    with suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
