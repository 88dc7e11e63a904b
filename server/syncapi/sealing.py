"""Personal identifiers pushed by phones: normalized, encrypted and keyed-hashed on the way in.

The ciphertext has the web API's format (nonce + AES-256-GCM under DATA_ENCRYPTION_KEY, bound to
the same context), so `server.privacy.crypto.decrypt_field` opens it and the registry shows it.
The nonce is derived from the value (a synthetic IV) instead of drawn at random: a replayed op
must hash to the same payload, and equal values must compare equal in the merge. This reveals
only what the keyed lookup hash already reveals (that two values are equal).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from server.privacy.crypto import NONCE_BYTES, decrypt_field, lookup_hash

_NONCE_LABEL = b"gridwork sync synthetic nonce"


def _data_key() -> bytes:
    key = current_app.config["DATA_ENCRYPTION_KEY"]
    assert isinstance(key, bytes)
    return key


def seal_stable(value: str, context: str) -> str:
    """The value sealed for `context`, as PostgreSQL bytea text (`\\x<hex>`), deterministic."""
    key = _data_key()
    nonce_key = hmac.new(key, _NONCE_LABEL, hashlib.sha256).digest()
    message = context.encode() + b"\x00" + value.encode()
    nonce = hmac.new(nonce_key, message, hashlib.sha256).digest()[:NONCE_BYTES]
    sealed = AESGCM(key).encrypt(nonce, value.encode(), context.encode())
    return "\\x" + (nonce + sealed).hex()


def open_stored(text: object, context: str) -> str | None:
    """Decrypt a bytea-text value (as pushed or as `to_jsonb` stores it); None if it is not ours."""
    if not isinstance(text, str) or not text.startswith("\\x"):
        return None
    try:
        return decrypt_field(bytes.fromhex(text[2:]), context=context)
    except ValueError:
        return None


def keyed_hash(value: str, context: str) -> str:
    """The registry's lookup hash of a normalized value."""
    return lookup_hash(value, context=context)
