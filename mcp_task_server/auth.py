"""Bearer-token authentication for the HTTP transport.

FastMCP's own `JWTVerifier` accepts one algorithm and does not require `exp`/`iat`/`sub`, so the
shared verifier does the checking and this adapter hands FastMCP the result. Wrapped in a
`RemoteAuthProvider`, it makes FastMCP answer 401 with `WWW-Authenticate: Bearer ...
resource_metadata=...` and serve the RFC 9728 metadata at `/.well-known/oauth-protected-resource/mcp`.
"""

from __future__ import annotations

import logging

from fastmcp.server.auth import AccessToken, RemoteAuthProvider, TokenVerifier
from pydantic import AnyHttpUrl

from shared.audit import audit, token_facts
from shared.auth import AuthError, JwtVerifier, KeysUnavailable

from .settings import TaskServerSettings

logger = logging.getLogger(__name__)


class SharedJwtTokenVerifier(TokenVerifier):
    def __init__(self, verifier: JwtVerifier) -> None:
        super().__init__()
        self.verifier = verifier

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            principal = await self.verifier.verify(token)
        except KeysUnavailable:
            logger.warning("rejecting a token: the identity provider's keys are unavailable")
            audit("authentication_unavailable", service="mcp_task_server", reason="keys_unavailable")
            return None
        except AuthError as e:
            audit("authentication_failed", service="mcp_task_server", reason=e.reason, **token_facts(token))
            return None
        return AccessToken(token=token, client_id=principal.user_id, scopes=[], subject=principal.user_id)


def build_auth_provider(settings: TaskServerSettings, verifier: JwtVerifier) -> RemoteAuthProvider:
    # RFC 9728 metadata must name an authorization server. In local development there is none (tokens
    # come from `python -m mcp_task_server token`), so the server names itself rather than inventing one.
    issuer = settings.public_url if settings.local_auth else settings.resolved_issuer()
    servers = [AnyHttpUrl(issuer)]
    return RemoteAuthProvider(
        token_verifier=SharedJwtTokenVerifier(verifier),
        authorization_servers=servers,
        base_url=settings.public_url,
        resource_name="Todo task server",
    )
