"""What `/readyz` answers: ready while this replica can do a chat turn, and why not when it cannot.

Ready means: not draining (see shared.serve), the task server's own probe answers, and tokens can be
verified. Keys cached from the last successful JWKS fetch count, even while the JWKS endpoint is down,
until they are older than shared.auth.MAX_KEY_AGE; the body says how old they are and what went wrong last.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from shared.auth import KeySource, KeyStatus
from shared.serve import draining

from .metrics import observe_keys
from .task_server import TaskServerClient


def _keys_body(status: KeyStatus) -> dict[str, Any]:
    return {
        "usable": status.usable,
        "age_seconds": None if status.age_seconds is None else round(status.age_seconds, 1),
        "last_error": status.last_error,
        "consecutive_failures": status.consecutive_failures,
    }


async def readiness_response(tasks: TaskServerClient, keys: KeySource) -> JSONResponse:
    if draining():
        return JSONResponse(
            {"error": {"code": "draining", "message": "Shutting down: still serving, not taking work."}},
            status_code=503,
        )
    tasks_ready = await tasks.ready()
    keys_ready = await keys.ready()
    status = keys.status()
    observe_keys(status)
    checks = {"task_server": "ok" if tasks_ready else "unreachable", "jwks": _keys_body(status)}
    if tasks_ready and keys_ready:
        return JSONResponse({"status": "ready", "checks": checks})
    reasons = [
        reason
        for reason, ok in (
            ("the task server is unreachable", tasks_ready),
            ("no usable signing keys", keys_ready),
        )
        if not ok
    ]
    message = "Not ready: " + "; ".join(reasons) + "."
    # The one error shape, with what was checked beside the message.
    return JSONResponse(
        {"error": {"code": "unavailable", "message": message, "checks": checks}}, status_code=503
    )
