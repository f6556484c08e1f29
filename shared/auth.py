"""Bearer-token verification that both services use.

Tokens are JWTs from the auth provider (Better Auth's JWT plugin, or the local development signer).
A token is trusted only when its signature verifies with the key its `kid` names, using one of a few
asymmetric algorithms, and its `exp`, `iat`, `sub`, `iss` and `aud` claims check out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, Protocol

import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.types import Options

logger = logging.getLogger(__name__)

MAX_TOKEN_BYTES: Final = 8 * 1024
MAX_JWKS_BYTES: Final = 256 * 1024
MAX_SUBJECT_LENGTH: Final = 255
# The longest a token naming an unknown kid waits for the next allowed JWKS fetch (see _refresh).
MAX_ROTATION_WAIT: Final = 5.0
# How long keys from the last successful JWKS fetch keep verifying tokens while every refresh fails. Past
# it, a key the provider has revoked could still be trusted, so the service refuses (503) and is not ready.
MAX_KEY_AGE: Final = 3600.0
_REQUIRED_CLAIMS: Final = ("exp", "iat", "sub", "iss", "aud")

AuthErrorReason = Literal[
    "malformed",
    "unsupported_algorithm",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "missing_claim",
    "wrong_issuer",
    "wrong_audience",
    "invalid_subject",
    "keys_unavailable",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    user_id: str
    # The raw bearer token is kept so the gateway can forward it; it stays out of repr and so out of logs.
    token: str | None = field(default=None, repr=False)


class AuthError(Exception):
    """A bearer token was rejected. The message is safe to log and never contains the token."""

    def __init__(self, reason: AuthErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason: AuthErrorReason = reason


class KeysUnavailable(AuthError):
    """The signing keys could not be loaded, so the caller may answer 503 rather than 401."""

    def __init__(self, message: str = "the signing keys are unavailable") -> None:
        super().__init__("keys_unavailable", message)


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """What a readiness probe reports about the signing keys."""

    usable: bool  # Tokens can be verified now (cached keys count while younger than MAX_KEY_AGE).
    age_seconds: float | None = None  # Since the last successful fetch; None for fixed keys or none yet.
    last_error: str | None = None  # The last failed fetch, when it failed after the last success.
    last_error_at: float | None = None  # Its wall-clock time (seconds since the epoch).
    consecutive_failures: int = 0


class KeySource(Protocol):
    async def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK:
        """The key named by `kid` that fits `alg`; raises AuthError or KeysUnavailable."""
        ...

    async def ready(self) -> bool:
        """Whether keys are (or can now be) loaded, for readiness probes."""
        ...

    def status(self) -> KeyStatus:
        """The keys' state as it stands, without fetching anything."""
        ...


def _key_fits(key: jwt.PyJWK, alg: str) -> bool:
    """Whether `key` may verify a token signed with `alg`.

    PyJWK binds each key to the JWK's own `alg` (or one inferred from its type), so comparing that first
    enforces "a JWK's `alg`, if present, must equal the token's". The type checks then make sure the
    key material itself matches, and being public keys only, a JWKS leaking a private key is not used.
    """
    if key.algorithm_name != alg:
        return False
    material = key.key
    if alg == "EdDSA":
        return isinstance(material, Ed25519PublicKey)
    if alg == "ES256":
        return isinstance(material, EllipticCurvePublicKey) and isinstance(material.curve, SECP256R1)
    if alg == "RS256":
        return isinstance(material, RSAPublicKey)
    return False


def _parse_jwk(entry: object) -> jwt.PyJWK | None:
    """One usable verification key from a JWKS entry, or None when the entry cannot be used."""
    if not isinstance(entry, dict):
        return None
    kid = entry.get("kid")
    if (kid is not None and not isinstance(kid, str)) or entry.get("use", "sig") != "sig":
        return None
    try:
        key = jwt.PyJWK(entry)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        # PyJWT's message can quote the whole JWK, which would leak a private key published by mistake.
        logger.debug("Skipping JWKS entry %r: %s", kid, type(exc).__name__)
        return None
    if key.algorithm_name not in JwtVerifier.ALGORITHMS or not _key_fits(key, key.algorithm_name):
        logger.debug("Skipping JWKS entry %r: not a public key for an accepted algorithm", kid)
        return None
    if key.Algorithm.check_key_length(key.key) is not None:
        logger.debug("Skipping JWKS entry %r: key is shorter than recommended", kid)
        return None
    return key


