"""Login with lockout, refresh-token rotation with reuse detection, logout and the caller.

Each public use case is one transaction. Refusals that must still be recorded (a failed login
counted, a reused token's session revoked) are returned by the inner step, committed, and only
then raised, so the record survives the error.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import select, update

from server.audit.service import Actor, record_access
from server.auth.models import AuthSession, Device, RefreshToken, User, UserStatus
from server.auth.passwords import verify_password
from server.auth.principal import Principal
from server.auth.tokens import (
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    rotation_token_id,
    successor_refresh_token,
)
from server.errors import (
    AccountDisabled,
    DeviceRevoked,
    DomainError,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    SessionRevoked,
)
from server.extensions import db
from server.transaction import transaction

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class TokenPair:
    """What a client receives on login and on refresh."""

    access_token: str
    expires_in: int
    refresh_token: str
    user: User


@dataclass(frozen=True)
class Caller:
    """The authenticated user and the device of the current session."""

    user: User
    device: Device


def login(
    *,
    username: str,
    password: str,
    device_key: str,
    device_name: str | None = None,
    app_version: str | None = None,
) -> TokenPair:
    """Check the password (with lockout), register the device and open a session on it."""
    with transaction():
        result = _login(username, password, device_key, device_name, app_version)
    return _unwrap(result)


def refresh(presented: str) -> TokenPair:
    """Rotate a refresh token; a retry within the grace window gets the same pair again,
    a later reuse revokes the whole session."""
    with transaction():
        result = _refresh(presented)
    return _unwrap(result)


def logout(principal: Principal) -> None:
    """End the caller's session: its access and refresh tokens stop working."""
    with transaction():
        revoke_sessions(reason="logout", session_id=principal.session_id)
        record_access("logout", "auth_session", [principal.session_id], actor=principal)


def me(principal: Principal) -> Caller:
    """The caller's user row and the device of this session, read now."""
    user = db.session.get(User, principal.user_id)
    device = db.session.get(Device, principal.device_id)
    if user is None or device is None:
        raise NotFound()
    return Caller(user=user, device=device)


def revoke_sessions(
    *,
    reason: str,
    session_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
) -> None:
    """Revoke the live sessions matching the given ids, inside the caller's transaction."""
    statement = update(AuthSession).where(AuthSession.revoked_at.is_(None))
    if session_id is not None:
        statement = statement.where(AuthSession.id == session_id)
    if user_id is not None:
        statement = statement.where(AuthSession.user_id == user_id)
    if device_id is not None:
        statement = statement.where(AuthSession.device_id == device_id)
    db.session.execute(statement.values(revoked_at=_now(), revoked_reason=reason))


def _unwrap(result: T | DomainError) -> T:
    if isinstance(result, DomainError):
        raise result
    return result


def _now() -> datetime:
    return datetime.now(UTC)


def _login(
    username: str,
    password: str,
    device_key: str,
    device_name: str | None,
    app_version: str | None,
) -> TokenPair | DomainError:
    now = _now()
    # The row lock serialises concurrent attempts, so the failure count cannot be raced past.
    user = db.session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None:
        verify_password(None, password)
        log.info("login refused", extra={"reason": "unknown_user"})
        # No actor and nothing of the attempt: the name tried may be someone's password.
        record_access(
            "login", "user", [], result="refused", detail={"reason": "invalid_credentials"}
        )
        return InvalidCredentials()
    # Verified before any other check so every refusal costs the same argon2 work.
    password_ok = verify_password(user.password_hash, password)
    if user.locked_until is not None and user.locked_until > now:
        log.info("login refused", extra={"reason": "locked", "user_id": str(user.id)})
        _audit_refusal(user, "locked")
        return InvalidCredentials()
    if not password_ok:
        _count_failure(user, now)
        _audit_refusal(user, "wrong_password")
        return InvalidCredentials()
    if user.status != UserStatus.ACTIVE:
        log.info("login refused", extra={"reason": "disabled", "user_id": str(user.id)})
        _audit_refusal(user, "disabled")
        return InvalidCredentials()
    user.failed_logins = 0
    user.locked_until = None
    device = _register_device(user, device_key, device_name, app_version, now)
    if device is None:
        log.info("login refused", extra={"reason": "device_revoked", "user_id": str(user.id)})
        _audit_refusal(user, "device_revoked")
        return DeviceRevoked()
    session = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        device_id=device.id,
        expires_at=now + timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL"]),
    )
    db.session.add(session)
    db.session.flush()
    refresh_token = new_refresh_token()
    db.session.add(
        RefreshToken(
            id=uuid.uuid4(), session_id=session.id, token_hash=hash_refresh_token(refresh_token)
        )
    )
    record_access(
        "login",
        "user",
        [user.id],
        detail={"session_id": session.id},
        actor=Principal(user.id, user.username, user.role, session.id, device.id),
    )
    log.info(
        "login succeeded",
        extra={"user_id": str(user.id), "device_id": str(device.id), "session_id": str(session.id)},
    )
    return _pair(user, session, device, refresh_token, issued_at=now, now=now)


def _audit_refusal(user: User, reason: str) -> None:
    """Audit a refused login of a known account; login() commits it before raising."""
    record_access(
        "login", "user", [user.id], result="refused", detail={"reason": reason}, actor=_actor(user)
    )


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, role=user.role)


