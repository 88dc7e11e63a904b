"""Where photo bytes live: a small store interface and its filesystem implementation.

The store is content-addressed: a blob's name is the SHA-256 of its bytes, and `write` refuses to
put bytes under a name they do not hash to. Resumable uploads stage their bytes as a "part"
(an S3-compatible store would map parts onto a multipart upload).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

READ_SIZE = 64 * 1024


class ContentMismatch(Exception):
    """The bytes do not hash to the name they were written under; nothing was kept."""


class BlobStore(Protocol):
    """What the service needs from a store of content-addressed bytes."""

    def has(self, sha256: str) -> bool:
        """True when the blob's bytes are stored."""
        ...

    def size(self, sha256: str) -> int:
        """The stored blob's length in bytes."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A binary reader over the stored blob (the caller closes it)."""
        ...

    def write(self, sha256: str, chunks: Iterable[bytes]) -> int:
        """Store the bytes atomically under `sha256` and return their length; raise
        ContentMismatch (keeping nothing) when they hash to something else."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the blob if it is stored."""
        ...

    def append_part(self, upload_id: uuid.UUID, offset: int, chunks: Iterable[bytes]) -> int:
        """Write `chunks` into the upload's part at `offset` (dropping anything beyond it) and
        return the part's new length once the bytes are durable."""
        ...

    def part_head(self, upload_id: uuid.UUID, length: int) -> bytes:
        """The first `length` bytes of the upload's part (fewer if it is shorter)."""
        ...

    def commit_part(self, upload_id: uuid.UUID, sha256: str) -> int:
        """Move a finished part into place as blob `sha256` and return its length; raise
        ContentMismatch (discarding the part) when it hashes to something else."""
        ...

    def discard_part(self, upload_id: uuid.UUID) -> None:
        """Forget an upload's part, if any."""
        ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(READ_SIZE):
        yield chunk


class FilesystemStore:
    """Blobs as files under `root/ab/cd/<sha256>`; staging in `root/tmp` and `root/parts`.

    Writes go to a temp file on the same filesystem, are fsynced, then renamed into place, so a
    reader never sees a half-written blob and a crash leaves at most a stray temp file.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where blob `sha256` lives (two levels of fan-out by hash prefix)."""
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def _part_path(self, upload_id: uuid.UUID) -> Path:
        return self.root / "parts" / f"{upload_id}.part"

    def _tmp_dir(self) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def has(self, sha256: str) -> bool:
        """True when the blob's file exists."""
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        """The blob file's length."""
        return self.path(sha256).stat().st_size

    def open(self, sha256: str) -> BinaryIO:
        """Open the blob file for reading."""
        return self.path(sha256).open("rb")

    def write(self, sha256: str, chunks: Iterable[bytes]) -> int:
        """Stream to a temp file while hashing; rename into place only if the hash matches."""
        fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix=sha256[:8], suffix=".tmp")
        tmp = Path(name)
        try:
            digest = hashlib.sha256()
            length = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    length += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise ContentMismatch(sha256)
            self._place(tmp, sha256)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return length

    def _place(self, tmp: Path, sha256: str) -> None:
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same name means same bytes, so replacing a concurrent writer's file is harmless.
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def delete(self, sha256: str) -> None:
        """Remove the blob file if present."""
        self.path(sha256).unlink(missing_ok=True)

    def append_part(self, upload_id: uuid.UUID, offset: int, chunks: Iterable[bytes]) -> int:
        """Truncate the part to `offset` (a dropped chunk may have left a tail), append, fsync."""
        path = self._part_path(upload_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+b") as out:
            out.truncate(offset)
            out.seek(offset)
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
            return out.tell()

    def part_head(self, upload_id: uuid.UUID, length: int) -> bytes:
        """Read the start of the part (empty if there is none)."""
        path = self._part_path(upload_id)
        if not path.is_file():
            return b""
        with path.open("rb") as handle:
            return handle.read(length)

    def commit_part(self, upload_id: uuid.UUID, sha256: str) -> int:
        """Hash the part; rename it into place when it matches, else delete it."""
        path = self._part_path(upload_id)
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in _read_chunks(handle):
                digest.update(chunk)
            length = handle.tell()
        if digest.hexdigest() != sha256:
            path.unlink(missing_ok=True)
            raise ContentMismatch(sha256)
        self._place(path, sha256)
        return length

    def discard_part(self, upload_id: uuid.UUID) -> None:
        """Delete the part file if present."""
        self._part_path(upload_id).unlink(missing_ok=True)
