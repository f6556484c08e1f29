"""The chat gateway: a stateless FastAPI service that runs the assistant agent over the task server's MCP tools."""
