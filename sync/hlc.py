"""Hybrid logical clock: wall milliseconds + counter + node id, encoded as a sortable string.

Phone clocks lie, so ordering between edits uses these stamps, never raw timestamps, and a stamp
far ahead of the server is clamped (and the clamp reported) before it can win every race.
"""

from __future__ import annotations

from dataclasses import dataclass

# Fixed-width decimal fields make lexicographic order equal to (wall_ms, counter, node) order.
_WALL_DIGITS = 15
_COUNTER_DIGITS = 5
MAX_COUNTER = 10**_COUNTER_DIGITS - 1
SERVER_NODE = "server"


class InvalidStamp(ValueError):
    """A stamp string that is not `<15 digits>-<5 digits>-<node>`."""


@dataclass(frozen=True, order=True)
class Stamp:
    """One HLC reading; ordering is (wall_ms, counter, node)."""

    wall_ms: int
    counter: int
    node: str

    def encode(self) -> str:
        """Return the sortable string form, e.g. `001767225600000-00003-phone-7`."""
        return f"{self.wall_ms:0{_WALL_DIGITS}d}-{self.counter:0{_COUNTER_DIGITS}d}-{self.node}"


def decode(text: str) -> Stamp:
    """Parse an encoded stamp; raise InvalidStamp on anything else."""
    parts = text.split("-", 2)
    if (
        len(parts) != 3
        or len(parts[0]) != _WALL_DIGITS
        or len(parts[1]) != _COUNTER_DIGITS
        or not parts[0].isdigit()
        or not parts[1].isdigit()
        or not parts[2]
    ):
        raise InvalidStamp(text)
    return Stamp(int(parts[0]), int(parts[1]), parts[2])


def _bump(wall_ms: int, counter: int, node: str) -> Stamp:
    # A full counter spills into the wall clock rather than breaking the fixed-width encoding.
    if counter > MAX_COUNTER:
        return Stamp(wall_ms + 1, 0, node)
    return Stamp(wall_ms, counter, node)


def tick(last: Stamp, now_ms: int) -> Stamp:
    """Return the stamp for a local event after `last` at physical time `now_ms`."""
    if now_ms > last.wall_ms:
        return Stamp(now_ms, 0, last.node)
    return _bump(last.wall_ms, last.counter + 1, last.node)


def receive(local: Stamp, remote: Stamp, now_ms: int) -> Stamp:
    """Return the local clock after receiving `remote` at physical time `now_ms` (HLC rule)."""
    wall = max(local.wall_ms, remote.wall_ms, now_ms)
    if wall == local.wall_ms == remote.wall_ms:
        counter = max(local.counter, remote.counter) + 1
    elif wall == local.wall_ms:
        counter = local.counter + 1
    elif wall == remote.wall_ms:
        counter = remote.counter + 1
    else:
        counter = 0
    return _bump(wall, counter, local.node)


def clamp(stamp: Stamp, server_now_ms: int, max_skew_ms: int) -> tuple[Stamp, bool]:
    """Clamp a stamp more than `max_skew_ms` ahead of the server to the server clock.

    Returns the stamp to use and whether it was clamped; the node id is kept so the edit stays
    attributable and ties still break deterministically.
    """
    if stamp.wall_ms > server_now_ms + max_skew_ms:
        return Stamp(server_now_ms, 0, stamp.node), True
    return stamp, False


def server_stamp(now_ms: int) -> Stamp:
    """Return a stamp for a server-side write at `now_ms` (the SQL trigger uses the same form)."""
    return Stamp(now_ms, 0, SERVER_NODE)