class _KeySet:
    """The usable verification keys of one JWKS document."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[jwt.PyJWK]) -> None:
        self._keys = tuple(keys)

    @classmethod
    def parse(cls, document: object) -> _KeySet:
        """Parse a JWKS, skipping entries that cannot be used; raise ValueError if none can."""
        entries = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError("not a JWKS document")
        keys = [key for key in map(_parse_jwk, entries) if key is not None]
        if not keys:
            raise ValueError("the JWKS holds no usable signing key")
        return cls(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def has_kid(self, kid: str) -> bool:
        return any(key.key_id == kid for key in self._keys)

    def find(self, kid: str | None, alg: str) -> jwt.PyJWK:
        if kid is None:
            # Without a kid the choice would be a guess, which is only safe when there is nothing to choose.
            if len(self._keys) != 1:
                raise AuthError("unknown_key", "the token names no key and the key set holds several")
            candidates: Sequence[jwt.PyJWK] = self._keys
        else:
            candidates = [key for key in self._keys if key.key_id == kid]
            if not candidates:
                raise AuthError("unknown_key", "no signing key has the token's kid")
        for key in candidates:
            if _key_fits(key, alg):
                return key
        raise AuthError("unknown_key", "the key the token names does not fit the token's algorithm")


class StaticKeySource:
    """A fixed key set, for local development. Raises ValueError if the set holds no usable key."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = _KeySet.parse(jwks)

    async def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK:
        return self._keys.find(kid, alg)

    async def ready(self) -> bool:
        return True

    def status(self) -> KeyStatus:
        return KeyStatus(usable=True)


