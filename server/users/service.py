"""User administration: accounts, password resets, unlocking, and device revocation."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from server.audit.service import record_access
from server.auth.models import Device, Role, User, UserStatus
from server.auth.passwords import hash_password
from server.auth.principal import Principal
from server.auth.service import revoke_sessions
from server.errors import Conflict, Duplicate, InvalidInput, NotFound
from server.extensions import db
from server.transaction import transaction

log = logging.getLogger(__name__)


def list_users(
    *, role: Role | None = None, status: UserStatus | None = None, limit: int, offset: int
) -> list[User]:
    """Users ordered by username, optionally only one role or status."""
    query = select(User).order_by(User.username).limit(limit).offset(offset)
    if role is not None:
        query = query.where(User.role == role)
    if status is not None:
        query = query.where(User.status == status)
    return list(db.session.scalars(query))


def password_problem(password: str, username: str) -> str | None:
    """Why `password` may not be set for `username` (length is the schema's job), or None."""
    if username.casefold() in password.casefold():
        return "The password may not contain the username."
    if len(set(password)) < 4:
        return "The password needs at least 4 different characters."
    return None


def _check_password(password: str, username: str) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput({"password": [problem]})


def create_user(
    *, username: str, display_name: str, password: str, role: Role, actor: Principal
) -> User:
    """Create an active account; a taken username is a Duplicate."""
    _check_password(password, username)
    with transaction():
        if db.session.scalar(select(exists().where(User.username == username))):
            raise Duplicate("That username is taken.")
        user = User(
            id=uuid.uuid4(),
            username=username,
            display_name=display_name,
            password_hash=hash_password(password),
            role=role,
            status=UserStatus.ACTIVE,
            failed_logins=0,
        )
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError as exc:  # a concurrent create won the race for the name
            raise Duplicate("That username is taken.") from exc
        record_access("create", "user", [user.id], detail={"role": role.value}, actor=actor)
        log.info("user created", extra={"user_id": str(user.id), "actor_id": str(actor.user_id)})
    return user


def get_user(user_id: uuid.UUID) -> User:
    """One user, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def update_user(
    user_id: uuid.UUID,
    *,
    actor: Principal,
    display_name: str | None = None,
    status: UserStatus | None = None,
    password: str | None = None,
    unlock: bool = False,
) -> User:
    """Apply an admin's changes; a password reset ends every session of the user."""
    with transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such user.")
        if status == UserStatus.DISABLED and user.id == actor.user_id:
            raise Conflict("An admin cannot disable their own account.")
        changed: list[str] = []
        if display_name is not None:
            user.display_name = display_name
            changed.append("display_name")
        if status is not None:
            user.status = status
            changed.append("status")
        if password is not None:
            _check_password(password, user.username)
            user.password_hash = hash_password(password)
            revoke_sessions(reason="password_reset", user_id=user.id)
            changed.append("password")
        if unlock:
            user.failed_logins = 0
            user.locked_until = None
            changed.append("unlock")
        _audit_update(user, changed, actor)
        log.info(
            "user updated",
            extra={"user_id": str(user.id), "actor_id": str(actor.user_id), "changed": changed},
        )
    return user


def _audit_update(user: User, changed: list[str], actor: Principal) -> None:
    """One row per kind of change, so an auditor can ask for disables or resets directly."""
    plain = [field for field in changed if field not in ("status", "password", "unlock")]
    if "status" in changed:
        if user.status == UserStatus.DISABLED:
            record_access("disable", "user", [user.id], actor=actor)
        else:
            plain.append("status")
    if "password" in changed:
        record_access("password_reset", "user", [user.id], actor=actor)
    if "unlock" in changed:
        record_access("unlock", "user", [user.id], actor=actor)
    if plain:
        record_access("update", "user", [user.id], detail={"fields": sorted(plain)}, actor=actor)


def list_devices(user_id: uuid.UUID) -> list[Device]:
    """The user's devices, newest first, revoked ones included."""
    get_user(user_id)
    return list(
        db.session.scalars(
            select(Device)
            .where(Device.user_id == user_id)
            .order_by(Device.created_at.desc(), Device.id)
        )
    )


def revoke_device(user_id: uuid.UUID, device_id: uuid.UUID, *, actor: Principal) -> Device:
    """Mark the device revoked and end its sessions; the user's other devices keep working."""
    with transaction():
        device = db.session.scalar(
            select(Device)
            .where(Device.id == device_id, Device.user_id == user_id)
            .with_for_update()
        )
        if device is None:
            raise NotFound("No such device for this user.")
        if device.revoked_at is None:
            device.revoked_at = datetime.now(UTC)
            device.revoked_by = actor.user_id
        revoke_sessions(reason="device_revoked", device_id=device.id)
        record_access("revoke", "device", [device.id], detail={"user_id": user_id}, actor=actor)
        log.warning(
            "device revoked",
            extra={
                "user_id": str(user_id),
                "device_id": str(device.id),
                "actor_id": str(actor.user_id),
            },
        )
    return device
