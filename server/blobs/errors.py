"""The conditions a photo upload can end in, beyond the shared ones in server/errors.py."""

from __future__ import annotations

from typing import Any

from server.errors import Conflict, InvalidInput


class HashMismatch(InvalidInput):
    """The bytes received do not hash to the SHA-256 they were sent under; nothing was kept."""

    code = "hash_mismatch"
    title = "The content does not match its SHA-256"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__({"sha256": ["The uploaded bytes hash to a different value."]}, detail)
        self.extra.update(extra)


class UploadOffsetMismatch(Conflict):
    """A chunk did not start where the upload stands; `offset` says where to resume."""

    code = "upload_offset_mismatch"
    title = "The chunk does not start at the upload's current offset"
