"""One logging set-up for both services: a single line per record on stderr.

stderr, not stdout, because in stdio mode stdout carries the MCP protocol itself.
"""

from __future__ import annotations

import logging
import sys

from shared.request_id import RequestIdFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # FastMCP installs a rich handler on its own logger that prints tracebacks with local source lines;
    # route its records through ours instead so one format (and no stack traces) reaches the log.
    for name in ("fastmcp", "mcp", "uvicorn", "uvicorn.error", "uvicorn.access"):
        lib_logger = logging.getLogger(name)
        lib_logger.handlers[:] = []
        lib_logger.propagate = True
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, root.level))
