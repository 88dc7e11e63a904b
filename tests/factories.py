"""Plain factories for tests: rows written straight through the models, committed."""

from __future__ import annotations

import itertools
import uuid

from server.auth.models import Role, User
from server.auth.passwords import hash_password
from server.extensions import db

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct horse battery"


def make_user(role: Role = Role.WORKER, username: str | None = None, **fields: object) -> User:
    """Create and commit a user whose password is DEFAULT_PASSWORD."""
    user = User(
        id=uuid.uuid4(),
        username=username or f"{role.value}{next(_counter)}",
        display_name=fields.pop("display_name", "Test User"),
        password_hash=hash_password(str(fields.pop("password", DEFAULT_PASSWORD))),
        role=role,
        **fields,
    )
    db.session.add(user)
    db.session.commit()
    return user


def auth_headers(user: User, device_key: str = "phone-1") -> dict[str, str]:
    """Open a session for `user` on a device (created if new) and return Bearer headers.

    Goes straight to the models and token issuer, so tests of other domains need not log in.
    """
    from datetime import UTC, datetime, timedelta

    from flask import current_app
    from sqlalchemy import select

    from server.auth.models import AuthSession, Device
    from server.auth.tokens import issue_access_token

    device = db.session.scalar(
        select(Device).where(Device.user_id == user.id, Device.device_key == device_key)
    )
    if device is None:
        device = Device(id=uuid.uuid4(), user_id=user.id, device_key=device_key, name=device_key)
        db.session.add(device)
    session = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        device_id=device.id,
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    db.session.add(session)
    db.session.commit()
    config = current_app.config
    token = issue_access_token(
        key=config["JWT_SIGNING_KEY"],
        issuer=config["JWT_ISSUER"],
        audience=config["JWT_AUDIENCE"],
        ttl_seconds=config["ACCESS_TOKEN_TTL"],
        user_id=user.id,
        session_id=session.id,
        device_id=device.id,
    )
    return {"Authorization": f"Bearer {token}"}
