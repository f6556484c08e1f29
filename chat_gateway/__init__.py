"""The chat gateway: a stateless FastAPI service running the assistant agent over the task server's tools."""
