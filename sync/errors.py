"""Errors the sync engine raises for a whole request; `server` maps them to HTTP problems."""

from __future__ import annotations


class SyncError(Exception):
    """Base of the engine's request-level errors (per-op failures are results, not errors)."""

    code = "sync_error"


class BatchTooLarge(SyncError):
    """The push has more ops or more bytes than allowed; nothing was applied."""

    code = "batch_too_large"

    def __init__(self, ops: int, size: int, max_ops: int, max_bytes: int) -> None:
        super().__init__(f"batch of {ops} ops / {size} bytes exceeds {max_ops} ops / {max_bytes}")
        self.ops = ops
        self.size = size
        self.max_ops = max_ops
        self.max_bytes = max_bytes


class InvalidCursor(SyncError):
    """The pull cursor cannot be decoded."""

    code = "invalid_cursor"
