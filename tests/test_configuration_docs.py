"""The documented configuration is the real one: every setting either service reads appears in
.env.example and in the README's table, and nothing documented is unknown to the code."""

from __future__ import annotations

import re

from chat_gateway.settings import GatewaySettings
from mcp_task_server.settings import TaskServerSettings
from tests.support.processes import ROOT


def _setting_names() -> set[str]:
    return {name.upper() for model in (TaskServerSettings, GatewaySettings) for name in model.model_fields}


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert documented == _setting_names()


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in _setting_names() if f"`{name}`" not in readme)
    assert missing == []
