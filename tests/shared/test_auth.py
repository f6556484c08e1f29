"""Token verification with real keys against a real JWKS endpoint on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from shared.auth import AuthError, JwksKeySource, JwtVerifier, KeysUnavailable, StaticKeySource
from shared.local_auth import DEMO_USER_ID, LOCAL_ISSUER, TASK_SERVER_AUDIENCE, LocalSigner
from tests.support.tokens import (
    AUDIENCE,
    ED,
    ISSUER,
    KEYS,
    JwksServer,
    SigningKey,
    b64url,
    claims,
    closed_port_url,
    forge,
    hs256,
    sign,
)


@pytest.fixture
def jwks_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    # A proxy configured in the environment must not intercept loopback requests.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = JwksServer({"keys": [key.jwk() for key in KEYS.values()]})
    yield server
    server.stop()


MakeVerifier = Callable[..., JwtVerifier]


@pytest.fixture
async def make_verifier(jwks_server: JwksServer) -> AsyncIterator[MakeVerifier]:
    sources: list[JwksKeySource] = []

    def make(
        url: str | None = None, cache_ttl: float = 300.0, min_refresh_interval: float = 5.0
    ) -> JwtVerifier:
        source = JwksKeySource(
            url or jwks_server.url, cache_ttl=cache_ttl, min_refresh_interval=min_refresh_interval
        )
        sources.append(source)
        return JwtVerifier(source, issuer=ISSUER, audience=[AUDIENCE, "urn:todo-chat:chat-gateway"])

    yield make
    for source in sources:
        await source.aclose()


@pytest.fixture
def verifier(make_verifier: MakeVerifier) -> JwtVerifier:
    return make_verifier()


async def rejection(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(AuthError) as caught:
        await verifier.verify(token)
    assert len(token) < 20 or token not in str(caught.value)
    return caught.value.reason


@pytest.mark.parametrize("alg", sorted(KEYS))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"aud": ["urn:someone-else", AUDIENCE]},
        {"exp_in": -10},  # Expired, but within the 30 s leeway.
        {"iat_in": 10},  # Issued slightly "in the future" by a clock that runs ahead.
    ],
    ids=["aud-string", "aud-list", "expired-within-leeway", "iat-within-leeway"],
)
async def test_accepts_valid_tokens(verifier: JwtVerifier, alg: str, options: dict[str, Any]) -> None:
    token = sign(KEYS[alg], **options)
    principal = await verifier.verify(token)
    assert (principal.user_id, principal.token) == ("user-1", token)
    assert token not in repr(principal)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"exp_in": -60}, "expired"),
        ({"iat_in": 120}, "not_yet_valid"),
        ({"nbf": int(time.time()) + 3600}, "not_yet_valid"),
        ({"aud": "urn:someone-else"}, "wrong_audience"),
        ({"aud": ["urn:a", "urn:b"]}, "wrong_audience"),
        ({"iss": "https://evil.example"}, "wrong_issuer"),
        ({"sub": ""}, "invalid_subject"),
        ({"sub": "u" * 256}, "invalid_subject"),
        ({"sub": 42}, "invalid_subject"),
        ({"exp": "99999999999"}, "malformed"),
        *[({"omit": [name]}, "missing_claim") for name in ("exp", "iat", "sub", "iss", "aud")],
    ],
)
async def test_rejects_bad_claims(verifier: JwtVerifier, options: dict[str, Any], reason: str) -> None:
    assert await rejection(verifier, sign(**options)) == reason


def tampered() -> str:
    header, _, signature = sign().split(".")
    return f"{header}.{b64url(json.dumps(claims(sub='someone-else')).encode())}.{signature}"


FORGERIES: dict[str, tuple[Callable[[], str], str]] = {
    "alg-none": (
        lambda: forge({"alg": "none", "kid": ED.kid}, claims(), lambda _: b""),
        "unsupported_algorithm",
    ),
    "hs256-public-pem": (
        lambda: forge(
            {"alg": "HS256", "kid": KEYS["RS256"].kid}, claims(), hs256(KEYS["RS256"].public_pem())
        ),
        "unsupported_algorithm",
    ),
    "hs256-public-jwk": (
        lambda: forge({"alg": "HS256", "kid": ED.kid}, claims(), hs256(json.dumps(ED.jwk()).encode())),
        "unsupported_algorithm",
    ),
    "rs256-naming-ed25519-key": (lambda: sign(KEYS["RS256"], kid=ED.kid), "unknown_key"),
    "tampered-payload": (tampered, "bad_signature"),
    "foreign-key-same-kid": (lambda: sign(SigningKey.generate("EdDSA"), kid=ED.kid), "bad_signature"),
    "unknown-kid": (lambda: sign(kid="no-such-key"), "unknown_key"),
}


@pytest.mark.parametrize("name", FORGERIES)
async def test_rejects_forged_tokens(verifier: JwtVerifier, name: str) -> None:
    make_token, reason = FORGERIES[name]
    assert await rejection(verifier, make_token()) == reason


GARBAGE = {
    "empty": "",
    "one-segment": "not-a-jwt",
    "junk": "a.b.c",
    "two-segments": "a.b",
    "dots": "....",
    "non-ascii": "ü.ü.ü",
    "header-array": ".".join([b64url(b"[]"), b64url(b"{}"), "c2ln"]),
    "unknown-crit": ".".join([b64url(b'{"alg":"EdDSA","crit":["exp"]}'), b64url(b"{}"), "c2ln"]),
    "9k-junk": "x" * 9000,
    "9k-signed": sign(pad="p" * 9000),
}


@pytest.mark.parametrize("name", GARBAGE)
async def test_rejects_garbage(verifier: JwtVerifier, name: str) -> None:
    assert await rejection(verifier, GARBAGE[name]) == "malformed"


async def test_unknown_kid_within_refresh_interval_does_not_refetch(
    make_verifier: MakeVerifier, jwks_server: JwksServer
) -> None:
    verifier = make_verifier(min_refresh_interval=60)
    assert (await verifier.verify(sign())).user_id == "user-1"
    assert await rejection(verifier, sign(kid="rotated-in-later")) == "unknown_key"
    assert jwks_server.hits == 1


async def test_a_key_rotated_in_just_after_a_fetch_is_accepted_after_a_short_wait(
    make_verifier: MakeVerifier, jwks_server: JwksServer
) -> None:
    verifier = make_verifier(min_refresh_interval=0.3)
    assert (await verifier.verify(sign())).user_id == "user-1"
    rotated = SigningKey.generate("EdDSA")
    jwks_server.document = {"keys": [ED.jwk(), rotated.jwk()]}
    started = time.monotonic()
    principals = await asyncio.gather(*(verifier.verify(sign(rotated)) for _ in range(20)))
    assert {p.user_id for p in principals} == {"user-1"}
    assert time.monotonic() - started < 1.0
    assert jwks_server.hits == 2


async def test_concurrent_callers_share_one_fetch(
    make_verifier: MakeVerifier, jwks_server: JwksServer
) -> None:
    verifier = make_verifier(min_refresh_interval=0.1)
    principals = await asyncio.gather(*(verifier.verify(sign(KEYS[alg])) for alg in sorted(KEYS) * 10))
    assert {p.user_id for p in principals} == {"user-1"}
    assert jwks_server.hits == 1

    # Once the refresh interval has passed, a flood of made-up kids may cause one refetch, not fifty.
    await asyncio.sleep(0.15)
    floods = [sign(kid=secrets.token_hex(8)) for _ in range(50)]
    outcomes = await asyncio.gather(*(verifier.verify(token) for token in floods), return_exceptions=True)
    assert {getattr(outcome, "reason", None) for outcome in outcomes} == {"unknown_key"}
    assert jwks_server.hits - 1 <= 1


async def test_picks_up_rotated_key_without_restart(
    make_verifier: MakeVerifier, jwks_server: JwksServer
) -> None:
    verifier = make_verifier(min_refresh_interval=0.1)
    assert (await verifier.verify(sign(ED))).user_id == "user-1"

    new_key = SigningKey.generate("EdDSA")
    jwks_server.document = {"keys": [new_key.jwk()]}
    await asyncio.sleep(0.15)
    assert (await verifier.verify(sign(new_key, sub="user-2"))).user_id == "user-2"
    # The refetch replaced the whole set, so the retired key no longer verifies (after one more fetch,
    # since an unknown kid waits for the next allowed one).
    assert await rejection(verifier, sign(ED)) == "unknown_key"
    assert jwks_server.hits == 3


@pytest.mark.parametrize(
    ("status", "document"),
    [
        (200, None),  # Nothing listens on the port.
        (500, {"error": "boom"}),
        (200, b"<html>not json</html>"),
        (200, {"keys": []}),
        (200, {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}),
        (200, b" " * (300 * 1024)),
    ],
    ids=["down", "http-500", "not-json", "empty-set", "only-hmac", "oversize"],
)
async def test_keys_unavailable_without_usable_jwks(
    make_verifier: MakeVerifier, jwks_server: JwksServer, status: int, document: object
) -> None:
    jwks_server.status = status
    jwks_server.document = document
    verifier = make_verifier(url=closed_port_url() if document is None else None)
    with pytest.raises(KeysUnavailable) as caught:
        await verifier.verify(sign())
    assert caught.value.reason == "keys_unavailable"


async def test_readiness_follows_jwks(jwks_server: JwksServer) -> None:
    up, down = JwksKeySource(jwks_server.url), JwksKeySource(closed_port_url())
    try:
        assert (await up.ready(), await down.ready()) == (True, False)
    finally:
        await up.aclose()
        await down.aclose()


async def test_cached_keys_outlive_jwks_outage(
    make_verifier: MakeVerifier, jwks_server: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = make_verifier(cache_ttl=0.1, min_refresh_interval=0.05)
    token = sign(KEYS["ES256"])
    assert (await verifier.verify(token)).user_id == "user-1"

    jwks_server.stop()
    await asyncio.sleep(0.15)
    with caplog.at_level(logging.DEBUG, logger="shared.auth"):
        assert (await verifier.verify(token)).user_id == "user-1"
        assert await rejection(verifier, sign(exp_in=-600)) == "expired"
        # An unknown kid waits for the background refresh, which fails and keeps the cached keys.
        assert await rejection(verifier, sign(kid="rotated-in")) == "unknown_key"
        assert (await verifier.verify(token)).user_id == "user-1"
    assert "keeping the keys fetched" in caplog.text
    assert token not in caplog.text


async def test_skips_unusable_jwks_entries(make_verifier: MakeVerifier, jwks_server: JwksServer) -> None:
    weak = SigningKey.generate("RS256", rsa_bits=1024)
    jwks_server.document = {
        "keys": [
            "not an object",
            {"kty": "OKP", "kid": "no-curve"},
            {"kty": "EC", "crv": "P-256", "x": "!!", "y": "!!", "kid": "bad-point"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {**KEYS["ES256"].jwk(), "use": "enc"},
            weak.jwk(),
            ED.jwk(),
        ]
    }
    verifier = make_verifier(min_refresh_interval=60)
    assert (await verifier.verify(sign(ED))).user_id == "user-1"
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        weak_token = sign(weak)
    assert await rejection(verifier, weak_token) == "unknown_key"
    assert await rejection(verifier, sign(KEYS["ES256"])) == "unknown_key"


@pytest.mark.parametrize(("published", "reason"), [(["EdDSA"], None), (["EdDSA", "ES256"], "unknown_key")])
async def test_token_without_kid_needs_single_key(published: list[str], reason: str | None) -> None:
    verifier = JwtVerifier(
        StaticKeySource({"keys": [KEYS[alg].jwk() for alg in published]}), issuer=ISSUER, audience=[AUDIENCE]
    )
    token = sign(ED, kid=None)
    if reason is None:
        assert (await verifier.verify(token)).user_id == "user-1"
    else:
        assert await rejection(verifier, token) == reason


async def test_local_signer_round_trip(tmp_path: Path) -> None:
    signer = LocalSigner.load_or_create(tmp_path)
    keys = StaticKeySource(signer.public_jwks())
    task_server = JwtVerifier(keys, issuer=LOCAL_ISSUER, audience=[TASK_SERVER_AUDIENCE])
    assert (await task_server.verify(signer.mint())).user_id == DEMO_USER_ID
    assert (await task_server.verify(signer.mint("alice"))).user_id == "alice"
    assert await rejection(task_server, signer.mint(audience=["urn:elsewhere"])) == "wrong_audience"
    assert await rejection(task_server, signer.mint(ttl=-timedelta(minutes=5))) == "expired"
    assert await keys.ready()
    with pytest.raises(ValueError, match="extra_claims may not set"):
        signer.mint(extra_claims={"sub": "admin"})


def test_local_key_file_is_private_and_stable(tmp_path: Path) -> None:
    first = LocalSigner.load_or_create(tmp_path)
    key_file = tmp_path / "local-auth" / "ed25519.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.parent.stat().st_mode & 0o777 == 0o700
    assert LocalSigner.load_or_create(tmp_path).kid == first.kid
    assert first.public_jwks()["keys"][0]["kid"] == first.kid


def test_concurrent_first_start_agrees_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        kids = set(pool.map(lambda _: LocalSigner.load_or_create(tmp_path).kid, range(8)))
    assert len(kids) == 1
    assert [p.name for p in (tmp_path / "local-auth").iterdir()] == ["ed25519.pem"]


def test_local_kid_is_the_rfc_7638_thumbprint() -> None:
    # The Ed25519 key and thumbprint from RFC 8037, appendices A.1 and A.3.
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    signer = LocalSigner(ed25519.Ed25519PrivateKey.from_private_bytes(d))
    assert signer.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token whose signature the verifier checks (PyJWT's decode), in order."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr("shared.auth.jwt.decode", counting)
    return seen


async def test_a_verified_token_is_remembered(verifier: JwtVerifier, decodes: list[str]) -> None:
    token = sign(ED)
    first, again = await verifier.verify(token), await verifier.verify(token)
    assert first == again
    assert again.user_id == "user-1"
    assert decodes == [token]
    # A token that failed is never remembered: each try fails again on its own.
    bad = sign(ED, aud="urn:someone-else")
    assert [await rejection(verifier, bad), await rejection(verifier, bad)] == ["wrong_audience"] * 2
    assert decodes == [token, bad, bad]


async def test_a_remembered_token_still_expires(verifier: JwtVerifier) -> None:
    token = sign(ED, exp_in=-29)  # Expired, but within the 30 s leeway, for at most a second more.
    assert (await verifier.verify(token)).user_id == "user-1"
    ends = jwt.decode(token, options={"verify_signature": False})["exp"] + 30
    await asyncio.sleep(max(0.0, ends - time.time()) + 0.05)
    assert await rejection(verifier, token) == "expired"


async def test_a_remembered_token_is_verified_again_after_a_minute(
    verifier: JwtVerifier, decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = sign(ED)
    await verifier.verify(token)
    later = time.monotonic() + 61
    monkeypatch.setattr("shared.auth.time.monotonic", lambda: later)
    await verifier.verify(token)
    await verifier.verify(token)
    assert decodes == [token, token]


async def test_a_remembered_token_stops_with_its_key(
    make_verifier: MakeVerifier, jwks_server: JwksServer
) -> None:
    verifier = make_verifier(min_refresh_interval=0.1)
    old = sign(ED)
    assert (await verifier.verify(old)).user_id == "user-1"
    new_key = SigningKey.generate("EdDSA")
    jwks_server.document = {"keys": [new_key.jwk()]}
    await asyncio.sleep(0.15)
    assert (await verifier.verify(sign(new_key, sub="user-2"))).user_id == "user-2"  # Refetches the keys.
    assert await rejection(verifier, old) == "unknown_key"


async def test_remembered_tokens_are_bounded(jwks_server: JwksServer, decodes: list[str]) -> None:
    source = JwksKeySource(jwks_server.url)
    verifier = JwtVerifier(source, issuer=ISSUER, audience=[AUDIENCE], remember_max=8)
    try:
        tokens = [sign(ED, sub=f"user-{n}") for n in range(20)]
        for token in tokens:
            await verifier.verify(token)
        for token in tokens[-4:]:  # The newest are still remembered...
            await verifier.verify(token)
        assert decodes == tokens
        await verifier.verify(tokens[0])  # ...and the oldest were let go.
        assert decodes == [*tokens, tokens[0]]
    finally:
        await source.aclose()
