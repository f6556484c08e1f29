"""FastAPI dependencies: who is calling, and the services a request uses. Defined once, used as types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from shared.audit import audit, token_facts
from shared.auth import AuthError, JwtVerifier, KeysUnavailable, Principal
from shared.request_id import current_request_id

from .errors import DependencyUnavailable, Forbidden, Unauthenticated
from .ratelimit import RateLimiter
from .task_server import TaskServerClient
from .turns import ChatService

SERVICE = "chat_gateway"


def _verifier(request: Request) -> JwtVerifier:
    verifier: JwtVerifier = request.app.state.verifier
    return verifier


async def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        audit("authentication_failed", service=SERVICE, reason="no_bearer_token", path=request.url.path)
        raise Unauthenticated()
    try:
        return await _verifier(request).verify(token.strip())
    except KeysUnavailable as e:
        audit("authentication_unavailable", service=SERVICE, reason="keys_unavailable", path=request.url.path)
        raise DependencyUnavailable("The identity provider's keys are unavailable. Try again shortly.") from e
    except AuthError as e:
        audit(
            "authentication_failed",
            service=SERVICE,
            reason=e.reason,
            path=request.url.path,
            **token_facts(token.strip()),
        )
        raise Unauthenticated(f"The token was rejected ({e.reason}).") from e


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def path_user(
    principal: CurrentPrincipal,
    user_id: Annotated[
        str, Path(min_length=1, max_length=255, description="Must equal the token's subject.")
    ],
) -> Principal:
    """The user in `/api/{user_id}/...` must be the token's subject: the path never chooses whose data."""
    if user_id != principal.user_id:
        audit("authorization_failed", service=SERVICE, reason="path_user_mismatch", user_id=principal.user_id)
        raise Forbidden()
    return principal


PathUser = Annotated[Principal, Depends(path_user)]


# The providers below are coroutines on purpose: FastAPI runs a plain `def` dependency in its thread pool,
# a thread hop per dependency per request (four on a chat turn).
async def chat_service(request: Request) -> ChatService:
    service: ChatService = request.app.state.chat
    return service


async def task_client(request: Request) -> TaskServerClient:
    client: TaskServerClient = request.app.state.tasks
    return client


async def rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


Chat = Annotated[ChatService, Depends(chat_service)]
Tasks = Annotated[TaskServerClient, Depends(task_client)]
Limiter = Annotated[RateLimiter, Depends(rate_limiter)]


async def request_id() -> str | None:
    return current_request_id()


RequestId = Annotated[str | None, Depends(request_id)]
