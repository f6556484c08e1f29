"""Run the third-party MCP clients in node_modules (`npm ci`) the way a user runs them from a shell.

Both clients keep state under `$HOME` (the Inspector in `~/.mcp-inspector`, mcp-remote in `~/.mcp-auth`),
so every run gets a scratch home: a test must neither read a developer's stored OAuth tokens nor leave
files behind in their home.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastmcp.client.transports import StdioTransport

from tests.support.processes import ROOT

NODE_BIN = ROOT / "node_modules" / ".bin"
INSPECTOR = NODE_BIN / "inspector"
MCP_REMOTE = NODE_BIN / "mcp-remote"

# Each client run takes well under two seconds here; the bound only turns a hang into a failure.
CLIENT_TIMEOUT = 30.0


def requires(tool: Path) -> pytest.MarkDecorator:
    """Skip when the Node client is not installed, saying how to install it; never under CI=true, where
    a missing client is a broken install that must fail rather than pass silently."""
    reason = ""
    if shutil.which("node") is None:
        reason = "Node.js is not on PATH: install Node 20 or newer, then run `npm ci` in the repository root"
    elif not tool.exists():
        reason = f"{tool.relative_to(ROOT)} is missing: run `npm ci` in the repository root"
    return pytest.mark.skipif(bool(reason) and os.environ.get("CI") != "true", reason=reason)


@dataclass(frozen=True)
class ClientRun:
    """What a user sees after one run of the Inspector CLI with `--format json`."""

    returncode: int
    stdout: str
    stderr: str

    def result(self, *, tool_error: bool = False) -> dict[str, Any]:
        """The MCP result the CLI prints as `{"result": ...}` on stdout. A tool that answered with
        `isError` still prints its result, but the CLI then exits 5 (`tool_is_error`)."""
        assert self.returncode == (5 if tool_error else 0), self.describe()
        envelope = json.loads(self.stdout)
        assert isinstance(envelope, dict), self.describe()
        result = envelope["result"]
        assert isinstance(result, dict), self.describe()
        return result

    def error(self) -> dict[str, Any]:
        """The `{"code", "message"}` of a failed run, from the error envelope the CLI writes last on stderr.

        Earlier stderr lines may be status lines or a stdio server's own logs, so only the last line that
        parses as an envelope counts.
        """
        assert self.returncode != 0, self.describe()
        for line in reversed(self.stderr.splitlines()):
            if not line.startswith("{"):
                continue
            try:
                envelope = json.loads(line)
            except json.JSONDecodeError:
                continue
            error = envelope.get("error") if isinstance(envelope, dict) else None
            if isinstance(error, dict):
                return error
        raise AssertionError(f"no error envelope on stderr; {self.describe()}")

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def client_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A user's shell reduced to what the clients need: PATH (to find `node`) and a scratch HOME."""
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home), **(extra or {})}


def run_inspector(args: Sequence[str], *, home: Path, timeout: float = CLIENT_TIMEOUT) -> ClientRun:
    """`inspector --cli --format json ARGS`, with no terminal on stdin so it can never wait for a human."""
    try:
        completed = subprocess.run(
            [str(INSPECTOR), "--cli", "--format", "json", *args],
            cwd=home,
            env=client_env(home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"the Inspector CLI did not finish within {timeout} s; stderr:\n{e.stderr!r}"
        ) from e
    return ClientRun(completed.returncode, completed.stdout, completed.stderr)


def inspect_http(url: str, token: str, *args: str, home: Path) -> ClientRun:
    """The Inspector against a streamable HTTP server with a bearer token.

    `--stored-auth-only` makes a rejected token fail at once with `auth_required` instead of starting an
    interactive OAuth flow. `--header` takes several values, so the URL must come before it.
    """
    return run_inspector(
        [
            url,
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {token}",
            "--stored-auth-only",
            *args,
        ],
        home=home,
    )


def inspect_stdio(command: Sequence[str], env: Mapping[str, str], *args: str, home: Path) -> ClientRun:
    """The Inspector launching a stdio server; `-e` is the only way the server gets variables.

    The Inspector does not pass its own environment on to the server (only a safe default set such as
    PATH and HOME), just as Claude Desktop passes only its config's `env`. The command goes after `--`
    so that its own flags (`--stdio`) are not read as the Inspector's.
    """
    variables = [part for key, value in env.items() for part in ("-e", f"{key}={value}")]
    return run_inspector([*variables, *args, "--", *command], home=home)


def mcp_remote_transport(url: str, token: str, *, home: Path, log_file: Path) -> StdioTransport:
    """The stdio server Claude Desktop runs for `npx mcp-remote URL --header "Authorization:${AUTH_HEADER}"`.

    mcp-remote itself substitutes `${AUTH_HEADER}` from its environment (Claude Desktop runs no shell),
    which is why the header has no space after the colon and the token lives in `env`.
    """
    return StdioTransport(
        command=str(MCP_REMOTE),
        args=[url, "--header", "Authorization:${AUTH_HEADER}"],
        env={"AUTH_HEADER": f"Bearer {token}", "HOME": str(home)},
        cwd=str(home),
        # A new bridge per client, stopped when the client closes, as Claude Desktop does per session.
        keep_alive=False,
        log_file=log_file,
    )
