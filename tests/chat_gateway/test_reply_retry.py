"""The gateway retries `record_reply` once after a transport failure, keyed by the turn, so a reply whose
answer was lost on the way back is stored once, not twice (the retry may reach any replica)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from chat_gateway.agent_tools import Turn
from chat_gateway.errors import DependencyUnavailable
from chat_gateway.task_server import TaskServerClient
from chat_gateway.turns import reply_key
from tests.support.gateway_fixtures import user_token
from tests.support.processes import Service


class LosesFirstReplyAnswer:
    """A loopback HTTP proxy to the task server that forwards the first `record_reply` but drops the
    connection instead of returning its answer, as a task server replica dying at that moment would."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.replies_seen = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> LosesFirstReplyAnswer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await reader.readexactly(length)
            # One request per connection keeps the forwarding simple.
            head = head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            up_writer.write(head + body)
            await up_writer.drain()
            answer = await up_reader.read()
            up_writer.close()
            if b'"record_reply"' in body:
                self.replies_seen += 1
                if self.replies_seen == 1:
                    return  # Stored upstream; the answer is lost.
            writer.write(answer)
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def proxy(task_server: Service) -> AsyncIterator[LosesFirstReplyAnswer]:
    async with LosesFirstReplyAnswer(int(task_server.base_url.rsplit(":", 1)[1])) as running:
        yield running


async def test_a_reply_whose_answer_was_lost_is_retried_and_stored_once(
    proxy: LosesFirstReplyAnswer, database_url: str
) -> None:
    token = user_token("retry-user")
    client = TaskServerClient(f"http://127.0.0.1:{proxy.port}/mcp")
    try:
        started = await client.start_turn(token, "add milk", None, 20)
        turn = Turn(started.conversation_id, started.user_message_id)
        recorded = await client.record_reply(
            token, started.conversation_id, "Added milk.", [], idempotency_key=reply_key(turn)
        )
    finally:
        await client.aclose()
    assert proxy.replies_seen == 2
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id FROM messages WHERE conversation_id = %s AND role = 'assistant'",
            (started.conversation_id,),
        ).fetchall()
    assert [row[0] for row in rows] == [recorded.message_id]


async def test_without_a_key_a_lost_answer_is_not_retried(
    proxy: LosesFirstReplyAnswer, database_url: str
) -> None:
    token = user_token("no-retry-user")
    client = TaskServerClient(f"http://127.0.0.1:{proxy.port}/mcp")
    try:
        started = await client.start_turn(token, "add milk", None, 20)
        with pytest.raises(DependencyUnavailable):
            await client.record_reply(token, started.conversation_id, "Added milk.", [])
    finally:
        await client.aclose()
    assert proxy.replies_seen == 1
