"""Which image type a photo's first bytes say it is (pure; no I/O)."""

from __future__ import annotations

# Enough bytes to recognise every accepted type (HEIC's brand ends at byte 12).
HEAD_BYTES = 12
HEIC_BRANDS = (b"heic", b"heix", b"mif1")


def sniff(head: bytes) -> str | None:
    """The media type the magic bytes at the start of a file announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIC_BRANDS:
        return "image/heic"
    return None


def matches(declared: str, head: bytes) -> bool:
    """True when the declared media type is what the first bytes show."""
    return sniff(head) == declared
