"""The errors a due text can raise, and the internal reason a recognised phrase is refused."""

from __future__ import annotations


class DueParseError(ValueError):
    """A due text that cannot be read. The message names the text and says what works."""


class InvalidZone(DueParseError):
    """A time zone that is not an IANA name. A DueParseError, so one `except` covers both."""


class Invalid(Exception):
    """A phrase was recognised but its values are wrong (e.g. "31 feb"); carries the reason."""
