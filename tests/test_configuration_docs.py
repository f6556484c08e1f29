"""The documented configuration is the real one: every setting either service reads appears in
.env.example and in the README's one configuration table, and nothing documented is unknown to the code or
to docker-compose.yml. The README's links into docs/ (and the docs' links) lead somewhere."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from chat_gateway.settings import GatewaySettings
from mcp_task_server.settings import TaskServerSettings
from tests.chat_gateway.corpus import load_corpus
from tests.support.processes import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
_VARIABLE_LINE = re.compile(r"^#? ?([A-Z][A-Z0-9_]+)=", flags=re.MULTILINE)
_NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", flags=re.MULTILINE | re.DOTALL)


def _setting_names() -> set[str]:
    return {name.upper() for model in (TaskServerSettings, GatewaySettings) for name in model.model_fields}


def _compose_names() -> set[str]:
    """Every variable docker-compose.yml interpolates (`${NAME}`, `${NAME:-default}`, `${NAME:?error}`)."""
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))


def _section(markdown: str, heading: str) -> list[str]:
    """The lines under `## heading`, up to the next heading of the same level."""
    lines = markdown.splitlines()
    start = lines.index(f"## {heading}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def _cells(row: str) -> list[str]:
    assert row.startswith("|"), row
    assert row.endswith("|"), row
    return [cell.strip() for cell in row[1:-1].split("|")]


def _configuration_table() -> list[list[str]]:
    """The configuration section's table, as rows of cells; fails unless it is exactly one table."""
    section = _section(README.read_text(encoding="utf-8"), "Configuration")
    at = [i for i, line in enumerate(section) if line.startswith("|")]
    assert at, "the Configuration section has no table"
    assert at == list(range(at[0], at[0] + len(at))), (
        "the configuration table is split (a blank or other line between its rows renders the rest as text)"
    )
    header, separator, *rows = (section[i] for i in at)
    assert _cells(header) == ["variable", "service", "default", "meaning"]
    assert all(re.fullmatch(r":?-{3,}:?", cell) for cell in _cells(separator)), separator
    assert len(_cells(separator)) == 4
    parsed = [_cells(row) for row in rows]
    for row, cells in zip(rows, parsed, strict=True):
        assert len(cells) == 4, f"not four cells: {row}"
    return parsed


def _table_names() -> set[str]:
    return {name for cells in _configuration_table() for name in _NAME.findall(cells[0])}


def test_env_example_lists_every_setting_and_compose_variable_and_nothing_else() -> None:
    documented = set(_VARIABLE_LINE.findall((ROOT / ".env.example").read_text()))
    assert documented == _setting_names() | _compose_names()


def test_every_variable_in_env_example_has_a_comment_of_its_own() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for previous, line in itertools.pairwise(lines):
        if _VARIABLE_LINE.match(line):
            assert previous.startswith("# "), line
            assert not _VARIABLE_LINE.match(previous), f"{line} shares the comment above {previous}"


def test_the_readme_configuration_is_one_markdown_table() -> None:
    rows = _configuration_table()
    assert len(rows) >= len(_setting_names()) // 2  # Pairs such as HOST / PORT share a row.
    assert all(_NAME.findall(cells[0]) for cells in rows), "every row names its variables in backticks"
    assert all(cells[1] and cells[2] and cells[3] for cells in rows), "service, default and meaning"


def test_the_readme_table_names_every_setting() -> None:
    assert sorted(_setting_names() - _table_names()) == []


def test_the_readme_table_names_only_variables_the_services_or_compose_read() -> None:
    assert sorted(_table_names() - _setting_names() - _compose_names()) == []


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(match) for match in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def _relative_links(path: Path) -> list[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return [link for link in _LINK.findall(text) if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize(
    "page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda path: str(path.relative_to(ROOT))
)
def test_relative_links_resolve_to_files_and_headings(page: Path) -> None:
    links = _relative_links(page)
    assert links or page != README
    for link in links:
        target, _, anchor = link.partition("#")
        resolved = (page.parent / target).resolve() if target else page
        assert resolved.is_file(), f"{page.name}: {link} leads nowhere"
        if anchor:
            assert anchor in _anchors(resolved), f"{page.name}: {link}: no such heading"


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in _relative_links(README)}
    assert sorted(p.name for p in DOCS.glob("*.md") if p.resolve() not in linked) == []


def test_the_readme_understates_the_builtin_corpus() -> None:
    stated = re.search(r"more than (\d+) test cases", README.read_text(encoding="utf-8"))
    assert stated, "the README states how many corpus cases check the builtin model"
    assert len(load_corpus()) > int(stated[1])
