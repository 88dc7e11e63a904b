"""The unit of work every service use case runs in: one commit, or a rollback on any error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from server.extensions import db


@contextmanager
def transaction() -> Iterator[None]:
    """Commit the session when the block ends normally; roll it back on any exception."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
