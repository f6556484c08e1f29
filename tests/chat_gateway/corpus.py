"""The builtin model's corpus: one line per case, read from `builtin_corpus.txt`.

A line is `utterance | initial tasks | expected calls | expected final tasks | reply mentions` (so no
field may contain a `|`):

- utterance: what the user says; earlier turns of the same conversation come first, joined by ` >> `.
- initial tasks: titles separated by `; `, a `[x] ` prefix marks a completed one; empty for none.
- expected calls: the last turn's tool calls in order, in Python call syntax separated by `; `
  (`list_tasks(); complete_task(task_id={1})`); only the arguments written are checked; empty for none.
- expected final tasks: like initial tasks, oldest first; `=` for "unchanged", empty or `-` for none.
- reply mentions (optional): text the reply must contain, case-insensitive, several joined by ` && `.

`{n}` anywhere stands for the id of the n-th initial task, `{missing}` for an id that does not exist.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS_PATH = Path(__file__).with_name("builtin_corpus.txt")
MISSING_ID = 999_999_999
_PLACEHOLDER = re.compile(r"\{(\d+|missing)\}")


@dataclass(frozen=True)
class ExpectedCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Case:
    line: int
    turns: tuple[str, ...]
    initial: tuple[tuple[str, bool], ...]
    calls: str
    final: str
    mentions: tuple[str, ...]
    section: str = ""

    @property
    def id(self) -> str:
        return " >> ".join(self.turns)

    def substitute(self, text: str, ids: list[int]) -> str:
        """Replace `{n}` by the real id of the n-th initial task (ids differ from run to run)."""

        def real(match: re.Match[str]) -> str:
            key = match.group(1)
            return str(MISSING_ID if key == "missing" else ids[int(key) - 1])

        return _PLACEHOLDER.sub(real, text)

    def expected_calls(self, ids: list[int]) -> list[ExpectedCall]:
        source = self.substitute(self.calls, ids).strip()
        if source in ("", "-"):
            return []
        calls: list[ExpectedCall] = []
        for statement in ast.parse(source).body:
            if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
                raise ValueError(f"line {self.line}: not a call: {ast.unparse(statement)}")
            call = statement.value
            if not isinstance(call.func, ast.Name) or call.args:
                raise ValueError(f"line {self.line}: write calls as name(key=value, ...)")
            arguments = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
            calls.append(ExpectedCall(call.func.id, arguments))
        return calls

    def expected_final(self) -> tuple[tuple[str, bool], ...]:
        text = self.final.strip()
        if text == "=":
            return self.initial
        return parse_tasks(text)


def parse_tasks(text: str) -> tuple[tuple[str, bool], ...]:
    if text.strip() in ("", "-"):
        return ()
    tasks: list[tuple[str, bool]] = []
    for item in text.split(";"):
        item = item.strip()
        done = item.startswith("[x] ")
        tasks.append((item[4:].strip() if done else item, done))
    return tuple(tasks)


def load_corpus(path: Path = CORPUS_PATH) -> list[Case]:
    cases: list[Case] = []
    section = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        heading = re.fullmatch(r"#\s*---\s*(.+?)\s*---\s*", raw.strip())
        if heading:
            section = heading.group(1)
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in raw.split("|")]
        if len(fields) < 4:
            fields += [""] * (4 - len(fields))
        utterance, initial, calls, final, *rest = fields
        mentions = tuple(m.strip() for m in rest[0].split("&&") if m.strip()) if rest else ()
        cases.append(
            Case(
                number,
                tuple(t.strip() for t in utterance.split(">>")),
                parse_tasks(initial),
                calls,
                final,
                mentions,
                section,
            )
        )
    return cases
