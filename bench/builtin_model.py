"""Benchmark the builtin model: accuracy on the corpus and the model's own time per turn.

Runs every case of tests/chat_gateway/builtin_corpus.txt through the real agent loop against a real task
server (a fresh database on the test PostgreSQL, dropped afterwards), then prints the share of cases
that passed and how long the model itself spent per model call and per turn. That time is measured
inside `get_response`, which does no I/O, so it excludes the network and the task server.

Like a long-running server should, the benchmark freezes the start-up heap (`gc.freeze()`): without
that, a full collection of the agents SDK's and pydantic's objects takes ~150 ms, and when one happens
to start inside `get_response` it lands in the "max" column although it is not the model's work.

The "live" rows are measured during the run, where each call starts with CPU caches cooled by the
agent loop, the MCP client, the task server and PostgreSQL sharing the machine. The "replayed" rows
time the same recorded calls again afterwards, back to back: the model's cost with warm caches.

    .venv/bin/python -m bench.builtin_model
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from devtools.postgres import create_database, drop_database, server_for_tests
from mcp_task_server.migrate import upgrade
from shared.local_auth import LocalSigner
from tests.chat_gateway.corpus import CORPUS_PATH, Case, load_corpus
from tests.chat_gateway.harness import (
    TaskServerConnection,
    TimedBuiltinModel,
    TurnRecord,
    check_case,
    run_case,
    task_server,
)
from tests.support.processes import Service


async def _run_all(
    service: Service, signer: LocalSigner, cases: list[Case], model: TimedBuiltinModel
) -> tuple[dict[int, list[str]], list[TurnRecord]]:
    failures: dict[int, list[str]] = {}
    turns: list[TurnRecord] = []
    async with TaskServerConnection(service.base_url, signer) as connection:
        gc.freeze()  # The connection's long-lived objects too.
        for case in cases:
            run = await run_case(case, connection, model)
            turns += run.turns
            problems = check_case(case, run)
            if problems:
                failures[case.line] = problems
    return failures, turns


def _replay(model: TimedBuiltinModel) -> list[int]:
    """Each recorded call timed again, back to back, outside the agent loop."""
    timings: list[int] = []
    for recorded, tools in model.recorded:
        model_input = json.loads(recorded)
        started = time.perf_counter_ns()
        model.respond(model_input, tools)
        timings.append(time.perf_counter_ns() - started)
    return timings


def _percentiles(samples_ns: list[int]) -> tuple[float, float, float]:
    micros = sorted(ns / 1000 for ns in samples_ns)
    p95 = micros[min(len(micros) - 1, round(0.95 * (len(micros) - 1)))]
    return statistics.median(micros), p95, micros[-1]


def _accuracy_table(cases: list[Case], failures: dict[int, list[str]]) -> None:
    total, passed = (
        Counter(c.section for c in cases),
        Counter(c.section for c in cases if c.line not in failures),
    )
    width = max(len(section) for section in total) + 2
    print(f"Builtin model benchmark: {len(cases)} cases from {CORPUS_PATH.relative_to(Path.cwd())}\n")
    print(f"{'section':<{width}}{'cases':>7}{'passed':>8}")
    for section in total:
        print(f"{section:<{width}}{total[section]:>7}{passed[section]:>8}")
    accuracy = 100 * (len(cases) - len(failures)) / len(cases)
    print(f"{'total':<{width}}{len(cases):>7}{len(cases) - len(failures):>8}   accuracy {accuracy:.1f}%\n")


def _timing_table(live: list[int], replayed: list[int], turns: list[TurnRecord]) -> None:
    rows = [
        (f"live, per model call (n={len(live)})", live),
        (f"live, per turn (n={len(turns)})", [turn.model_ns for turn in turns]),
        ("replayed, per model call", replayed),
        ("replayed, per turn", [sum(replayed[i] for i in turn.model_calls) for turn in turns]),
    ]
    print(f"{'model time inside get_response (no I/O)':<44}{'p50':>10}{'p95':>10}{'max':>10}")
    for label, samples in rows:
        p50, p95, peak = _percentiles(samples)
        print(f"{label:<44}{p50:>8.0f}µs{p95:>8.0f}µs{peak:>8.0f}µs")


def main() -> int:
    cases = load_corpus()
    admin_url, _ = server_for_tests()
    name = f"bench_builtin_{uuid.uuid4().hex[:10]}"
    database_url = create_database(admin_url, name)
    model = TimedBuiltinModel(record=True)
    gc.freeze()
    try:
        upgrade(database_url)
        with tempfile.TemporaryDirectory() as scratch:
            data_dir = Path(scratch)
            with task_server(database_url, data_dir, data_dir / "task_server.log") as (service, signer):
                started = time.perf_counter()
                failures, turns = asyncio.run(_run_all(service, signer, cases, model))
                elapsed = time.perf_counter() - started
    finally:
        drop_database(admin_url, name)
    _accuracy_table(cases, failures)
    _timing_table(model.timings_ns, _replay(model), turns)
    print(f"\nwall time for the corpus, task server round trips included: {elapsed:.1f} s")
    for line, problems in failures.items():
        print(f"\nFAILED line {line}:\n  " + "\n  ".join(problems))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
