"""The services a benchmark measures, started as an operator would: the task server, a floor server (an
empty FastMCP tool served the same way) and the chat gateway (builtin model), as processes on loopback
against a fresh PostgreSQL database that is dropped afterwards."""

from __future__ import annotations

import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from devtools.postgres import create_database, drop_database, server_for_tests
from mcp_task_server.migrate import upgrade
from shared.local_auth import LocalSigner
from tests.support.processes import Service, free_port, run_service

Services = tuple[Service, Service, Service, Service, str, LocalSigner]


@contextmanager
def bench_services() -> Iterator[Services]:
    """(task server, tool floor, gateway, turn floor, database URL, token signer)."""
    admin_url, origin = server_for_tests()
    name = f"bench_{uuid.uuid4().hex[:10]}"
    database_url = create_database(admin_url, name)
    print(f"PostgreSQL: {origin}; database {name}", file=sys.stderr)
    try:
        upgrade(database_url)
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            data_dir = Path(tmp)
            signer = LocalSigner.load_or_create(data_dir)
            common = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
            task_port, floor_port, gateway_port, turn_port = (
                free_port(),
                free_port(),
                free_port(),
                free_port(),
            )
            task_server = stack.enter_context(
                run_service(
                    "mcp_task_server",
                    {
                        **common,
                        "DATABASE_URL": database_url,
                        "TASK_SERVER_PORT": str(task_port),
                        "DB_POOL_SIZE": "20",
                    },
                    task_port,
                    data_dir / "task_server.log",
                )
            )
            floor = stack.enter_context(
                run_service(
                    "bench.floor_server",
                    {**common, "TASK_SERVER_PORT": str(floor_port)},
                    floor_port,
                    data_dir / "floor.log",
                )
            )
            gateway = stack.enter_context(
                run_service(
                    "chat_gateway",
                    {
                        **common,
                        "GATEWAY_PORT": str(gateway_port),
                        "MCP_TASK_SERVER_URL": f"{task_server.base_url}/mcp",
                        "AGENT_MODEL": "builtin",
                        "RATE_LIMIT_PER_MINUTE": "0",
                    },
                    gateway_port,
                    data_dir / "gateway.log",
                )
            )
            turn_floor = stack.enter_context(
                run_service(
                    "bench.turn_floor",
                    {**common, "DATABASE_URL": database_url, "TURN_FLOOR_PORT": str(turn_port)},
                    turn_port,
                    data_dir / "turn_floor.log",
                )
            )
            yield task_server, floor, gateway, turn_floor, database_url, signer
    finally:
        drop_database(admin_url, name)
