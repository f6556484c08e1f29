"""What every boundary accepts as text and as an id: the limits of PostgreSQL and of JSON, made explicit.

PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate (which JSON can carry as `\\ud800`) cannot be
encoded as UTF-8, so either would otherwise fail deep in the driver as an internal error. Ids are bigint.
Use these types for every text field and id a client sends; pydantic then rejects the value with a
message that names the field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt

BIGINT_MAX = 2**63 - 1


def check_storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (it contains a lone surrogate)") from None
    return value


# Text that PostgreSQL can store. Add length limits with Field() beside it.
StorableText = Annotated[str, AfterValidator(check_storable)]
# A positive bigint id; a bool or a string is refused (strict), not read as 1.
Id = Annotated[StrictInt, Field(gt=0, le=BIGINT_MAX)]
