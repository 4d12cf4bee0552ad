"""One-time links in mail: a random token in the link, only its SHA-256 hash in the database."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100  # anything longer is not one of ours: no need to hash or look it up


def new_token() -> tuple[str, str]:
    """A fresh token for a link, and the hash to store."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_LENGTH
