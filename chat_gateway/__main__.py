"""`python -m chat_gateway`: serve the chat API on GATEWAY_HOST:GATEWAY_PORT (default 127.0.0.1:8000)."""

from __future__ import annotations

import logging

from shared.logging import configure_logging
from shared.serve import serve
from shared.settings import load_or_exit

from .app import create_app
from .settings import GatewaySettings

logger = logging.getLogger("chat_gateway")


def main() -> None:
    settings = load_or_exit(GatewaySettings, "chat_gateway")
    configure_logging(settings.log_level, sensitive=settings.log_sensitive)
    if settings.log_sensitive:
        # The Agents SDK redacts model input/output and tool data from its DEBUG records unless told
        # otherwise (OPENAI_AGENTS_DONT_LOG_*_DATA, read at import); LOG_SENSITIVE is that telling.
        from agents import _debug

        _debug.DONT_LOG_MODEL_DATA = _debug.DONT_LOG_TOOL_DATA = False
    logger.info("model: %s; task server: %s", settings.model_name, settings.mcp_task_server_url)
    serve(
        create_app(settings),
        settings.gateway_host,
        settings.gateway_port,
        settings.log_level,
        drain_seconds=settings.shutdown_drain_seconds,
    )


if __name__ == "__main__":
    main()
