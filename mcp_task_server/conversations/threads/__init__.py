"""ChatKit threads for the gateway's POST /chatkit: a thread is a conversation, its items are messages."""
