"""A real Better Auth server (`server.mjs` beside this file, run with Node from `node_modules`), and the
HTTP calls a frontend makes to it: sign a user up, then trade the session for a JWT.

The server holds its users and signing keys in memory, so every process is a separate identity provider
with its own keys: two of them given the same `BETTER_AUTH_URL` issue tokens that differ only in who
signed them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from tests.support.processes import ROOT, Service

SERVER_SCRIPT = Path(__file__).with_name("server.mjs")
BETTER_AUTH_PACKAGE = ROOT / "node_modules" / "better-auth" / "package.json"
PASSWORD = "correct horse battery staple"

# What a login shell gives Node: nothing of the test runner's environment (AUTH_*, DATABASE_URL) leaks in.
_PASSTHROUGH = ("PATH", "HOME", "LANG", "TMPDIR")


def missing_reason() -> str | None:
    """Why Better Auth cannot run here, phrased as what to do about it; None when it can."""
    if shutil.which("node") is None:
        return "Node.js is not on PATH: install Node 20 or newer, then run `npm ci` in the repository root"
    if not BETTER_AUTH_PACKAGE.exists():
        return "better-auth is not installed: run `npm ci` in the repository root"
    return None


@dataclass(frozen=True)
class Audiences:
    """The services Better Auth names in every token's `aud` (its `jwt.audience`), each of which checks
    for its own entry."""

    gateway: str
    task_server: str

    def both(self) -> list[str]:
        return [self.gateway, self.task_server]


@dataclass(frozen=True)
class User:
    """A Better Auth user: its id (the JWT's `sub`) and the session token the bearer plugin hands out."""

    id: str
    email: str
    session_token: str


@dataclass(frozen=True)
class SignedIn:
    """A user who has signed up and fetched a JWT, as the frontend holds them after sign-in."""

    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class BetterAuth:
    service: Service
    # The app's public URL: Better Auth's `baseURL`, the tokens' `iss` and the frontend's origin.
    url: str

    @property
    def jwks_url(self) -> str:
        return f"{self.service.base_url}/api/auth/jwks"

    def sign_up(self, http: httpx2.Client, name: str = "Test User") -> User:
        """`POST /api/auth/sign-up/email`, as the frontend's sign-up form does."""
        email = f"{uuid.uuid4().hex[:12]}@example.com"
        response = http.post(
            f"{self.service.base_url}/api/auth/sign-up/email",
            headers={"Origin": self.url},
            json={"email": email, "password": PASSWORD, "name": name},
        )
        assert response.status_code == 200, response.text
        # The bearer plugin answers with the session token in this header, for clients without cookies.
        return User(response.json()["user"]["id"], email, response.headers["set-auth-token"])

    def token(self, http: httpx2.Client, user: User) -> str:
        """`GET /api/auth/token` with the session as a bearer token: the JWT the services accept."""
        response = http.get(
            f"{self.service.base_url}/api/auth/token",
            headers={"Authorization": f"Bearer {user.session_token}"},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def sign_in(self, http: httpx2.Client, name: str = "Test User") -> SignedIn:
        """A new user with a fresh JWT."""
        user = self.sign_up(http, name)
        return SignedIn(user, self.token(http, user))

    def jwks(self, http: httpx2.Client) -> dict[str, Any]:
        response = http.get(self.jwks_url)
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def expire_signing_keys(self, http: httpx2.Client) -> None:
        """Make every signing key due for rotation, as `jwks.rotationInterval` elapsing would."""
        response = http.post(f"{self.service.base_url}/__test__/expire-signing-keys")
        assert response.status_code == 200, response.text


@contextmanager
def run_better_auth(
    *, port: int, audience: Sequence[str], log_path: Path, url: str | None = None
) -> Iterator[BetterAuth]:
    """Serve Better Auth on 127.0.0.1:`port`; `url` (default: that address) is its public base URL."""
    base_url = f"http://127.0.0.1:{port}"
    public_url = url or base_url
    env = {
        **{key: os.environ[key] for key in _PASSTHROUGH if key in os.environ},
        "BETTER_AUTH_URL": public_url,
        # A fresh secret per process: it encrypts the private keys, which never leave the process anyway.
        "BETTER_AUTH_SECRET": secrets.token_urlsafe(32),
        "JWT_AUDIENCE": ",".join(audience),
        "TEST_HOOKS": "1",
    }
    node = shutil.which("node")
    assert node is not None, missing_reason()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [node, str(SERVER_SCRIPT), str(port)],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    service = Service(process, base_url, log_path)
    try:
        _wait_ready(service)
        yield BetterAuth(service, public_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(service: Service, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"Better Auth exited with {service.process.returncode}:\n{service.log()}")
        try:
            if httpx2.get(f"{service.base_url}/api/auth/ok", timeout=1.0).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Better Auth did not become ready in {timeout}s:\n{service.log()}")
