"""Output schemas are rewritten to be cheap for clients to check (output_schema.py); they must accept
exactly what pydantic's accept. Checked on every tool's schema with generated results: valid ones, and
each with one part broken."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastmcp.tools import FunctionTool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from mcp_task_server.output_schema import compact
from mcp_task_server.server import create_server
from mcp_task_server.settings import TaskServerSettings


def _listed() -> dict[str, Any]:
    mcp, _ = create_server(
        TaskServerSettings(database_url="postgresql://unused@127.0.0.1/unused"), stdio=True
    )
    return {tool.name: tool for tool in asyncio.run(mcp.list_tools())}


def _originals() -> dict[str, dict[str, Any] | None]:
    """Every tool's output schema as pydantic writes it (FastMCP's own, before compact)."""
    return {name: FunctionTool.from_function(tool.fn).output_schema for name, tool in _listed().items()}


ORIGINALS = {name: schema for name, schema in _originals().items() if schema is not None}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)


def instances(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema accepts, roughly: enough to reach every branch of every field."""
    if "$ref" in schema:
        return instances(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of([instances(branch, defs) for branch in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of([instances({**schema, "type": kind}, defs) for kind in kinds])
    if kinds == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: instances(sub, defs) for name, sub in properties.items() if name in required},
            optional={name: instances(sub, defs) for name, sub in properties.items() if name not in required},
        )
    if kinds == "array":
        return st.lists(instances(schema.get("items", {}), defs), max_size=2)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        "string": st.text(max_size=4),
        "integer": st.integers(-5, 5),
        "number": st.floats(allow_nan=False, allow_infinity=False),
        "boolean": st.booleans(),
        "null": st.none(),
    }
    return simple.get(kinds, JSON_VALUES)


def broken(value: Any, data: st.DataObject) -> Any:
    """`value` with one part replaced, removed or added."""
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        change = data.draw(st.sampled_from(["replace", "remove", "descend"]))
        if change == "remove":
            return {k: v for k, v in value.items() if k != key}
        if change == "descend":
            return {**value, key: broken(value[key], data)}
        return {**value, key: data.draw(JSON_VALUES)}
    if isinstance(value, list) and value and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], broken(value[index], data), *value[index + 1 :]]
    if isinstance(value, dict) and data.draw(st.booleans()):
        return {**value, data.draw(st.text(max_size=3)): data.draw(JSON_VALUES)}
    return data.draw(JSON_VALUES)


@pytest.mark.parametrize("tool", sorted(ORIGINALS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compact_schemas_accept_exactly_what_pydantic_s_accept(tool: str, data: st.DataObject) -> None:
    original = ORIGINALS[tool]
    rewritten = compact(original)
    check_original = validator_for(original)(original)
    check_rewritten = validator_for(rewritten)(rewritten)
    # Mostly valid (the generator ignores length limits and the like), then one part broken.
    value = data.draw(instances(original, original.get("$defs", {})))
    for candidate in (value, broken(value, data)):
        assert check_rewritten.is_valid(candidate) == check_original.is_valid(candidate), json.dumps(
            candidate
        )


def test_listed_output_schemas_are_compact() -> None:
    listed = {name: tool.output_schema for name, tool in _listed().items()}
    assert set(listed) >= {"add_task", "list_tasks", "start_turn", "save_thread_item"}
    for name, schema in listed.items():
        text = json.dumps(schema)
        assert '"$ref"' not in text, name
        assert '{"type": "null"}' not in text, name
        assert schema == compact(ORIGINALS[name]), name
