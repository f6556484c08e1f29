"""In-memory MCP clients acting as a given user, against the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from fastmcp import Client

from mcp_task_server.server import create_server
from mcp_task_server.settings import TaskServerSettings

ClientFactory = Callable[[str], AbstractAsyncContextManager[Client[Any]]]


@pytest.fixture
def client_as(settings: TaskServerSettings) -> ClientFactory:
    """`async with client_as("alice") as c:` — an MCP client whose every call acts as that user.

    This is the server's stdio mode (user from configuration), which is how a test can be two users
    without tokens; the token path is covered over real HTTP in test_http_auth.py.
    """

    @asynccontextmanager
    async def factory(user_id: str) -> AsyncIterator[Client[Any]]:
        server, _ = create_server(settings.model_copy(update={"mcp_stdio_user_id": user_id}), stdio=True)
        async with Client(server) as client:
            yield client

    return factory


@pytest.fixture
async def alice(client_as: ClientFactory) -> AsyncIterator[Client[Any]]:
    async with client_as("alice") as client:
        yield client


@pytest.fixture
async def bob(client_as: ClientFactory) -> AsyncIterator[Client[Any]]:
    async with client_as("bob") as client:
        yield client
