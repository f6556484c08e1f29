"""`python -m chat_gateway`: serve the chat API on GATEWAY_HOST:GATEWAY_PORT (default 127.0.0.1:8000)."""

from __future__ import annotations

import gc
import logging

import uvicorn

from shared.logging import configure_logging
from shared.settings import load_or_exit

from .app import create_app
from .settings import GatewaySettings

logger = logging.getLogger("chat_gateway")


def main() -> None:
    settings = load_or_exit(GatewaySettings, "chat_gateway")
    configure_logging(settings.log_level)
    logger.info("model: %s; task server: %s", settings.model_name, settings.mcp_task_server_url)
    app = create_app(settings)
    # Everything imported so far (the Agents SDK, openai, pydantic models) lives as long as the process;
    # freezing it keeps the collector from walking it again, which otherwise pauses a turn for ~150 ms.
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        log_level=settings.log_level.lower(),
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
