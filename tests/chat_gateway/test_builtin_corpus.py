"""Every line of the corpus through the real agent loop, MCP client and task server.

Each utterance is its own test: the user's tasks are set up, the conversation runs through `Runner.run`
with `BuiltinModel`, and the tool calls, the final tasks and the reply are checked (see harness.py).
"""

from __future__ import annotations

import pytest

from .corpus import Case, load_corpus
from .harness import TaskServerConnection, TimedBuiltinModel, check_case, run_case

CASES = load_corpus()


def test_the_corpus_has_at_least_250_distinct_utterances() -> None:
    assert len({case.id for case in CASES}) >= 250


@pytest.mark.parametrize("case", CASES, ids=[f"L{case.line}: {case.id}" for case in CASES])
async def test_utterance(case: Case, builtin_connection: TaskServerConnection) -> None:
    run = await run_case(case, builtin_connection, TimedBuiltinModel())
    problems = check_case(case, run)
    assert not problems, "\n".join(problems)
