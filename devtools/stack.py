"""`make run`: the whole system on this machine with one command.

Starts an embedded PostgreSQL when DATABASE_URL is unset (its data stays in DATA_DIR between runs),
applies migrations, starts the task server and the chat gateway, then prints the web page's address,
a token and the database URL (in that order) and lines to try, and stops everything cleanly on Ctrl-C.

    python -m devtools.stack [--check]

`--check` starts everything, prints the same, and stops at once with status 0: a smoke test of `make run`
(`make run RUN_ARGS=--check`). A start-up failure is one line on stderr naming what to fix, and status 1
(2 for a setting that does not parse), never a traceback, a password or a token.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType

import httpx2

from chat_gateway.settings import GatewaySettings
from mcp_task_server.settings import TaskServerSettings
from shared.local_auth import LocalSigner
from shared.logging import redact
from shared.serve import StartupError, fail, listen
from shared.settings import load_or_exit

from .postgres import ensure_database, start_embedded

PROGRAM = "make run"
DATABASE_NAME = "todo"
EMBEDDED_OS_USER = "pgserver"


def wait_ready(
    url: str, process: subprocess.Popen[bytes], timeout: float = 60.0, log: str = "the log above"
) -> None:
    """Until `url` answers 200; exits with a clear line if the process dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{_name(process)} did not start (exit status {process.returncode}); see {log}")
        try:
            if httpx2.get(url, timeout=1.0).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready within {timeout:.0f}s; see {log}")


def _name(process: subprocess.Popen[bytes]) -> str:
    args = process.args
    if isinstance(args, list | tuple) and len(args) >= 3 and args[1] == "-m":
        return {"mcp_task_server": "the task server", "chat_gateway": "the chat gateway"}.get(
            str(args[2]), str(args[2])
        )
    return repr(args)


def _mcp_curl(mcp_url: str) -> str:
    body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","arguments":{}}}'
    return (
        f"curl -s {mcp_url} -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
        f"-H 'Accept: application/json, text/event-stream' -d {shlex.quote(body)}"
    )


