"""schemathesis against the gateway's own OpenAPI document, on the real gateway and task server over
loopback: whatever it generates (valid requests and deliberately invalid ones), no answer is a 5xx, every
status is documented, and every body and header matches the document.

The budget is small and derandomized in `make test`; `make fuzz` raises it (FUZZ_EXAMPLES) and lets
hypothesis pick new inputs each run.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi import checks as openapi_checks

from tests.support.gateway_fixtures import auth
from tests.support.processes import Service

FUZZ_USER = "fuzz-user"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM", "") != "1"

CHECKS: list[CheckFunction] = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


def _operations(gateway: Service) -> list[schemathesis.APIOperation[Any, Any, Any, Any]]:
    schema = schemathesis.openapi.from_url(f"{gateway.base_url}/openapi.json")
    schema.config.base_url = gateway.base_url
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def _fuzz(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    failures: Counter[str],
    *,
    any_user: bool = False,
    foreign_statuses: Counter[int] | None = None,
) -> int:
    """Run one operation's budget; record each distinct failure (without shrinking, to count them all).
    `any_user`: the path's user id is generated too, while the token stays FUZZ_USER's, so nearly every
    case is someone else's path: none may succeed."""
    calls = 0
    path_parameters = {"user_id": FUZZ_USER} if "{user_id}" in operation.path and not any_user else None
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters=path_parameters, headers=auth(FUZZ_USER)
    )

    @settings(
        max_examples=EXAMPLES,
        derandomize=DERANDOMIZE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case[Any]) -> None:
        nonlocal calls
        calls += 1
        response = case.call(timeout=30)
        foreign = any_user and (case.path_parameters or {}).get("user_id") != FUZZ_USER
        if foreign and foreign_statuses is not None:
            foreign_statuses[response.status_code] += 1
        if foreign and response.status_code < 400:
            failures[f"{operation.label}: {response.status_code} on another user's path"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except* Exception as group:
            for error in group.exceptions:
                for found in error.exceptions if isinstance(error, BaseExceptionGroup) else [error]:
                    title = type(found).__name__ + ": " + " ".join(str(found).split())[:200]
                    failures[f"{operation.label} [{mode.value}] {response.status_code}: {title}"] += 1

    run()
    return calls


@pytest.mark.timeout(120 + EXAMPLES * 6)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_openapi_fuzz_finds_no_server_error_and_no_schema_violation(
    gateway: Service, clean_db: str, mode: GenerationMode
) -> None:
    failures: Counter[str] = Counter()
    started = time.monotonic()
    operations = _operations(gateway)
    if mode is GenerationMode.NEGATIVE:
        # An operation that takes nothing has no invalid form: /healthz and /readyz.
        operations = [op for op in operations if op.path_parameters or op.query or op.body]
    calls = sum(_fuzz(operation, mode, failures) for operation in operations)
    elapsed = time.monotonic() - started
    print(f"schemathesis {mode.value}: {calls} requests in {elapsed:.1f} s")
    report: dict[str, Any] = dict(failures.most_common())
    assert not report, "\n".join(f"{count}x {title}" for title, count in report.items())


@pytest.mark.timeout(120 + EXAMPLES * 6)
def test_openapi_fuzz_on_other_users_paths_is_always_refused(gateway: Service, clean_db: str) -> None:
    failures: Counter[str] = Counter()
    operations = [op for op in _operations(gateway) if "{user_id}" in op.path]
    statuses: Counter[int] = Counter()
    calls = sum(
        _fuzz(op, GenerationMode.POSITIVE, failures, any_user=True, foreign_statuses=statuses)
        for op in operations
    )
    print(f"schemathesis, any user: {calls} requests, on other users' paths: {dict(statuses)}")
    # The generated paths really were other users' (so the test can fail), and they were refused.
    assert statuses.total() >= calls // 2
    assert statuses[403] >= calls // 4
    report: dict[str, Any] = dict(failures.most_common())
    assert not report, "\n".join(f"{count}x {title}" for title, count in report.items())


def test_every_generated_operation_is_covered(gateway: Service) -> None:
    """The fuzz loop covers what the document declares: the chat routes, the reads, and the probes."""
    labels = {operation.label for operation in _operations(gateway)}
    assert {
        "POST /api/{user_id}/chat",
        "POST /api/{user_id}/chat/stream",
        "GET /api/{user_id}/conversations",
        "GET /api/{user_id}/conversations/{conversation_id}/messages",
        "GET /healthz",
        "GET /readyz",
    } <= labels
