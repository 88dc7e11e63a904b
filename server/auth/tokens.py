"""Access tokens (JWT, HS256 pinned) and opaque refresh tokens; identity only, never scope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"
ACCESS = "access"
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti", "sub", "sid", "did", "typ"]


@dataclass(frozen=True)
class AccessClaims:
    """The identity an access token asserts: who, which login session, which device."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    device_id: uuid.UUID
    token_id: str


def issue_access_token(
    *,
    key: bytes,
    issuer: str,
    audience: str,
    ttl_seconds: int,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    device_id: uuid.UUID,
    now: datetime | None = None,
    token_id: str | None = None,
) -> str:
    """Sign a short-lived access token carrying identity claims only.

    `now` and `token_id` pin `iat` and `jti`, so a retried rotation can re-issue identical bytes.
    """
    now = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": token_id or uuid.uuid4().hex,
        "sub": str(user_id),
        "sid": str(session_id),
        "did": str(device_id),
        "typ": ACCESS,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode_access_token(token: str, *, key: bytes, issuer: str, audience: str) -> AccessClaims:
    """Verify signature, algorithm, issuer, audience, expiry and every required claim.

    Raises jwt.InvalidTokenError (or a subclass) on any failure.
    """
    claims = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        issuer=issuer,
        audience=audience,
        options={"require": REQUIRED_CLAIMS},
    )
    if claims.get("typ") != ACCESS:
        raise jwt.InvalidTokenError("not an access token")
    try:
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            device_id=uuid.UUID(claims["did"]),
            token_id=str(claims["jti"]),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise jwt.InvalidTokenError("malformed identity claim") from exc


def new_refresh_token() -> str:
    """Return a fresh opaque refresh token (shown to the client once, stored only hashed)."""
    return "rt_" + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """SHA-256 of a refresh token, the only form kept in the database."""
    return hashlib.sha256(token.encode()).hexdigest()


def _rotation_mac(key: bytes, purpose: bytes, token: str) -> bytes:
    # One key, separate purposes: the successor token and the access token id never coincide.
    return hmac.new(key, purpose + b"\x00" + token.encode(), hashlib.sha256).digest()


def successor_refresh_token(key: bytes, token: str) -> str:
    """The refresh token that replaces `token` on rotation.

    Derived, not random, so a client retrying a lost rotation gets the same successor back
    while the database keeps only hashes.
    """
    digest = _rotation_mac(key, b"refresh-successor", token)
    return "rt_" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def rotation_token_id(key: bytes, token: str) -> str:
    """The `jti` of the access token issued when `token` is rotated (deterministic, like the
    successor, and revealing nothing about it)."""
    return _rotation_mac(key, b"rotation-access-jti", token).hex()[:32]
