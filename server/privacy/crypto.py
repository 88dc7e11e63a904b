"""Field-level encryption (AES-256-GCM) and keyed lookup hashes for personal identifiers.

A ciphertext is bound to its `context` (e.g. "person.id_number") as associated data, so a blob
copied into another column fails to decrypt instead of leaking under the wrong label. Lookup
hashes let the database find a person by ID number without storing it in the clear.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

NONCE_BYTES = 12
KEY_BYTES = 32


class UndecryptableField(ValueError):
    """The blob was tampered with, belongs to another context, or was sealed with another key."""


def _key(name: str) -> bytes:
    key = current_app.config[name]
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise RuntimeError(f"{name} must be {KEY_BYTES} bytes")
    return key


def encrypt_field(plaintext: str, *, context: str) -> bytes:
    """Seal `plaintext` as nonce (12 random bytes) + AES-256-GCM ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key("DATA_ENCRYPTION_KEY")).encrypt(
        nonce, plaintext.encode("utf-8"), context.encode("utf-8")
    )
    return nonce + sealed


def decrypt_field(blob: bytes, *, context: str) -> str:
    """Open a blob made by `encrypt_field` for the same `context`; raise UndecryptableField."""
    if len(blob) <= NONCE_BYTES:
        raise UndecryptableField("ciphertext too short")
    nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        plain = AESGCM(_key("DATA_ENCRYPTION_KEY")).decrypt(nonce, sealed, context.encode("utf-8"))
    except InvalidTag:
        raise UndecryptableField("authentication failed") from None
    return plain.decode("utf-8")


def lookup_hash(value: str, *, context: str) -> str:
    """Hex HMAC-SHA256 of context + NUL + value under LOOKUP_HASH_KEY (callers normalize first)."""
    message = (context + "\x00" + value).encode("utf-8")
    return hmac.new(_key("LOOKUP_HASH_KEY"), message, hashlib.sha256).hexdigest()