class JwksKeySource:
    """A remote JWKS, cached, refetched when stale or when a token names an unknown kid.

    Refetches are rate limited by `min_refresh_interval` (counting failed attempts too) and shared by
    all concurrent callers, so tokens with made-up kids cannot turn into a stream of requests to the
    provider, while a key the provider has just rotated in is still picked up without a restart.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx2.AsyncClient | None = None,
        cache_ttl: float = 300.0,
        min_refresh_interval: float = 5.0,
        timeout: float = 5.0,
        max_key_age: float = MAX_KEY_AGE,
    ) -> None:
        self._url = url
        self._owns_client = client is None
        self._client = client if client is not None else httpx2.AsyncClient(timeout=timeout)
        self._cache_ttl = cache_ttl
        self._min_refresh_interval = min_refresh_interval
        self._timeout = timeout
        self._max_key_age = max(max_key_age, cache_ttl)
        self._keys: _KeySet | None = None
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._failures = 0
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._inflight: asyncio.Task[None] | None = None

    async def key_for(self, kid: str | None, alg: str) -> jwt.PyJWK:
        keys = await self._usable_keys()
        if kid is not None and not keys.has_kid(kid):
            await self._refresh(wait_for_slot=True)
            keys = self._keys or keys
        return keys.find(kid, alg)

    async def ready(self) -> bool:
        try:
            await self._usable_keys()
        except KeysUnavailable:
            return False
        return True

    def status(self) -> KeyStatus:
        age = None if self._keys is None else time.monotonic() - self._fetched_at
        return KeyStatus(
            usable=age is not None and age <= self._max_key_age,
            age_seconds=age,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            consecutive_failures=self._failures,
        )

    async def aclose(self) -> None:
        if (task := self._inflight) is not None:
            task.cancel()
            await asyncio.wait([task])
        if self._owns_client:
            await self._client.aclose()

    async def _usable_keys(self) -> _KeySet:
        if self._keys is None or time.monotonic() - self._fetched_at > self._max_key_age:
            await self._refresh()
            if self._keys is None:
                raise KeysUnavailable(f"could not fetch the JWKS from {self._url}")
            if time.monotonic() - self._fetched_at > self._max_key_age:
                raise KeysUnavailable(
                    f"the JWKS at {self._url} has not been fetched for over {self._max_key_age:.0f} s"
                )
        elif time.monotonic() - self._fetched_at > self._cache_ttl:
            # Stale keys keep serving while a refresh runs in the background, so a provider that hangs
            # delays no request; only a token naming a kid we do not know waits for the new set.
            self._start_refresh()
        return self._keys

    def _start_refresh(self) -> asyncio.Task[None] | None:
        """The in-flight fetch, or a new one unless an attempt was made within `min_refresh_interval`.

        Nothing here awaits, so checking and starting cannot interleave with another caller: there is
        never more than one fetch at a time, and every caller that needs its result shares it.
        """
        if self._inflight is None:
            now = time.monotonic()
            if self._attempted_at is not None and now - self._attempted_at < self._min_refresh_interval:
                return None
            self._attempted_at = now
            self._inflight = asyncio.create_task(self._fetch_and_store(), name="jwks-refresh")
        return self._inflight

    async def _refresh(self, *, wait_for_slot: bool = False) -> None:
        task = self._start_refresh()
        if task is None and wait_for_slot and self._attempted_at is not None:
            # Better Auth creates a rotated key only when it signs the first token with it, so a new kid
            # can arrive moments after our last fetch. Rather than refusing it until the interval is
            # over, wait for the next allowed fetch (all such callers share it) when that is soon.
            delay = self._min_refresh_interval - (time.monotonic() - self._attempted_at)
            if 0 < delay <= MAX_ROTATION_WAIT:
                await asyncio.sleep(delay)
                task = self._start_refresh()
        if task is not None:
            # The shield keeps one caller's cancellation (a client hanging up) from cancelling the fetch
            # that the other callers are waiting for.
            await asyncio.shield(task)

    async def _fetch_and_store(self) -> None:
        try:
            keys = await self._fetch()
        except Exception as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"[:300]
            self._last_error_at = time.time()
            self._failures += 1
            # Whatever went wrong (network, status, size, JSON, no usable key), the previous keys stay in
            # place: an outage at the provider should not log out every user whose key we already know.
            if self._keys is None:
                logger.warning("Could not fetch the JWKS from %s: %s: %s", self._url, type(exc).__name__, exc)
            else:
                logger.warning(
                    "Could not refresh the JWKS from %s (%s: %s); keeping the keys fetched %.0f s ago",
                    self._url,
                    type(exc).__name__,
                    exc,
                    time.monotonic() - self._fetched_at,
                )
        else:
            self._keys = keys
            self._fetched_at = time.monotonic()
            self._last_error = self._last_error_at = None
            self._failures = 0
            logger.debug("Loaded %d signing keys from %s", len(keys), self._url)
        finally:
            self._inflight = None

    async def _fetch(self) -> _KeySet:
        # The client's timeout bounds each network step; this bounds the whole fetch, slow drips included.
        async with (
            asyncio.timeout(self._timeout),
            self._client.stream(
                "GET",
                self._url,
                headers={"Accept": "application/json", "Accept-Encoding": "identity"},
                timeout=self._timeout,
            ) as response,
        ):
            if response.status_code != httpx2.codes.OK:
                raise ValueError(f"HTTP status {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
        return _KeySet.parse(json.loads(body))


def _auth_error_from(exc: jwt.PyJWTError) -> AuthError:
    """Translate a PyJWT failure into a reason code and a message that never quotes the token."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return AuthError("expired", "the token has expired")
    if isinstance(exc, jwt.ImmatureSignatureError):
        return AuthError("not_yet_valid", "the token is not valid yet")
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return AuthError("missing_claim", f"the token lacks the {exc.claim!r} claim")
    if isinstance(exc, jwt.InvalidAudienceError):
        return AuthError("wrong_audience", "the token is not meant for this service")
    if isinstance(exc, jwt.InvalidIssuerError):
        return AuthError("wrong_issuer", "the token comes from an untrusted issuer")
    if isinstance(exc, jwt.exceptions.InvalidSubjectError):
        return AuthError("invalid_subject", "the token's subject is not a valid user id")
    if isinstance(exc, jwt.InvalidSignatureError):
        return AuthError("bad_signature", "the token's signature does not verify")
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return AuthError("unsupported_algorithm", "the token's algorithm is not accepted")
    if isinstance(exc, jwt.InvalidKeyError):
        return AuthError("unknown_key", "the token's key cannot be used")
    return AuthError("malformed", "the token is not a well-formed JWT")


