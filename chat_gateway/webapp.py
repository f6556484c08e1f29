"""The web chat page at `/`: static HTML, CSS and ES modules from `web/`, no build step and no CDN.

The page talks to the same API as any client (`/api/{user_id}/...` with a bearer token). How it gets
the token depends on the deployment, which `GET /web/config` tells it:

- local development mode (no AUTH_JWKS_URL): `POST /dev/session` mints a token for the demo user with
  the local key in DATA_DIR. That route exists only in this mode and answers only a browser on this
  machine (see `dev_session_allowed`); anything else gets the same 404 as an unknown path.
- WEB_AUTH_URL set: email and password sign-in against that Better Auth (from the browser);
- otherwise the page asks for a token obtained elsewhere.
None of these routes is in the OpenAPI document: they serve the page, not API clients.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from shared.local_auth import DEMO_USER_ID, LocalSigner
from shared.settings import is_loopback_host

from .settings import GatewaySettings

WEB_DIR: Final = Path(__file__).with_name("web")
# The demo user's token from /dev/session: a working day, like the one `make run` prints.
DEV_SESSION_TTL: Final = timedelta(hours=12)

AuthMode = Literal["local", "better_auth", "token"]


class _Assets(StaticFiles):
    """The page's scripts and styles: cached, but checked (ETag) on each load, so upgrades show at once."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def auth_mode(settings: GatewaySettings) -> AuthMode:
    if settings.local_auth:
        return "local"
    return "better_auth" if settings.web_auth_url else "token"


def page_csp(settings: GatewaySettings) -> str:
    """Scripts, styles and requests from this origin only (plus Better Auth's, when the page signs in
    there); no inline script or style, no frames, no plugins, forms post nowhere."""
    connect = "'self'"
    if auth_mode(settings) == "better_auth" and settings.web_auth_url:
        parts = urlsplit(settings.web_auth_url)
        connect += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def _hostname(authority: str) -> str:
    """The host of a Host header or an origin's authority: `[::1]:8000` -> `::1`."""
    try:
        return urlsplit(f"//{authority}").hostname or ""
    except ValueError:
        return ""


def dev_session_allowed(client_host: str | None, host_header: str | None, origin: str | None) -> bool:
    """Whether `/dev/session` may answer: only a browser on this machine, talking to it by a loopback name.

    - The client address must be loopback. uvicorn replaces it with X-Forwarded-For only when the proxy
      itself connects from 127.0.0.1 (FORWARDED_ALLOW_IPS), so a remote client cannot claim loopback by
      that header, and a proxy on this machine that forwards remote clients makes them non-loopback.
    - The Host header must name a loopback host, so a web page whose domain was re-pointed at 127.0.0.1
      (DNS rebinding) cannot fetch a token through its own origin.
    - An Origin, when the browser sends one, must be a loopback origin too.
    """
    if not client_host or not is_loopback_host(client_host):
        return False
    if not host_header or not is_loopback_host(_hostname(host_header)):
        return False
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and is_loopback_host(_hostname(parts.netloc))


def add_web_routes(app: FastAPI, settings: GatewaySettings) -> None:
    page_headers = {"Content-Security-Policy": page_csp(settings), "Cache-Control": "no-cache"}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=page_headers)

    @app.get("/web/config", include_in_schema=False)
    async def web_config() -> dict[str, Any]:
        mode = auth_mode(settings)
        return {
            "auth": mode,
            "auth_url": settings.web_auth_url if mode == "better_auth" else None,
            "message_max_chars": settings.message_max_chars,
        }

    if settings.local_auth:
        signers: list[LocalSigner] = []

        @app.post("/dev/session", include_in_schema=False)
        async def dev_session(request: Request) -> JSONResponse:
            client = request.client.host if request.client else None
            if not dev_session_allowed(client, request.headers.get("host"), request.headers.get("origin")):
                # The very answer an unknown path gets: nothing tells a remote caller the route exists.
                raise HTTPException(404)
            if not signers:
                # The key the verifier trusts (the lifespan loaded it already, so this only reads it).
                signers.append(LocalSigner.load_or_create(settings.data_dir))
            token = signers[0].mint(DEMO_USER_ID, ttl=DEV_SESSION_TTL)
            return JSONResponse({"user_id": DEMO_USER_ID, "token": token})

    app.mount("/web", _Assets(directory=WEB_DIR), name="web")
