"""Local development identity: an Ed25519 key in the data folder signs tokens for a demo user.

Used only when no auth provider is configured. Both services load the same key file and trust its public
half through `StaticKeySource(signer.public_jwks())`, so a token minted here works against either.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

logger = logging.getLogger(__name__)

LOCAL_ISSUER: Final = "urn:todo-chat:local"
TASK_SERVER_AUDIENCE: Final = "urn:todo-chat:mcp-task-server"
GATEWAY_AUDIENCE: Final = "urn:todo-chat:chat-gateway"
DEMO_USER_ID: Final = "demo-user"

_KEY_DIR: Final = "local-auth"
_KEY_FILE: Final = "ed25519.pem"
# Claims the signer owns; letting extra_claims replace them would mint tokens that lie about who or when.
_RESERVED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "iat", "exp", "nbf"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _write_new_key_file(path: Path) -> bytes:
    """Create the key file unless another process beats us to it; return the PEM that ends up on disk.

    The key is written in full to a private temporary file and then hard-linked into place. Linking
    fails if the name exists, so two services starting at once cannot overwrite each other's key (which
    os.replace would allow) and neither can read a half-written file.
    """
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_bytes()
        except OSError:
            # Some mounts have no hard links; exclusive creation still keeps the first writer's key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return path.read_bytes()
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
    finally:
        temporary.unlink(missing_ok=True)
    logger.info("Created a local development signing key at %s", path)
    return pem


class LocalSigner:
    """Signs EdDSA tokens with the local development key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._x = _b64url(public)
        # RFC 7638: the SHA-256 of the required members, sorted, without whitespace.
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": self._x}, separators=(",", ":"))
        self._kid = _b64url(hashlib.sha256(canonical.encode("ascii")).digest())

    @classmethod
    def load_or_create(cls, data_dir: Path) -> LocalSigner:
        key_dir = data_dir / _KEY_DIR
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = key_dir / _KEY_FILE
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            pem = _write_new_key_file(path)
        else:
            if path.stat().st_mode & 0o077:
                logger.warning("%s is readable by other users; restrict it with chmod 600", path)
        private_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(private_key)

    @property
    def kid(self) -> str:
        return self._kid

    def public_jwks(self) -> dict[str, Any]:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": self._x, "kid": self._kid, "alg": "EdDSA", "use": "sig"}
        return {"keys": [jwk]}

    def mint(
        self,
        user_id: str = DEMO_USER_ID,
        *,
        ttl: timedelta = timedelta(hours=12),
        audience: Sequence[str] = (TASK_SERVER_AUDIENCE, GATEWAY_AUDIENCE),
        issuer: str = LOCAL_ISSUER,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> str:
        if not user_id:
            raise ValueError("user_id must not be empty")
        extra = dict(extra_claims or {})
        if clash := _RESERVED_CLAIMS & extra.keys():
            raise ValueError(f"extra_claims may not set {sorted(clash)}")
        now = datetime.now(UTC)
        claims = {
            **extra,
            "iss": issuer,
            "sub": user_id,
            "aud": [audience] if isinstance(audience, str) else list(audience),
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(claims, self._private_key, algorithm="EdDSA", headers={"kid": self._kid})
