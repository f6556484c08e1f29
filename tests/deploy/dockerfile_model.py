"""The Dockerfile as BuildKit's parser reads it, with the build semantics the tests need on top.

The parser (PyPI `dockerfile`, the official Go parser) splits instructions, flags and JSON forms; this
module adds what a build does with them: stages and the `FROM <stage>` chain, ARG defaults in `FROM`,
ENV accumulation with variable expansion, and which USER, HEALTHCHECK and ENTRYPOINT a target ends up
with. Nothing here copies a command out of the Dockerfile: the tests read every one of them from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.tools import dockerfile_parser

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?P<op>:[-+])?(?P<word>[^}]*)\}|(?P<bare>[A-Za-z_]\w*))"
)


@dataclass(frozen=True)
class Instruction:
    cmd: str
    flags: tuple[str, ...]
    value: tuple[str, ...]
    json: bool
    line: int


@dataclass
class Stage:
    name: str | None
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, cmd: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.cmd == cmd]


def expand(word: str, env: Mapping[str, str]) -> str:
    """One ENV/ARG/FROM word the way BuildKit reads it: `$X`, `${X}`, `${X:-d}` and `${X:+a}` are
    substituted, then shell-style double or single quotes around the word are removed."""

    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        value = env.get(name, "")
        if match["op"] == ":-":
            return value or expand(match["word"], env)
        if match["op"] == ":+":
            return expand(match["word"], env) if value else ""
        return value

    if len(word) >= 2 and word[0] == word[-1] == "'":
        return word[1:-1]
    if len(word) >= 2 and word[0] == word[-1] == '"':
        word = word[1:-1]
    return _VARIABLE.sub(substitute, word)


class Dockerfile:
    def __init__(self, path: Path) -> None:
        parser = dockerfile_parser()
        self.global_args: dict[str, str] = {}
        self.stages: list[Stage] = []
        for command in parser.parse_file(str(path)):
            instruction = Instruction(
                cmd=str(command.cmd).upper(),
                flags=tuple(command.flags),
                value=tuple(command.value),
                json=bool(command.json),
                line=int(command.start_line),
            )
            if instruction.cmd == "FROM":
                base, *alias = instruction.value
                name = alias[1] if len(alias) == 2 and alias[0].upper() == "AS" else None
                self.stages.append(Stage(name, base))
            elif not self.stages and instruction.cmd == "ARG":
                key, _, default = instruction.value[0].partition("=")
                self.global_args[key] = expand(default, {})
            elif self.stages:
                self.stages[-1].instructions.append(instruction)

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage named {name!r}")

    def chain(self, name: str) -> list[Stage]:
        """The stage and the stages it is built `FROM`, outermost base first."""
        stages = [self.stage(name)]
        names = {stage.name for stage in self.stages}
        while stages[0].base in names:
            stages.insert(0, self.stage(stages[0].base))
        return stages

    def base_image(self, name: str) -> str:
        """The external image a stage starts from, with the global ARG defaults substituted."""
        return expand(self.chain(name)[0].base, self.global_args)

    def instructions(self, name: str) -> list[Instruction]:
        return [instruction for stage in self.chain(name) for instruction in stage.instructions]

    def env(
        self, name: str, base: Mapping[str, str], overrides: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The environment of a container of stage `name`, starting from the base image's `base`.

        `overrides` pin variables whatever ENV says (the tests point VIRTUAL_ENV at their own venv), and
        later ENV lines expand against the pinned value, as PATH="${VIRTUAL_ENV}/bin:${PATH}" does.
        """
        env = dict(base)
        pinned = dict(overrides or {})
        for instruction in self.instructions(name):
            if instruction.cmd != "ENV":
                continue
            pairs = instruction.value
            for key, raw in zip(pairs[::2], pairs[1::2], strict=True):
                env[key] = pinned.get(key, expand(raw, env))
        return env

    def env_names(self, name: str, *, own_only: bool = False) -> set[str]:
        stages = [self.stage(name)] if own_only else self.chain(name)
        names: set[str] = set()
        for stage in stages:
            for instruction in stage.all("ENV"):
                names.update(instruction.value[::2])
        return names

    def last(self, name: str, cmd: str) -> Instruction | None:
        found = [instruction for instruction in self.instructions(name) if instruction.cmd == cmd]
        return found[-1] if found else None

    def user(self, name: str) -> str | None:
        instruction = self.last(name, "USER")
        return instruction.value[0] if instruction else None

    def healthcheck(self, name: str) -> list[str] | None:
        """The probe as Docker runs it: an exec-form argv, or a shell form through /bin/sh -c."""
        instruction = self.last(name, "HEALTHCHECK")
        if instruction is None or instruction.value[0].upper() == "NONE":
            return None
        return _argv(instruction.value[1:], instruction.json)

    def command(self, name: str) -> list[str]:
        """What a container of the stage runs: ENTRYPOINT followed by CMD, as Docker combines them."""
        entrypoint = self.last(name, "ENTRYPOINT")
        cmd = self.last(name, "CMD")
        argv = _argv(entrypoint.value, entrypoint.json) if entrypoint else []
        # CMD only supplies arguments when it comes after the ENTRYPOINT (an ENTRYPOINT resets it).
        if cmd and (entrypoint is None or cmd.line > entrypoint.line):
            argv += _argv(cmd.value, cmd.json)
        return argv


def _argv(value: tuple[str, ...], json_form: bool) -> list[str]:
    return list(value) if json_form else ["/bin/sh", "-c", " ".join(value)]
