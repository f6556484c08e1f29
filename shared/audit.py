"""Audit events: one structured record per security-relevant event, on the `audit` logger.

Authentication and authorisation failures, rate-limit rejections, confirmed bulk changes and undos. Each
record carries the event, the request id and the user id when known, and the event's facts (a reason
code, the token's key id and issuer): never the token, never chat text or task titles. With
`LOG_FORMAT=json` each is one JSON object per line with these as fields; as text, `audit <event> k=v...`.
The logger is held at INFO, so raising LOG_LEVEL to WARNING never drops an audit event.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import jwt

AUDIT: Final = logging.getLogger("audit")
AUDIT.setLevel(logging.INFO)
AUDIT_FIELD: Final = "audit"
_MAX_FIELD = 200


def audit(event: str, **fields: Any) -> None:
    facts = {key: _clean(value) for key, value in fields.items() if value is not None}
    shown = " ".join(f"{key}={value}" for key, value in facts.items())
    AUDIT.info(
        "audit %s%s", event, f" {shown}" if shown else "", extra={AUDIT_FIELD: {"event": event, **facts}}
    )


def token_facts(token: str) -> dict[str, Any]:
    """The key id and issuer a token claims, read without trusting it (it was just rejected), for the
    record; nothing else of it. Empty when it is not even a JWT."""
    facts: dict[str, Any] = {}
    try:
        facts["kid"] = jwt.get_unverified_header(token).get("kid")
        claims = jwt.decode(token, options={"verify_signature": False})
        facts["issuer"] = claims.get("iss")
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
        pass
    return {key: value for key, value in facts.items() if isinstance(value, str)}


def _clean(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        return value
    text = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in str(value))
    return text[:_MAX_FIELD]
