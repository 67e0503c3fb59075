"""Password hashing and signed session tokens.

Passwords are hashed with argon2id. A session token is 32 random bytes plus
an HMAC-SHA256 signature made with the server's secret key: a forged or
mangled cookie is rejected without touching the database, and only the
SHA-256 of the token is ever stored, so a copy of the database (or of a
Litestream replica) holds no usable token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current parameters

# Verifying against this keeps a login for an unknown user as slow as a real one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_secret() -> str:
    return secrets.token_urlsafe(48)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenSigner:
    """Issues and checks ``<random>.<signature>`` session tokens."""

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(secret_key.encode("utf-8")).digest()

    def _sign(self, raw: str) -> str:
        digest = hmac.new(self._key, raw.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest)

    def issue(self) -> str:
        raw = _b64(secrets.token_bytes(32))
        return f"{raw}.{self._sign(raw)}"

    def verify(self, token: str) -> bool:
        raw, dot, signature = token.partition(".")
        if not dot or not raw or len(token) > 200 or not raw.isascii():
            return False
        return hmac.compare_digest(self._sign(raw), signature)


def token_hash(token: str) -> str:
    """The form in which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
