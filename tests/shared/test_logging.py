"""The last filter of the log: whatever still looks like a credential is masked, the rest is kept."""

from __future__ import annotations

import logging

import pytest

from shared.logging import configure_logging, redact


@pytest.mark.parametrize(
    ("line", "kept", "gone"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]", "abc.def-ghi"),
        ("auth header basic YWRtaW46cHc=", "basic [redacted]", "YWRtaW46cHc="),
        ("token eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2ln rejected", "token [jwt] rejected", "c2ln"),
        ("postgresql://app:s3cret@db.example:5432/todo", "postgresql://app:[redacted]@db.example", "s3cret"),
        ("key sk-proj-abcdefgh1234", "sk-[redacted]", "abcdefgh1234"),
    ],
)
def test_redact_masks_credentials(line: str, kept: str, gone: str) -> None:
    cleaned = redact(line)
    assert kept in cleaned
    assert gone not in cleaned


def test_redact_keeps_ordinary_text() -> None:
    line = 'GET /api/u/conversations HTTP/1.1" 200 postgresql://db.example:5432/todo'
    assert redact(line) == line


def test_payload_loggers_stay_at_info_unless_sensitive(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        configure_logging("DEBUG")
        logging.getLogger("mcp.server.lowlevel").debug("Received message: %s", "my secret task")
        logging.getLogger("openai.agents").debug("model input %s", "chat text")
        logging.getLogger("chat_gateway.turns").debug("own debug line")
        configure_logging("DEBUG", sensitive=True)
        logging.getLogger("mcp.server.lowlevel").debug("sensitive on: %s", "visible")
    finally:
        configure_logging("INFO")
    err = capsys.readouterr().err
    assert "my secret task" not in err
    assert "chat text" not in err
    assert "own debug line" in err
    assert "sensitive on: visible" in err
