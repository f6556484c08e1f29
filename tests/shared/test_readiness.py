"""Readiness says what it means: a service is ready while it can verify tokens, and no longer.

Keys cached from the last good JWKS fetch keep verifying through an outage of the identity provider, up
to `max_key_age`; after that the source refuses (503, not 401) and is not ready. The status says how old
the keys are and what went wrong last, without fetching anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from shared.auth import JwksKeySource, JwtVerifier, KeysUnavailable, StaticKeySource
from tests.support.tokens import AUDIENCE, ISSUER, KEYS, JwksServer, closed_port_url, sign


@pytest.fixture
def jwks_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = JwksServer({"keys": [key.jwk() for key in KEYS.values()]})
    yield server
    server.stop()


async def test_cached_keys_count_while_the_jwks_is_down_then_expire(jwks_server: JwksServer) -> None:
    keys = JwksKeySource(jwks_server.url, cache_ttl=0.1, min_refresh_interval=0.05, max_key_age=0.6)
    verifier = JwtVerifier(keys, issuer=ISSUER, audience=[AUDIENCE])
    try:
        assert await keys.ready()
        fresh = keys.status()
        assert fresh.usable
        assert fresh.last_error is None
        assert fresh.consecutive_failures == 0
        assert fresh.age_seconds is not None
        assert fresh.age_seconds < 0.5

        jwks_server.status = 503
        await asyncio.sleep(0.2)
        # Past the cache lifetime: the refresh fails in the background, the cached keys still verify.
        assert (await verifier.verify(sign())).user_id
        await asyncio.sleep(0.1)
        assert await keys.ready()
        outage = keys.status()
        assert outage.usable
        assert outage.last_error is not None
        assert "503" in outage.last_error
        assert outage.last_error_at is not None
        assert outage.consecutive_failures >= 1

        await asyncio.sleep(0.6)
        # Past the longest a key set may go unconfirmed: nothing verifies, and the service is not ready.
        assert not await keys.ready()
        assert not keys.status().usable
        with pytest.raises(KeysUnavailable):
            await verifier.verify(sign())

        jwks_server.status = 200
        await asyncio.sleep(0.1)
        assert await keys.ready()
        recovered = keys.status()
        assert recovered.usable
        assert recovered.last_error is None
        assert recovered.consecutive_failures == 0
    finally:
        await keys.aclose()


async def test_a_jwks_never_fetched_is_not_ready_and_says_why() -> None:
    keys = JwksKeySource(closed_port_url())
    try:
        assert not await keys.ready()
        status = keys.status()
        assert not status.usable
        assert status.age_seconds is None
        assert status.last_error is not None
        assert status.last_error.startswith("Connect")
    finally:
        await keys.aclose()


async def test_fixed_keys_are_always_usable() -> None:
    keys = StaticKeySource({"keys": [KEYS["EdDSA"].jwk()]})
    assert await keys.ready()
    assert keys.status().usable
