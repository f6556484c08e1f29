"""One task server process and one MCP session for the builtin model's tests in this package.

The names say `builtin` because the gateway's own tests live in this package too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from shared.local_auth import LocalSigner
from tests.support.processes import Service

from .harness import TaskServerConnection, task_server


@pytest.fixture(scope="package")
def builtin_task_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, LocalSigner]]:
    data_dir = tmp_path_factory.mktemp("builtin-model-server")
    with task_server(database_url, data_dir, data_dir / "task_server.log") as started:
        yield started


@pytest.fixture(scope="package")
async def builtin_connection(
    builtin_task_server: tuple[Service, LocalSigner],
) -> AsyncIterator[TaskServerConnection]:
    service, signer = builtin_task_server
    async with TaskServerConnection(service.base_url, signer) as connected:
        yield connected
