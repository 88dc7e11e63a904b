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
