"""Build the token verifier a service uses from its settings: a remote JWKS, or the local dev key."""

from __future__ import annotations

from shared.auth import JwksKeySource, JwtVerifier, KeySource, StaticKeySource
from shared.local_auth import LOCAL_ISSUER, LocalSigner
from shared.settings import CommonSettings


def build_key_source(settings: CommonSettings) -> KeySource:
    if settings.auth_jwks_url:
        return JwksKeySource(settings.auth_jwks_url)
    return StaticKeySource(LocalSigner.load_or_create(settings.data_dir).public_jwks())


def build_verifier(
    settings: CommonSettings, audience: list[str], keys: KeySource | None = None
) -> JwtVerifier:
    issuer = LOCAL_ISSUER if settings.local_auth else settings.resolved_issuer()
    return JwtVerifier(keys or build_key_source(settings), issuer=issuer, audience=audience)
