"""Tasks: the agent-facing tools, their rules (service) and their SQL (repository), bulk calls included."""
