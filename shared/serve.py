"""Run an ASGI app the way both services run: our logging, no server header, a graceful stop."""

from __future__ import annotations

import gc

import uvicorn
from starlette.types import ASGIApp


def serve(app: ASGIApp, host: str, port: int, log_level: str) -> None:
    # Everything built so far (the libraries, their pydantic models) lives as long as the process; freezing
    # it keeps the collector from walking it again, which otherwise pauses a request for ~150 ms.
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # Keep shared.logging's single-line format.
        log_level=log_level.lower(),
        server_header=False,
        timeout_graceful_shutdown=10,
    )
