"""The per-request authentication guard: token → session, device and user status from the DB."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import jwt
from flask import current_app, g, request
from sqlalchemy import select

from server.auth.models import AuthSession, Device, Role, User, UserStatus
from server.auth.principal import Principal
from server.auth.tokens import decode_access_token
from server.errors import (
    AccountDisabled,
    DeviceRevoked,
    Forbidden,
    InvalidToken,
    SessionRevoked,
    Unauthenticated,
)
from server.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


def authenticate(authorization: str | None) -> Principal:
    """Resolve an `Authorization: Bearer` header to a Principal, checking live state in the DB."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("Send an access token as `Authorization: Bearer <token>`.")
    config = current_app.config
    try:
        claims = decode_access_token(
            authorization[len("Bearer ") :].strip(),
            key=config["JWT_SIGNING_KEY"],
            issuer=config["JWT_ISSUER"],
            audience=config["JWT_AUDIENCE"],
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidToken() from exc
    # Columns, not entities: every request passes here, and loading three ORM objects (the
    # user's password hash among them) cost more than the query.
    row = db.session.execute(
        select(
            User.username,
            User.role,
            User.status,
            AuthSession.revoked_at.label("session_revoked_at"),
            AuthSession.expires_at,
            Device.revoked_at.label("device_revoked_at"),
        )
        .join(AuthSession, AuthSession.user_id == User.id)
        .join(Device, Device.id == AuthSession.device_id)
        .where(
            User.id == claims.user_id,
            AuthSession.id == claims.session_id,
            Device.id == claims.device_id,
        )
    ).one_or_none()
    if row is None:
        raise InvalidToken()
    if row.device_revoked_at is not None:
        raise DeviceRevoked()
    if row.status != UserStatus.ACTIVE:
        raise AccountDisabled()
    if row.session_revoked_at is not None or row.expires_at <= datetime.now(UTC):
        raise SessionRevoked()
    return Principal(
        user_id=claims.user_id,
        username=row.username,
        role=row.role,
        session_id=claims.session_id,
        device_id=claims.device_id,
    )


def require(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Guard a view: authenticate the caller and, when roles are given, require one of them."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = authenticate(request.headers.get("Authorization"))
            if roles and principal.role not in roles:
                raise Forbidden()
            g.principal = principal
            return view(*args, **kwargs)

        return guarded

    return decorate
