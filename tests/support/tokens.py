"""Real signing keys, forged tokens and a JWKS endpoint on loopback, for every auth test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ISSUER = "https://auth.example.test"
AUDIENCE = "urn:todo-chat:mcp-task-server"
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class SigningKey:
    alg: str
    kid: str
    private: PrivateKey

    @classmethod
    def generate(cls, alg: str, *, rsa_bits: int = 2048) -> SigningKey:
        private: PrivateKey
        if alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        return cls(alg, f"{alg.lower()}-{secrets.token_hex(4)}", private)

    def jwk(self) -> dict[str, Any]:
        public = jwt.get_algorithm_by_name(self.alg).to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


KEYS = {alg: SigningKey.generate(alg) for alg in ("EdDSA", "ES256", "RS256")}
ED = KEYS["EdDSA"]


def claims(
    *, omit: Sequence[str] = (), exp_in: float = 900, iat_in: float = 0, **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    values = {"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "iat": now + iat_in, "exp": now + exp_in}
    values.update(extra)
    return {name: value for name, value in values.items() if name not in omit}


def sign(key: SigningKey = ED, *, kid: str | None = "", **claim_options: Any) -> str:
    """A token signed by `key`; `kid` defaults to the key's own, None leaves it out."""
    headers = {} if kid is None else {"kid": kid or key.kid}
    return jwt.encode(claims(**claim_options), key.private, algorithm=key.alg, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], sign_with: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(sign_with(signing_input.encode()))}"


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda message: hmac.new(secret, message, hashlib.sha256).digest()


class JwksServer:
    """A JWKS endpoint on a loopback port; tests change its answer and count its hits."""

    def __init__(self, document: object) -> None:
        self.document = document
        self.status = 200
        self.hits = 0
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    server.hits += 1
                doc = server.document
                body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown() (which waits for the next poll) from slowing every test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/api/auth/jwks"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
            self._httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/auth/jwks"
