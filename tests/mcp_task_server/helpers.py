"""Small helpers for reading tool results in tests."""

from __future__ import annotations

from typing import Any

from fastmcp import Client

from shared.schemas import ERROR_META_KEY


async def call_ok(client: Client[Any], tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client[Any], tool: str, **arguments: Any) -> tuple[str, str]:
    """(code, message) of a call that must fail as an MCP tool error."""
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert result.is_error, result.structured_content
    assert result.structured_content is None
    assert result.meta is not None
    error = result.meta[ERROR_META_KEY]
    text = result.content[0].text  # type: ignore[union-attr]
    assert text == error["message"]
    return error["code"], error["message"]
