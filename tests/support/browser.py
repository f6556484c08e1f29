"""A real browser for the web page's tests: Debian's `chromium`, driven by Playwright's Python library.

Playwright's own browser download is never used (it cannot be reached from every machine that runs the
tests); `executable_path` points it at the system's Chromium instead. When Chromium is missing and the
tests run as root with apt-get, it is installed (`apt-get install -y chromium`, after an `apt-get
update` if the first try fails). Where neither is possible, the test is skipped with what to do, except
under CI=true, where a missing browser is a broken install that must fail, not pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
INSTALL_TIMEOUT = 600


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true"}:
        pytest.fail(f"{reason} (CI=true, so a missing browser fails instead of skipping)")
    pytest.skip(reason)


def _found() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def _apt_install() -> str:
    """Install Debian's chromium; returns what went wrong, or "" when it worked."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    for command in (install, ["apt-get", "update"], install):
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{' '.join(command)} failed: {e}"
        if done.returncode == 0 and command is install and _found():
            return ""
    return f"apt-get could not install chromium: {done.stderr.strip()[-500:]}"


def chromium_path() -> str:
    """Where Debian's Chromium is, installing it first if it is missing and this process may."""
    found = _found()
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        problem = _apt_install()
        found = _found()
        if found:
            return found
        _missing(problem)
    _missing("Chromium is not installed: `sudo apt-get install chromium` (Debian/Ubuntu)")
    raise AssertionError("unreachable")


def require_playwright() -> None:
    """Playwright's library is a dev dependency (`pip install -e .[dev]`)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Playwright is not installed: `pip install -e '.[dev]'` (or `pip install playwright`)")
