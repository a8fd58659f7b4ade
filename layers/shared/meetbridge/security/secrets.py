"""Random secrets (API keys, webhook secrets, join tokens) and their stored form."""

import hashlib
import hmac
import secrets as _random


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """An unguessable secret with a readable prefix that says what it is (256 bits by default)."""
    return f'{prefix}_{_random.token_urlsafe(nbytes)}'


def digest(secret: str) -> str:
    """The stored form of a high-entropy secret; a plain hash suffices because it cannot be guessed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
