"""The phone's hybrid logical clock, persisted in the store so it never runs backwards."""

from __future__ import annotations

import time
from collections.abc import Callable

from sync.hlc import Stamp, decode, receive, tick


def wall_ms() -> int:
    """The phone's physical clock in milliseconds (may be wrong: that is what the HLC absorbs)."""
    return int(time.time() * 1000)


class Clock:
    """Issues increasing stamps for local edits and folds in stamps seen from the server."""

    def __init__(self, node: str, last: str | None = None, now: Callable[[], int] = wall_ms):
        self.now = now
        self.last = decode(last) if last else Stamp(0, 0, node)

    def stamp(self) -> str:
        """A new stamp for a local edit, later than every stamp issued or seen so far."""
        self.last = tick(self.last, self.now())
        return self.last.encode()

    def observe(self, remote: str) -> None:
        """Move past a stamp seen elsewhere, so later local edits order after it."""
        self.last = receive(self.last, decode(remote), self.now())
