"""Output schemas that are cheap for a client to check, meaning the same as pydantic's.

The official MCP SDK client checks every `structuredContent` against the tool's output schema with
`jsonschema`, on every call. Pydantic writes an optional field as `anyOf: [{...}, {"type": "null"}]`,
and a page of 20 tasks then holds a hundred `anyOf`s, each tried branch by branch: checking a
`list_tasks` page cost the client ~8 ms, more than the whole call on the server. `compact` rewrites each
such `anyOf` as one schema whose `type` lists "null" (an equivalent JSON Schema), inlines `$ref`s (which
FastMCP would do anyway) and drops pydantic's generated `title`s; descriptions stay. The check then costs
about half (bench/__main__.py measures the SDK client on each tool).
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as an equivalent one without `$ref`s, generated titles or `anyOf` with null."""
    result = _rewrite(schema, schema.get("$defs", {}))
    assert isinstance(result, dict)
    return result


def _rewrite(node: Any, defs: dict[str, Any], *, is_properties: bool = False) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if is_properties:  # Property names are data, not keywords: a property may be called "title".
        return {name: _rewrite(value, defs) for name, value in node.items()}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
        return _rewrite(defs[ref.removeprefix("#/$defs/")], defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs" or (key == "title" and isinstance(value, str)):
            continue
        out[key] = _rewrite(value, defs, is_properties=key == "properties")
    return _nullable(out)


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """`{"anyOf": [S, {"type": "null"}], ...}` as S with "null" among its types, when S names one type
    and nothing in it would also accept null (an `enum` or `const` gets None added)."""
    branches = node.get("anyOf")
    if not (isinstance(branches, list) and len(branches) == 2 and _NULL in branches):
        return node
    other = branches[0] if branches[1] == _NULL else branches[1]
    kind = other.get("type")
    if not isinstance(kind, str) or kind == "null" or {"anyOf", "oneOf", "allOf", "not"} & other.keys():
        return node
    if set(other) & set(node) - {"anyOf"}:
        return node  # Keywords on both levels (a description on each): leave as pydantic wrote it.
    merged = {**other, "type": [kind, "null"]}
    if "enum" in merged:
        merged["enum"] = [*merged["enum"], None]
    if "const" in merged:
        merged = {**{k: v for k, v in merged.items() if k != "const"}, "enum": [merged["const"], None]}
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    return {**merged, **rest}
