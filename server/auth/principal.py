"""The authenticated caller of the current request, as read from the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import g

from server.auth.models import Role
from server.errors import Unauthenticated


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their role (from the database), the session and the device."""

    user_id: uuid.UUID
    username: str
    role: Role
    session_id: uuid.UUID
    device_id: uuid.UUID


def current_principal() -> Principal:
    """Return the caller authenticated by `require`; raises if the view was not guarded."""
    principal = g.get("principal")
    if principal is None:
        raise Unauthenticated()
    assert isinstance(principal, Principal)
    return principal
