"""The filesystem store: fan-out by hash prefix, atomic writes that refuse a wrong name."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from server.blobs.storage import ContentMismatch, FilesystemStore
from tests.factories import jpeg_bytes, sha256_hex


def test_a_blob_lands_under_two_levels_of_hash_prefix(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    content = jpeg_bytes()
    name = sha256_hex(content)
    assert store.write(name, [content[:100], content[100:]]) == len(content)
    assert store.path(name) == tmp_path / name[:2] / name[2:4] / name
    assert store.has(name)
    assert store.size(name) == len(content)
    with store.open(name) as handle:
        assert handle.read() == content


def test_bytes_that_hash_to_another_name_leave_nothing_behind(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    name = sha256_hex(b"something else")
    with pytest.raises(ContentMismatch):
        store.write(name, [jpeg_bytes()])
    assert not store.has(name)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_part_is_cut_back_to_the_offset_before_appending(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    content = jpeg_bytes(3000)
    upload_id = uuid.uuid4()
    store.append_part(upload_id, 0, [content[:1000]])
    # A dropped chunk left 500 stray bytes past the durable offset of 1000.
    store.append_part(upload_id, 1000, [content[1000:1500]])
    assert store.append_part(upload_id, 1000, [content[1000:]]) == 3000
    assert store.commit_part(upload_id, sha256_hex(content)) == 3000
    with store.open(sha256_hex(content)) as handle:
        assert handle.read() == content


def test_deleting_a_blob_removes_its_file(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    content = jpeg_bytes()
    store.write(sha256_hex(content), [content])
    store.delete(sha256_hex(content))
    assert not store.has(sha256_hex(content))