def _is_numeric_date(value: object) -> bool:
    # PyJWT accepts numeric strings such as "1700000000"; RFC 7519 says a NumericDate is a JSON number.
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token that passed verification: whom it names, until when, and the key that verified it."""

    principal: Principal
    kid: str | None
    alg: str
    key: jwt.PyJWK
    expires_at: float  # `exp` plus the leeway: the last moment a verification would still pass.
    remembered_until: float  # time.monotonic() past which the token is verified afresh.


class JwtVerifier:
    """Verifies bearer tokens against a key source, an issuer and this service's audiences.

    A token that verified is remembered for up to `remember_seconds` (and never past its `exp`), because
    the same token arrives again and again: a chat turn presents it to the gateway once and to the task
    server three times, and the signature check is a third of a tool call's authentication. A remembered
    token is accepted only while the key source still returns the very key that verified it, so a key
    the provider removes from its JWKS stops its tokens as soon as the keys are refetched, as before.
    """

    # Asymmetric algorithms only: HS* would let anyone holding the public key mint tokens, and `none`
    # signs nothing. PyJWT 2.15 does not know the fully-specified "Ed25519" name, so it is not listed.
    ALGORITHMS: ClassVar[frozenset[str]] = frozenset({"EdDSA", "ES256", "RS256"})

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str | Sequence[str],
        audience: Sequence[str],
        leeway: float = 30.0,
        remember_seconds: float = 60.0,
        remember_max: int = 4096,
    ) -> None:
        issuers = (issuer,) if isinstance(issuer, str) else tuple(issuer)
        audiences = [audience] if isinstance(audience, str) else list(audience)
        if not issuers or not all(issuers):
            raise ValueError("at least one non-empty issuer is required")
        if not audiences or not all(audiences):
            raise ValueError("at least one non-empty audience is required")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self._keys = keys
        self._issuers = issuers
        self._audiences = audiences
        self._leeway = leeway
        self._remember_seconds = remember_seconds
        self._remember_max = remember_max
        self._verified: dict[str, _Verified] = {}

    async def verify(self, token: str) -> Principal:
        try:
            known = self._verified.get(token) if isinstance(token, str) else None
            if known is not None:
                if await self._still_valid(known):
                    return known.principal
                self._verified.pop(token, None)
            claims, kid, alg, key = await self._verified_claims(token)
        except AuthError as exc:
            logger.debug("Rejected a token: %s", exc.reason)
            raise
        principal = Principal(user_id=claims["sub"], token=token)
        self._remember(token, _Verified(
            principal, kid, alg, key, float(claims["exp"]) + self._leeway,
            time.monotonic() + self._remember_seconds,
        ))  # fmt: skip
        return principal

    async def _still_valid(self, known: _Verified) -> bool:
        """Whether a remembered token passes as it did; raises what a fresh verification would when its
        key is gone (the key lookup is the one a fresh verification would make first)."""
        if time.monotonic() >= known.remembered_until or time.time() >= known.expires_at:
            return False
        try:
            return await self._keys.key_for(known.kid, known.alg) is known.key
        except (AuthError, KeysUnavailable):
            self._verified.pop(known.principal.token or "", None)
            raise

    def _remember(self, token: str, verified: _Verified) -> None:
        if self._remember_seconds <= 0:
            return
        if len(self._verified) >= self._remember_max:
            # Oldest first (dicts keep insertion order): cheap, and bounded whatever tokens arrive.
            for stale in list(self._verified)[: self._remember_max // 4 or 1]:
                del self._verified[stale]
        self._verified[token] = verified

    async def _verified_claims(self, token: str) -> tuple[dict[str, Any], str | None, str, jwt.PyJWK]:
        # Bound the work an unauthenticated caller can cause before anything is parsed.
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or not token.isascii():
            raise AuthError("malformed", "the token is not a well-formed JWT")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed", "the token is not a well-formed JWT") from exc

        # The algorithm is checked before any key lookup, so `none` and HS* never reach a key.
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.ALGORITHMS:
            raise AuthError("unsupported_algorithm", "the token's algorithm is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("malformed", "the token's kid is not a string")

        key = await self._keys.key_for(kid, alg)
        # Checked again here because a KeySource is a protocol that other code may implement.
        if not _key_fits(key, alg):
            raise AuthError("unknown_key", "the key the token names does not fit the token's algorithm")

        options: Options = {"require": list(_REQUIRED_CLAIMS), "enforce_minimum_key_length": True}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                options=options,
                issuer=self._issuers,
                audience=self._audiences,
                leeway=self._leeway,
            )
        except jwt.PyJWTError as exc:
            raise _auth_error_from(exc) from exc
        self._check_claims(claims)
        return claims, kid, alg, key

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        """Checks PyJWT leaves to the caller (or has changed between versions)."""
        for name in ("exp", "iat", "nbf"):
            if name in claims and not _is_numeric_date(claims[name]):
                raise AuthError("malformed", f"the token's {name!r} claim is not a number")
        if claims["iat"] > time.time() + self._leeway:
            raise AuthError("not_yet_valid", "the token was issued in the future")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT_LENGTH:
            raise AuthError("invalid_subject", "the token's subject is not a valid user id")
