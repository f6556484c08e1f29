"""Run an ASGI app the way both services run: our logging, no server header, a graceful stop.

Stopping takes two steps, so that a load balancer can move traffic away before anything is refused:

1. SIGTERM starts the drain. `/readyz` answers 503 `draining` at once, while the process keeps serving
   the requests in flight and any new ones for `drain_seconds`, the time a balancer needs to notice.
2. Then uvicorn's own shutdown: the listener closes, requests still running get up to
   `GRACEFUL_STOP_SECONDS` to finish, and the lifespan closes the pools.

A second SIGTERM, or SIGINT (Ctrl-C while developing), skips what is left of the drain.

Start-up fails in one line on stderr, naming what to fix (never a password or a token), and a non-zero
exit: `listen` binds the port before anything slow happens, so a busy port is reported at once, and
`starting` turns whatever else goes wrong before the service serves into such a line.
"""

from __future__ import annotations

import errno
import gc
import logging
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Final, NoReturn

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE

from shared.logging import redact

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


class StartupError(Exception):
    """A problem the operator fixes before the service can start. The message is one line that names
    what to change, and holds no secret."""


def fail(program: str, message: str, status: int = 1) -> NoReturn:
    """`program: message` on stderr, and exit with `status` (the message is masked once more)."""
    print(f"{program}: {redact(' '.join(message.split()))}", file=sys.stderr, flush=True)
    raise SystemExit(status)


@contextmanager
def starting(program: str) -> Iterator[None]:
    """What a service does before it serves: a `StartupError` is its line and exit status 1; anything
    else too, naming the exception's type (its traceback only when LOG_LEVEL=DEBUG, for a bug)."""
    try:
        yield
    except StartupError as e:
        fail(program, str(e))
    except Exception as e:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            logger.debug("start-up failed", exc_info=True)
        detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        fail(program, f"could not start: {detail} (LOG_LEVEL=DEBUG shows where)")


def listen(host: str, port: int, *, host_setting: str, port_setting: str) -> socket.socket:
    """The service's listening socket, bound now, so that a port another process holds fails start-up at
    once in a `StartupError` naming the setting to change, rather than after migrations, in uvicorn's log."""
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As uvicorn does: a port left in TIME_WAIT by the previous run is free to bind again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bare, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use (by another copy of this service?): stop what "
                f"listens there, or set {port_setting} to a free port"
            ) from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise StartupError(
                f"not allowed to listen on port {port}: set {port_setting} to a port above 1023"
            ) from None
        reason = e.strerror or str(e)
        raise StartupError(
            f"cannot listen on {host}:{port} ({reason}): set {host_setting} to an address of this machine"
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(app: ASGIApp, listener: socket.socket, log_level: str, *, drain_seconds: float = 10.0) -> None:
    """Serve `app` on `listener` (from `listen`) until stopped."""
    host, port = listener.getsockname()[:2]
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
    shown = f"[{host}]" if ":" in host else host
    logger.info("listening on http://%s:%d", shown, port)
    with suppress(KeyboardInterrupt):
        server.run(sockets=[listener])
    if not server.started:
        sys.exit(STARTUP_FAILURE)
