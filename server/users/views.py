"""User administration endpoints (admins only)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, request

from server.auth.guard import require
from server.auth.models import Role
from server.auth.principal import current_principal
from server.auth.schemas import DeviceOut
from server.users import service
from server.users.schemas import (
    DeviceListOut,
    UserCreateIn,
    UserListOut,
    UserListQuery,
    UserOut,
    UserPatchIn,
)

bp = Blueprint("users", __name__, url_prefix="/api/v1/users")


@bp.get("")
@require(Role.ADMIN)
def list_users() -> dict[str, Any]:
    """List users, optionally filtered by role or status."""
    query = UserListQuery().load(request.args)
    body: dict[str, Any] = UserListOut().dump({"items": service.list_users(**query)})
    return body


@bp.post("")
@require(Role.ADMIN)
def create_user() -> tuple[dict[str, Any], int]:
    """Create an account."""
    data = UserCreateIn().load(request.get_json())
    body: dict[str, Any] = UserOut().dump(service.create_user(**data, actor=current_principal()))
    return body, 201


@bp.get("/<uuid:user_id>")
@require(Role.ADMIN)
def get_user(user_id: uuid.UUID) -> dict[str, Any]:
    """One user."""
    body: dict[str, Any] = UserOut().dump(service.get_user(user_id))
    return body


@bp.patch("/<uuid:user_id>")
@require(Role.ADMIN)
def update_user(user_id: uuid.UUID) -> dict[str, Any]:
    """Rename, enable or disable, reset the password or unlock an account."""
    data = UserPatchIn().load(request.get_json())
    user = service.update_user(user_id, **data, actor=current_principal())
    body: dict[str, Any] = UserOut().dump(user)
    return body


@bp.get("/<uuid:user_id>/devices")
@require(Role.ADMIN)
def list_devices(user_id: uuid.UUID) -> dict[str, Any]:
    """The user's devices with when each was last seen and whether it is revoked."""
    body: dict[str, Any] = DeviceListOut().dump({"items": service.list_devices(user_id)})
    return body


@bp.post("/<uuid:user_id>/devices/<uuid:device_id>/revoke")
@require(Role.ADMIN)
def revoke_device(user_id: uuid.UUID, device_id: uuid.UUID) -> dict[str, Any]:
    """Revoke a lost or stolen device: its sessions end and it can no longer sign in."""
    device = service.revoke_device(user_id, device_id, actor=current_principal())
    body: dict[str, Any] = DeviceOut().dump(device)
    return body
