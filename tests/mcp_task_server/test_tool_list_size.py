"""A long tool list costs every LLM turn: the agent-facing list stays at 12 tools or fewer, and the
README states its size as it is (measured here, so the README cannot drift from it)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastmcp import Client

from chat_gateway.budget import estimate_tools
from chat_gateway.task_server import ToolCatalog

README = Path(__file__).resolve().parents[2] / "README.md"
# "tools/list for the agent: N tools, X KB as MCP clients see them, Y KB (about Z tokens) as a model does"
STATED = re.compile(
    r"tools/list` for the agent: (\d+) tools, ([\d.]+) KB as MCP clients see them,\s+"
    r"([\d.]+) KB \(about ([\d,]+) tokens\)\s+as a model does"
)


def _kb(tools: list[Any]) -> float:
    """The tools/list result's tools, as JSON: what an MCP client downloads (output schemas included)."""
    return len(json.dumps([tool.model_dump(mode="json", exclude_none=True) for tool in tools])) / 1024


def _model_kb(tools: list[Any]) -> float:
    """What a model is sent for each tool: its name, description and parameters."""
    return len(json.dumps([[tool.name, tool.description, tool.input_schema] for tool in tools])) / 1024


async def test_the_agent_tool_list_is_small_and_the_readme_says_how_small(alice: Client[Any]) -> None:
    everything = await alice.list_tools_mcp()
    tagged = [
        tool for tool in everything.tools if "tasks" in ((tool.meta or {}).get("fastmcp", {}).get("tags", []))
    ]
    assert 1 <= len(tagged) <= 12
    for_model = ToolCatalog(tagged).for_model
    measured = (len(tagged), _kb(tagged), _model_kb(for_model), estimate_tools(for_model))
    stated = STATED.search(README.read_text())
    assert stated, "the README must state the size of the agent's tools/list"
    count, client_kb, model_kb, tokens = (
        int(stated[1]),
        float(stated[2]),
        float(stated[3]),
        int(stated[4].replace(",", "")),
    )
    assert count == measured[0]
    for said, actual in ((client_kb, measured[1]), (model_kb, measured[2]), (tokens, measured[3])):
        assert abs(said - actual) <= 0.1 * actual, (stated[0], measured)
