"""Conversations: the chat gateway's turns and messages, stored for it."""
