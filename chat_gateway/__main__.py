"""`python -m chat_gateway`: serve the chat API on GATEWAY_HOST:GATEWAY_PORT (default 127.0.0.1:8000)."""

from __future__ import annotations

import logging

from shared.local_auth import LocalSigner
from shared.logging import configure_logging
from shared.serve import listen, serve, starting
from shared.settings import load_or_exit

from .app import create_app
from .settings import GatewaySettings

logger = logging.getLogger("chat_gateway")

PROGRAM = "chat_gateway"


def main() -> None:
    settings = load_or_exit(GatewaySettings, PROGRAM)
    configure_logging(
        settings.log_level, sensitive=settings.log_sensitive, json_format=settings.log_format == "json"
    )
    if settings.log_sensitive:
        # The Agents SDK redacts model input/output and tool data from its DEBUG records unless told
        # otherwise (OPENAI_AGENTS_DONT_LOG_*_DATA, read at import); LOG_SENSITIVE is that telling.
        from agents import _debug

        _debug.DONT_LOG_MODEL_DATA = _debug.DONT_LOG_TOOL_DATA = False
    with starting(PROGRAM):
        listener = listen(
            settings.gateway_host,
            settings.gateway_port,
            host_setting="GATEWAY_HOST",
            port_setting="GATEWAY_PORT",
        )
        if settings.local_auth:
            # Created (or read) here rather than in the lifespan, so an unwritable DATA_DIR is one line.
            LocalSigner.load_or_create(settings.data_dir)
        app = create_app(settings)
    logger.info("model: %s; task server: %s", settings.model_name, settings.mcp_task_server_url)
    serve(app, listener, settings.log_level, drain_seconds=settings.shutdown_drain_seconds)


if __name__ == "__main__":
    main()
