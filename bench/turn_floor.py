"""The floor for a chat turn: the irreducible work of one, served over HTTP by one process.

A turn must verify the caller's EdDSA token, store the user's message and read the recent window, add
the task with its activity record, store the reply, and answer in JSON. This FastAPI app does exactly
that and nothing else: one request, the token verified every time, three SQL statements (the task
server's own statement for the add) on a pool of prepared, autocommit psycopg connections, and no agent,
no MCP and no second service. `make bench` compares the chat turn with it, measured in the same run.

    DATABASE_URL=... DATA_DIR=... TURN_FLOOR_PORT=... python -m bench.turn_floor
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from mcp_task_server.db import libpq_url
from mcp_task_server.tasks.repository import _ADD
from shared.auth import AuthError, JwtVerifier, StaticKeySource
from shared.local_auth import GATEWAY_AUDIENCE, LOCAL_ISSUER, LocalSigner

POOL_SIZE = 20
# The window: the new message and the 9 before it (the gateway reads 10).
_CONTINUE = """
WITH touched AS (
    UPDATE conversations SET updated_at = now() WHERE id = %(conversation_id)s AND user_id = %(user_id)s
    RETURNING id
), added AS (
    INSERT INTO messages (conversation_id, user_id, role, content)
    SELECT id, %(user_id)s, 'user', %(content)s FROM touched
    RETURNING id, conversation_id, role, content, tool_calls, created_at
)
SELECT * FROM added
UNION ALL (
    SELECT id, conversation_id, role, content, tool_calls, created_at FROM messages
    WHERE conversation_id = (SELECT id FROM touched) AND role IN ('user', 'assistant')
    ORDER BY id DESC LIMIT 9
)
"""
_REPLY = """
WITH touched AS (
    UPDATE conversations SET updated_at = now() WHERE id = %(conversation_id)s AND user_id = %(user_id)s
    RETURNING id
)
INSERT INTO messages (conversation_id, user_id, role, content, tool_calls)
SELECT id, %(user_id)s, 'assistant', %(content)s, %(tool_calls)s::jsonb FROM touched RETURNING id
"""
# The task server's add, with SQLAlchemy's :name parameters in psycopg's style.
_ADD_TASK = re.sub(r"(?<!:):(\w+)", r"%(\1)s", _ADD.text)


class Turn(BaseModel):
    message: str
    conversation_id: int


class Pool:
    """A fixed set of connections, handed out in turn."""

    def __init__(self, connections: list[psycopg.AsyncConnection[dict[str, Any]]]) -> None:
        self._free: asyncio.Queue[psycopg.AsyncConnection[dict[str, Any]]] = asyncio.Queue()
        for connection in connections:
            self._free.put_nowait(connection)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        connection = await self._free.get()
        try:
            yield connection
        finally:
            self._free.put_nowait(connection)


def create_app(database_url: str, data_dir: Path) -> FastAPI:
    signer = LocalSigner.load_or_create(data_dir)
    verifier = JwtVerifier(
        StaticKeySource(signer.public_jwks()),
        issuer=LOCAL_ISSUER,
        audience=[GATEWAY_AUDIENCE],
        remember_seconds=0,  # The floor verifies every token in full.
    )
    pools: list[Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        connections = [
            await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True, prepare_threshold=0, row_factory=dict_row
            )
            for _ in range(POOL_SIZE)
        ]
        pools.append(Pool(connections))
        yield
        for connection in connections:
            await connection.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/api/{user_id}/chat")
    async def turn(user_id: str, body: Turn, request: Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            principal = await verifier.verify(token)
        except AuthError as e:
            raise HTTPException(401) from e
        if scheme.lower() != "bearer" or principal.user_id != user_id:
            raise HTTPException(403)
        base = {"user_id": user_id, "conversation_id": body.conversation_id}
        async with pools[0].connection() as db:
            window = await (await db.execute(_CONTINUE, {**base, "content": body.message})).fetchall()
            if not window:
                raise HTTPException(404)
            created = await (
                await db.execute(
                    _ADD_TASK,
                    {
                        "user_id": user_id, "title": body.message, "description": None, "priority": 0,
                        "tags": [], "due_date": None, "due_datetime": None, "due_timezone": None,
                        "due_string": None, "due_recurrence": None, "client": "floor", "request_id": None,
                    },
                )
            ).fetchone()  # fmt: skip
            assert created is not None
            reply = f"Added task {created['id']}: {created['title']}."
            calls = [
                {
                    "name": "add_task",
                    "arguments": {"title": body.message},
                    "result": {"task_id": created["id"]},
                }
            ]
            await db.execute(_REPLY, {**base, "content": reply, "tool_calls": Jsonb(calls)})
        return {
            "conversation_id": body.conversation_id,
            "response": reply,
            "tool_calls": calls,
            "suggestions": [],
        }

    return app


def main() -> None:
    app = create_app(os.environ["DATABASE_URL"], Path(os.environ["DATA_DIR"]))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(
        app, host="127.0.0.1", port=int(os.environ["TURN_FLOOR_PORT"]), log_config=None, log_level="warning"
    )


if __name__ == "__main__":
    main()
