"""Auth endpoints: login, refresh, logout and the caller's profile."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from server.auth import service
from server.auth.guard import require
from server.auth.principal import current_principal
from server.auth.schemas import LoginIn, MeOut, RefreshIn, TokenPairOut

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.post("/login")
def login() -> dict[str, Any]:
    """Exchange credentials and a device key for an access and a refresh token."""
    data = LoginIn().load(request.get_json())
    body: dict[str, Any] = TokenPairOut().dump(service.login(**data))
    return body


@bp.post("/refresh")
def refresh() -> dict[str, Any]:
    """Rotate a refresh token into a new pair."""
    data = RefreshIn().load(request.get_json())
    body: dict[str, Any] = TokenPairOut().dump(service.refresh(data["refresh_token"]))
    return body


@bp.post("/logout")
@require()
def logout() -> tuple[str, int]:
    """End the caller's session."""
    service.logout(current_principal())
    return "", 204


@bp.get("/me")
@require()
def me() -> dict[str, Any]:
    """Who the caller is, as the database says now, and which device they use."""
    body: dict[str, Any] = MeOut().dump(service.me(current_principal()))
    return body
