"""Magic bytes decide what a photo is, whatever its declared type says."""

from __future__ import annotations

from server.blobs.media import matches, sniff
from tests.factories import JPEG_MAGIC, PNG_MAGIC


def test_jpeg_png_webp_and_heic_are_recognised_by_their_first_bytes() -> None:
    assert sniff(JPEG_MAGIC) == "image/jpeg"
    assert sniff(PNG_MAGIC) == "image/png"
    assert sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"\x00\x00\x00\x18ftypheic") == "image/heic"
    assert sniff(b"\x00\x00\x00\x18ftypheix") == "image/heic"
    assert sniff(b"\x00\x00\x00\x18ftypmif1") == "image/heic"


def test_other_content_is_not_a_photo() -> None:
    assert sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3") is None
    assert sniff(b"RIFF\x10\x00\x00\x00WAVEfmt ") is None
    assert sniff(b"\x00\x00\x00\x18ftypisom") is None
    assert sniff(b"") is None


def test_a_declared_type_must_be_what_the_bytes_show() -> None:
    assert matches("image/jpeg", JPEG_MAGIC)
    assert not matches("image/png", JPEG_MAGIC)