def _chat_curl(gateway_url: str, user_id: str) -> str:
    body = '{"message": "add buy milk"}'
    return (
        f'curl -s {gateway_url}/api/{user_id}/chat -H "Authorization: Bearer $TOKEN" '
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def _check_ports(settings: TaskServerSettings, gateway: GatewaySettings) -> None:
    """Both ports free before anything starts: a `make run` still running elsewhere is found at once, and a
    readiness probe can never be answered by a stranger on our port."""
    for host, port, host_setting, port_setting in (
        (settings.task_server_host, settings.task_server_port, "TASK_SERVER_HOST", "TASK_SERVER_PORT"),
        (gateway.gateway_host, gateway.gateway_port, "GATEWAY_HOST", "GATEWAY_PORT"),
    ):
        try:
            listen(host, port, host_setting=host_setting, port_setting=port_setting).close()
        except StartupError as e:
            fail(PROGRAM, str(e).replace("this service", "`make run`"))


def _running_as_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


def _start_embedded(data_dir: Path) -> str:
    """The embedded server's URL for DATABASE_NAME, starting the server (and creating the database)."""
    print(f"Starting an embedded PostgreSQL in {data_dir} (set DATABASE_URL to use yours) ...", flush=True)
    if _running_as_root():
        print(
            f"Running as root: the embedded PostgreSQL runs as the OS user '{EMBEDDED_OS_USER}' (PostgreSQL "
            "refuses root), which pgserver creates with useradd if missing; it owns the data folder, and "
            "the folders above it become readable by others (o+rx).",
            flush=True,
        )
    # pgserver logs a failed start with the whole server log; the line below names that log instead.
    logging.getLogger("pgserver").setLevel(logging.CRITICAL)
    try:
        admin_url = start_embedded(data_dir)
    except ImportError:
        fail(
            PROGRAM,
            "the embedded PostgreSQL needs the pgserver package (`make install-run`, or pip install -e "
            "'.[local]'); or set DATABASE_URL to a PostgreSQL of yours",
        )
    except Exception as e:
        fail(
            PROGRAM,
            f"could not start the embedded PostgreSQL in {data_dir} ({type(e).__name__}: {e}); "
            f"its log is {data_dir / 'log'}; or set DATABASE_URL to a PostgreSQL of yours",
        )
    try:
        return ensure_database(admin_url, DATABASE_NAME)
    except Exception as e:
        fail(PROGRAM, f"could not create the database {DATABASE_NAME!r} in the embedded PostgreSQL: {e}")


def _jwks_answers(url: str) -> bool:
    """The services start without the JWKS (an outage at the provider is /readyz's business), but on a
    developer's machine an address that does not answer is most likely a typo: say so, in one line."""
    try:
        status = httpx2.get(url, timeout=3.0).status_code
    except httpx2.HTTPError as e:
        reason = type(e).__name__
    else:
        if status == 200:
            return True
        reason = f"HTTP {status}"
    print(
        f"{PROGRAM}: warning: AUTH_JWKS_URL does not answer ({reason}); the gateway refuses tokens "
        "(503) and is not ready until it does",
        file=sys.stderr,
        flush=True,
    )
    return False


def _summary(
    settings: TaskServerSettings, gateway: GatewaySettings, database_url: str, embedded: bool
) -> None:
    mcp_url = f"{settings.public_url}/mcp"
    print()
    print(f"The chat page: {gateway.public_url}/")
    if settings.local_auth:
        user_id = settings.mcp_stdio_user_id
        token = LocalSigner.load_or_create(settings.data_dir).mint(user_id, ttl=timedelta(hours=12))
        print(f"\nA token for the user {user_id!r} (valid 12 hours; the page signs in without one):\n")
        print(f"export TOKEN={token}\n")
    else:
        user_id = None
        print("\nTokens come from your identity provider (AUTH_JWKS_URL is set).\n")
    where = "the embedded PostgreSQL, up while this runs" if embedded else "DATABASE_URL"
    print(f"The database ({where}):\n")
    print(f"DATABASE_URL={shlex.quote(redact(database_url))}\n")
    print(f"The task server (MCP): {mcp_url}")
    print(f"The API: {gateway.public_url}/api (docs: {gateway.public_url}/docs)")
    print(f"The assistant's model: {gateway.model_name}")
    if user_id is not None:
        print("\nChat with the assistant:\n")
        print(_chat_curl(gateway.public_url, user_id) + "\n")
        print("Or chat in this terminal (streams replies and shows tool calls):\n")
        print(f"{sys.executable} -m devtools.chat --url {gateway.public_url} --user {user_id}\n")
        print("Call the task server's tools directly over MCP:\n")
        print(_mcp_curl(mcp_url) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="start everything, print, stop, exit 0")
    args = parser.parse_args(argv)

    settings = load_or_exit(TaskServerSettings, PROGRAM)
    gateway = load_or_exit(GatewaySettings, PROGRAM)
    _check_ports(settings, gateway)
    # Without its keys the gateway is up but not ready (by design); then being up is enough to go on.
    gateway_probe = "/readyz"
    if gateway.auth_jwks_url and not _jwks_answers(gateway.auth_jwks_url):
        gateway_probe = "/healthz"
    env = dict(os.environ)
    embedded = not settings.database_url
    if settings.database_url:
        database_url = settings.database_url
    else:
        database_url = env["DATABASE_URL"] = _start_embedded(Path(settings.data_dir).resolve() / "postgres")
    env.setdefault("MCP_TASK_SERVER_URL", f"{settings.public_url}/mcp")

    children = [subprocess.Popen([sys.executable, "-m", "mcp_task_server"], env=env)]

    def stop(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C stops everything even when started from a shell that set SIGINT aside (`make run &` in a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupted = False
    try:
        wait_ready(f"{settings.public_url}/readyz", children[0], log="the line above")
        children.append(subprocess.Popen([sys.executable, "-m", "chat_gateway"], env=env))
        wait_ready(f"{gateway.public_url}{gateway_probe}", children[1], log="the line above")
        _summary(settings, gateway, database_url, embedded)
        if args.check:
            print("Everything answered (--check); stopping.", flush=True)
            return
        print("Press Ctrl-C to stop.", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        stopped = next(child for child in children if child.poll() is not None)
        raise SystemExit(f"{_name(stopped)} stopped unexpectedly; see the log above")
    except KeyboardInterrupt:
        interrupted = True
        print("\nStopping ...", flush=True)
    finally:
        _stop(children, interrupted=interrupted)


def _stop(children: list[subprocess.Popen[bytes]], *, interrupted: bool = True) -> None:
    """Stop each child once. Ctrl-C in a terminal has already sent SIGINT to the whole process group,
    and a second SIGINT makes uvicorn abandon its graceful shutdown, so give the children a moment to
    exit on their own and only then send SIGTERM (which uvicorn never escalates). Not interrupted (a
    failed start, --check), they are sent SIGINT: a graceful stop without the drain meant for balancers."""
    if interrupted:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(child.poll() is None for child in children):
            time.sleep(0.1)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if interrupted else signal.SIGINT)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    main()
