"""One logging set-up for both services: a single line per record on stderr, and nothing sensitive in it.

stderr, not stdout, because in stdio mode stdout carries the MCP protocol itself.

What a log may never hold, at any level, unless the operator sets `LOG_SENSITIVE=true` to debug a
deployment: tokens, passwords, chat text, task titles, SQL parameters. Three things keep them out:
- The libraries that print whole requests and responses at DEBUG (the MCP SDK prints every JSON-RPC
  message, sse-starlette every event, openai the request options with the messages, the Agents SDK the
  model input, httpx/httpcore the headers) are held at INFO, whatever LOG_LEVEL says.
- uvicorn's access line is logged without its query string, where clients put tokens.
- A last filter masks whatever still looks like a bearer token, a JWT or a password in a URL.
SQLAlchemy hides statement parameters (`hide_parameters`, see mcp_task_server.db) for the same reason.

Quiet by default: one access line per request; the libraries' per-request INFO chatter only at DEBUG.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final

from shared.request_id import RequestIdFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"

# Loggers whose DEBUG output is payload: held at INFO unless LOG_SENSITIVE=true.
PAYLOAD_LOGGERS: Final = (
    "mcp",
    "fastmcp",
    "sse_starlette",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "openai",
    "openai.agents",
    "agents",
    "chatkit",
    "asyncio",
    "multipart",
)

# Loggers that say something at INFO on every request (the MCP SDK's "Terminating session: None" after
# each stateless request) or about its own plumbing: held at WARNING unless LOG_LEVEL=DEBUG, so that a
# request leaves one line in the log, uvicorn's access line.
CHATTY_LOGGERS: Final = (
    "mcp.server.streamable_http",
    "mcp.server.streamable_http_manager",
    "mcp.server.lowlevel.server",
)

_SECRETS: Final = (
    # A JWT (three base64url parts, the first two JSON objects).
    (re.compile(r"eyJ[\w-]*\.eyJ[\w-]*\.[\w-]*"), "[jwt]"),
    # The credentials of an Authorization header, whatever the scheme.
    (re.compile(r"\b(Bearer|Basic)\s+[\w.~+/=-]+", re.IGNORECASE), r"\1 [redacted]"),
    # user:password@ in a URL or a DSN.
    (re.compile(r"(\w+://[^/\s:@]+):[^/\s@]+@"), r"\1:[redacted]@"),
    # An API key in the OpenAI style.
    (re.compile(r"\bsk-[\w-]{8,}"), "sk-[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class _Redact(logging.Filter):
    """Formats the record's message once, masks what looks secret, and stores the result as the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # A library's bad format string must not lose the record, nor raise.
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class _AccessWithoutQuery(logging.Filter):
    """uvicorn's access line is `client - "METHOD path HTTP/x" status`; the path loses its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (args[0], args[1], args[2].split("?", 1)[0] + "?[query]", args[3], args[4])
        return True


class _PayloadAtInfo(logging.Filter):
    """Drops DEBUG records of the payload loggers (their INFO and above still pass)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        name = record.name
        return not any(name == prefix or name.startswith(prefix + ".") for prefix in PAYLOAD_LOGGERS)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (`LOG_FORMAT=json`): time, level, logger, request id, message, and an audit
    record's fields (shared/audit.py) at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        facts = getattr(record, "audit", None)
        if isinstance(facts, dict):
            entry.update(facts)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, *, sensitive: bool = False, json_format: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter(_FORMAT))
    handler.addFilter(RequestIdFilter())
    if not sensitive:
        handler.addFilter(_PayloadAtInfo())
        handler.addFilter(_Redact())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # FastMCP installs a rich handler on its own logger that prints tracebacks with local source lines;
    # openai-chatkit adds a plain StreamHandler to "chatkit" on import whenever LOG_LEVEL is set (so every
    # line twice, the second unredacted). Route their records through ours instead, so one format (and
    # no stack traces) reaches the log.
    for name in ("fastmcp", "mcp", "chatkit", "uvicorn", "uvicorn.error", "uvicorn.access"):
        lib_logger = logging.getLogger(name)
        lib_logger.handlers[:] = []
        lib_logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.filters[:] = [] if sensitive else [_AccessWithoutQuery()]
    # Not only filtered: held at INFO they do not even build the DEBUG records (some are large).
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if sensitive else max(logging.INFO, root.level))
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, root.level))
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING)
    # SQLAlchemy holds its loggers at WARNING from import on; at DEBUG an operator wants the statements
    # (INFO is SQLAlchemy's level for them; its DEBUG adds result rows, which mcp_task_server.db drops).
    if root.level <= logging.DEBUG:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
