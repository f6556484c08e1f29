"""Opaque page cursors.

A cursor holds only a position (and, for tasks, the filter it was made for). Every query is scoped to
the caller, so a forged cursor can at most skip around the caller's own rows; it needs no signature.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from shared.validation import BIGINT_MAX

from .errors import InvalidArgument

_BAD_CURSOR = "The cursor is not valid. Call again without `cursor` to start from the first page."


def encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str, kind: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, RecursionError) as e:
        raise InvalidArgument(_BAD_CURSOR) from e
    if not isinstance(payload, dict) or payload.get("k") != kind:
        raise InvalidArgument(_BAD_CURSOR)
    return payload


def int_field(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    # Anything that is not a positive bigint would fail in PostgreSQL (out of range) instead of here.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= BIGINT_MAX:
        raise InvalidArgument(_BAD_CURSOR)
    return value


def datetime_field(payload: dict[str, Any], key: str) -> datetime:
    value = payload.get(key)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidArgument(_BAD_CURSOR)
    return parsed


def str_field(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise InvalidArgument(_BAD_CURSOR)
    return value
