"""The pull cursor: a settled change-log position below which nothing can still appear, a tail
position for paging through newer visible entries, and the grid set the phone held when it was
issued (so a lost response never loses a scope diff)."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

import orjson

from sync.errors import InvalidCursor

_VERSION = 1


@dataclass(frozen=True, order=True)
class Position:
    """(txid, seq) in the change log; every entry at or before it has been delivered."""

    txid: int
    seq: int


@dataclass(frozen=True)
class Cursor:
    """Where the phone's feed stands and which grids it holds.

    `position` only ever passes transactions that had ended, so it is what guarantees delivery;
    `tail` lets the phone page through entries of newer transactions, which the feed will send
    again once they settle (a late commit below `tail` is then caught from `position`).
    """

    position: Position
    tail: Position
    grids: frozenset[uuid.UUID]

    def encode(self) -> str:
        """An opaque URL-safe token."""
        body = {
            "v": _VERSION,
            "t": self.position.txid,
            "s": self.position.seq,
            "tt": self.tail.txid,
            "ts": self.tail.seq,
            "g": sorted(str(g) for g in self.grids),
        }
        return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


# Transaction ids and log sequence numbers are PostgreSQL bigints in practice (xid8 would allow
# twice as much, reached after centuries of writes); anything larger was not made by this server.
_LARGEST = 2**63 - 1


def decode_cursor(token: str) -> Cursor:
    """Parse a token made by Cursor.encode; raise InvalidCursor otherwise."""
    try:
        padded = token + "=" * (-len(token) % 4)
        body = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if body.get("v") != _VERSION:
            raise InvalidCursor("unknown cursor version")
        txid, seq = int(body["t"]), int(body["s"])
        tail = Position(int(body["tt"]), int(body["ts"]))
        grids = frozenset(uuid.UUID(g) for g in body["g"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as bad:
        raise InvalidCursor(f"unreadable cursor: {bad}") from bad
    if min(txid, seq, tail.txid, tail.seq) < 0:
        raise InvalidCursor("negative cursor position")
    if max(txid, seq, tail.txid, tail.seq) > _LARGEST:
        raise InvalidCursor("cursor position out of range")
    return Cursor(Position(txid, seq), tail, grids)
