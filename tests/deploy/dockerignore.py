"""The build context Docker would send: the repository minus what .dockerignore excludes.

The rules follow BuildKit's reader and moby's pattern matcher: each line is cleaned like a path (a
leading `/` dropped), `*` and `?` stay inside one path segment, `**` spans any number of them, a `!`
line re-includes, the last matching line wins, and a pattern that matches a parent folder matches
everything inside it.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Rule:
    text: str
    regex: re.Pattern[str]
    include: bool


def _compile(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
            out.append(".*" if i == len(pattern) else "(.*/)?")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char in "[]":
            out.append(char)
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def read_rules(path: Path) -> list[_Rule]:
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = posixpath.normpath(line[1:].strip() if include else line).lstrip("/") or "."
        rules.append(_Rule(pattern, _compile(pattern), include))
    return rules


def excluded(relative: str, rules: list[_Rule]) -> bool:
    parents = relative.split("/")[:-1]
    prefixes = ["/".join(parents[: i + 1]) for i in range(len(parents))]
    matched = False
    for rule in rules:
        # An exclusion only matters while the path is included, a re-inclusion only once excluded.
        if rule.include != matched:
            continue
        if rule.regex.match(relative) or any(rule.regex.match(prefix) for prefix in prefixes):
            matched = not rule.include
    return matched


def context_files(root: Path) -> list[str]:
    """Every file of the build context, as paths relative to `root` with `/` separators."""
    rules = read_rules(root / ".dockerignore")
    reincluded = [rule.text for rule in rules if rule.include]

    def walk_into(directory: str) -> bool:
        # An excluded folder is skipped unless a `!` line could re-include something inside it.
        return not excluded(directory, rules) or any(
            text.startswith((directory + "/", "*", "?", "[")) for text in reincluded
        )

    files: list[str] = []
    for folder, dirs, names in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        dirs[:] = sorted(name for name in dirs if walk_into(prefix + name))
        files.extend(prefix + name for name in sorted(names) if not excluded(prefix + name, rules))
    return files
