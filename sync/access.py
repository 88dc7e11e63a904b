"""Who is pushing, and the callback through which `server` decides what they may touch."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Device:
    """The pushing or pulling device and its user (already authenticated by the caller)."""

    device_id: uuid.UUID
    user_id: uuid.UUID
    app_version: str | None = None


class Access(StrEnum):
    """The answer for one op's record."""

    NOW = "now"  # in the user's scope now
    AT_EDIT_TIME = "at_edit_time"  # out of scope now, but assigned when the edit was made
    NEVER = "never"  # the user never had this record


@dataclass(frozen=True)
class AccessCheck:
    """One question to the callback: may this user write this record, edited at `edited_at`?"""

    op_id: uuid.UUID
    record_type: str
    record_id: uuid.UUID
    grid_id: uuid.UUID | None
    scope_path: tuple[uuid.UUID, ...]
    edited_at: datetime
    creating: bool


# One call per batch, so `server` can answer with one query over assignment history.
AuthorizeFn = Callable[[Sequence[AccessCheck]], Mapping[uuid.UUID, Access]]
