"""`make profile`: where a chat turn's CPU goes, in each service, under load.

Starts the services as `make bench` does, drives chat turns (one tool call each) at a fixed concurrency
for PROFILE_SECONDS (default 20) while py-spy samples both processes, then prints for each the functions
with the most samples: on their own ("self", the leaf of the stack) and with what they call ("total").
The raw stacks stay under PROFILE_DIR (default a temporary folder) for flame graphs:

    .venv/bin/python -m bench.profile            # py-spy needs ptrace: root, or ptrace_scope 0
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2

from bench.services import bench_services
from shared.local_auth import LocalSigner

SECONDS = float(os.environ.get("PROFILE_SECONDS", "20"))
CONCURRENCY = int(os.environ.get("PROFILE_CONCURRENCY", "8"))
# "chat" (POST /api/{user}/chat) or "chatkit" (a message on a ChatKit thread).
ENDPOINT = os.environ.get("PROFILE_ENDPOINT", "chat")
TOP = int(os.environ.get("PROFILE_TOP", "30"))
_FRAME = re.compile(r"(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def _frame_name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = re.sub(r".*site-packages/", "", match["file"])
    file = re.sub(r".*/(chat_gateway|mcp_task_server|shared)/", r"\1/", file)
    return f"{match['function']} ({file})"


def summarise(raw: Path, top: int = TOP) -> str:
    """py-spy's raw output (one collapsed stack and its count per line) as the top self and total rows."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame_name(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    if not samples:
        return "no samples"
    lines = [f"{samples} samples", "self:"]
    lines += [f"  {n / samples * 100:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("total:")
    lines += [f"  {n / samples * 100:5.1f}%  {name}" for name, n in total.most_common(top)]
    return "\n".join(lines)


async def load(gateway_url: str, signer: LocalSigner, seconds: float) -> int:
    users = [f"profile-{n}" for n in range(CONCURRENCY)]
    tokens = {user: signer.mint(user) for user in users}
    turns = 0
    deadline = time.perf_counter() + seconds
    async with httpx2.AsyncClient(base_url=gateway_url, timeout=30) as client:

        async def worker(user: str) -> None:
            nonlocal turns
            headers = {"Authorization": f"Bearer {tokens[user]}"}
            thread = ""
            if ENDPOINT == "chatkit":
                created = await client.post(f"/api/{user}/chat", json={"message": "hello"}, headers=headers)
                listed = await client.post(
                    "/chatkit", json={"type": "threads.list", "params": {"limit": 1}}, headers=headers
                )
                created.raise_for_status()
                thread = listed.json()["data"][0]["id"]
            while time.perf_counter() < deadline:
                if ENDPOINT == "chatkit":
                    response = await client.post("/chatkit", json=_chatkit_message(thread), headers=headers)
                else:
                    response = await client.post(
                        f"/api/{user}/chat", json={"message": "add buy eggs"}, headers=headers
                    )
                response.raise_for_status()
                turns += 1

        await asyncio.gather(*(worker(user) for user in users))
    return turns


def _chatkit_message(thread_id: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": "add buy eggs"}]
    return {
        "type": "threads.add_user_message",
        "params": {
            "thread_id": thread_id,
            "input": {"content": content, "attachments": [], "inference_options": {}},
        },
    }


def _spy_command(spy: str, pid: int, output: Path) -> list[str]:
    return [
        *(spy, "record", "--pid", str(pid), "--duration", str(int(SECONDS)), "--rate", "250"),
        *("--format", "raw", "--output", str(output), "--nonblocking", "--subprocesses"),
    ]


def main() -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = Path(os.environ.get("PROFILE_DIR") or tempfile.mkdtemp(prefix="profile-"))
    out.mkdir(parents=True, exist_ok=True)
    with bench_services() as (task_server, _, gateway, _, _, signer):
        asyncio.run(load(gateway.base_url, signer, 3))  # Warm up.
        spies = {
            name: subprocess.Popen(_spy_command(spy, service.process.pid, out / f"{name}.txt"))
            for name, service in (("gateway", gateway), ("task_server", task_server))
        }
        time.sleep(1.0)  # py-spy attaches.
        turns = asyncio.run(load(gateway.base_url, signer, SECONDS - 1.5))
        for process in spies.values():
            process.wait(timeout=60)
    print(f"{turns} chat turns at concurrency {CONCURRENCY}; stacks in {out}")
    for name in spies:
        print(f"\n== {name}")
        print(summarise(out / f"{name}.txt"))


if __name__ == "__main__":
    main()
