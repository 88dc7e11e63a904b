"""Password hashing with Argon2id (memory-hard), via argon2-cffi."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

# A hash verified against when the username is unknown, so both failures cost the same time.
_DUMMY_PASSWORD = "gridwork-timing-equaliser"  # noqa: S105 - not a credential


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config.get("ARGON2_TIME_COST", 3),
        memory_cost=config.get("ARGON2_MEMORY_KIB", 65536),
        parallelism=config.get("ARGON2_PARALLELISM", 2),
    )


@functools.lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    # Hashed once per parameter set, so an unknown user costs one verification, not two.
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    return str(hasher.hash(_DUMMY_PASSWORD))


def hash_password(password: str) -> str:
    """Return an Argon2id hash of `password`."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an unknown user (`None`) still pays for one verification."""
    hasher = _hasher()
    try:
        if password_hash is None:
            dummy = _dummy_hash(hasher.time_cost, hasher.memory_cost, hasher.parallelism)
            hasher.verify(dummy, password)
            return False
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