def _count_failure(user: User, now: datetime) -> None:
    config = current_app.config
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins < config["LOGIN_MAX_FAILURES"]:
        log.info("login refused", extra={"reason": "wrong_password", "user_id": str(user.id)})
        return
    # Locking starts a fresh count, so after the lock expires the user gets a full set of tries.
    user.failed_logins = 0
    user.locked_until = now + timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
    record_access(
        "lockout", "user", [user.id], detail={"until": user.locked_until}, actor=_actor(user)
    )
    log.warning("account locked after repeated failed logins", extra={"user_id": str(user.id)})


def _register_device(
    user: User, device_key: str, name: str | None, app_version: str | None, now: datetime
) -> Device | None:
    """The user's device with this key, created or updated; None when it has been revoked."""
    device = db.session.scalar(
        select(Device)
        .where(Device.user_id == user.id, Device.device_key == device_key)
        .with_for_update()
    )
    if device is not None and device.revoked_at is not None:
        return None
    if device is None:
        device = Device(id=uuid.uuid4(), user_id=user.id, device_key=device_key)
        db.session.add(device)
    if name is not None:
        device.name = name
    if app_version is not None:
        device.app_version = app_version
    device.last_seen_at = now
    db.session.flush()
    return device


def _refresh(presented: str) -> TokenPair | DomainError:
    now = _now()
    token = db.session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == hash_refresh_token(presented))
        .with_for_update()
    )
    if token is None:
        return InvalidToken()
    # Lock order device → session, the same as device revocation, so the two cannot deadlock.
    session, device, user = db.session.execute(
        select(AuthSession, Device, User)
        .join(Device, Device.id == AuthSession.device_id)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == token.session_id)
        .with_for_update(of=Device)
    ).one()
    refusal = _refusal(session, device, user, now)
    if refusal is not None:
        return refusal
    key = current_app.config["JWT_SIGNING_KEY"]
    if token.rotated_at is None:
        return _rotate(token, presented, session, device, user, now)
    if _is_lost_response_retry(token, now):
        return _pair(
            user,
            session,
            device,
            successor_refresh_token(key, presented),
            issued_at=token.rotated_at,
            now=now,
            token_id=rotation_token_id(key, presented),
        )
    session.revoked_at = now
    session.revoked_reason = "refresh_reuse"
    # Committed with the revocation before SessionRevoked is raised.
    record_access(
        "revoke_session",
        "auth_session",
        [session.id],
        reason="refresh_reuse",
        actor=Principal(user.id, user.username, user.role, session.id, device.id),
    )
    log.warning(
        "rotated refresh token presented again; session revoked",
        extra={"user_id": str(user.id), "device_id": str(device.id), "session_id": str(session.id)},
    )
    return SessionRevoked()


def _refusal(session: AuthSession, device: Device, user: User, now: datetime) -> DomainError | None:
    if device.revoked_at is not None:
        return DeviceRevoked()
    if user.status != UserStatus.ACTIVE:
        return AccountDisabled()
    if session.revoked_at is not None or session.expires_at <= now:
        return SessionRevoked()
    return None


def _rotate(
    token: RefreshToken,
    presented: str,
    session: AuthSession,
    device: Device,
    user: User,
    now: datetime,
) -> TokenPair:
    key = current_app.config["JWT_SIGNING_KEY"]
    successor = successor_refresh_token(key, presented)
    replacement = RefreshToken(
        id=uuid.uuid4(), session_id=session.id, token_hash=hash_refresh_token(successor)
    )
    db.session.add(replacement)
    db.session.flush()
    token.rotated_at = now
    token.replaced_by_id = replacement.id
    device.last_seen_at = now
    return _pair(
        user,
        session,
        device,
        successor,
        issued_at=now,
        now=now,
        token_id=rotation_token_id(key, presented),
    )


def _is_lost_response_retry(token: RefreshToken, now: datetime) -> bool:
    """A rotated token is honoured again only briefly, and only while its successor is unused."""
    assert token.rotated_at is not None
    grace = timedelta(seconds=current_app.config["REFRESH_REUSE_GRACE"])
    if now - token.rotated_at > grace or token.replaced_by_id is None:
        return False
    successor = db.session.get(RefreshToken, token.replaced_by_id)
    return successor is not None and successor.rotated_at is None


def _pair(
    user: User,
    session: AuthSession,
    device: Device,
    refresh_token: str,
    *,
    issued_at: datetime,
    now: datetime,
    token_id: str | None = None,
) -> TokenPair:
    """The response pair; `expires_in` counts from `now`, which is later than `issued_at` only
    when a lost rotation response is handed out again."""
    config: Any = current_app.config
    ttl = int(config["ACCESS_TOKEN_TTL"])
    access_token = issue_access_token(
        key=config["JWT_SIGNING_KEY"],
        issuer=config["JWT_ISSUER"],
        audience=config["JWT_AUDIENCE"],
        ttl_seconds=ttl,
        user_id=user.id,
        session_id=session.id,
        device_id=device.id,
        now=issued_at,
        token_id=token_id,
    )
    remaining = int(issued_at.timestamp()) + ttl - int(now.timestamp())
    return TokenPair(
        access_token=access_token,
        expires_in=max(0, min(ttl, remaining)),
        refresh_token=refresh_token,
        user=user,
    )
