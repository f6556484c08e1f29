"""POST /chatkit: the ChatKit server protocol, with every thread stored by the task server.

`routes` admits a request (the same token, rate limit and limits as /chat), `server` answers a user
message with the same agent and tools as /chat, and `store` keeps threads and items in the task server
over MCP as the caller. The gateway keeps nothing between requests: any replica serves any thread.
"""
