"""The MCP task server: owns the tasks, conversations and messages tables and serves them over MCP."""
