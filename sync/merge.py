"""Three-way field merge of one op against the server's record, decided by version, not clock.

Pure functions over plain data. The rules (docs/sync-protocol.md): a field the server has not
changed since the op's base version takes the client's value; different fields merge; the same
value on both sides is no conflict; the same field changed to different values is decided by the
field's policy and the losing value always lands in a FieldConflict; an edit against a deleted
record and a delete against an edited record are conflicts, never silent resurrection or loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sync.ops import JSON, Reason, Status


class Policy(StrEnum):
    """Who wins when both sides changed a field to different values."""

    NEWEST_STAMP = "newest_stamp"  # low-stakes fields: the later HLC stamp wins
    SERVER_WINS = "server_wins"  # identity, address, household, geometry, status


class Side(StrEnum):
    """Which side's value stands."""

    SERVER = "server"
    CLIENT = "client"


@dataclass(frozen=True)
class ServerChange:
    """The server changed a field after the op's base version: its stamp and its base value."""

    stamp: str
    base_value: JSON = None


@dataclass(frozen=True)
class ServerState:
    """The locked server record as the merge needs it."""

    values: Mapping[str, JSON]
    deleted: bool = False
    # Fields changed by other writers after the op's base version (the op's own device excluded).
    changes: Mapping[str, ServerChange] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldConflict:
    """Both sides changed `field` to different values; `loser_value` is kept for review."""

    field: str | None
    base_value: JSON
    server_value: JSON
    client_value: JSON
    winner: Side

    @property
    def loser_value(self) -> JSON:
        """The value that does not stand."""
        return self.client_value if self.winner is Side.SERVER else self.server_value


@dataclass(frozen=True)
class MergeOutcome:
    """Fields to write, conflicts to record, and the op's status."""

    writes: Mapping[str, JSON]
    conflicts: tuple[FieldConflict, ...] = ()
    record_conflict: Reason | None = None
    server_changed: bool = False

    @property
    def status(self) -> Status:
        """conflict if anything was recorded, merged if other writers' changes were kept."""
        if self.conflicts or self.record_conflict:
            return Status.CONFLICT
        if self.server_changed:
            return Status.MERGED
        return Status.APPLIED


def _decide(policy: Policy, server_stamp: str, client_stamp: str) -> Side:
    # Equal stamps can only come from the same node at the same instant; the server keeps it.
    if policy is Policy.NEWEST_STAMP and client_stamp > server_stamp:
        return Side.CLIENT
    return Side.SERVER


def merge_patch(
    server: ServerState,
    fields: Mapping[str, JSON],
    stamps: Mapping[str, str],
    policies: Mapping[str, Policy],
    default_policy: Policy = Policy.SERVER_WINS,
) -> MergeOutcome:
    """Merge a client's changed `fields` (with per-field `stamps`) into the server record."""
    if server.deleted:
        # Update vs delete: the tombstone stands, every client value is kept in a conflict.
        kept = tuple(
            FieldConflict(
                field=name,
                base_value=server.changes[name].base_value if name in server.changes else None,
                server_value=server.values.get(name),
                client_value=fields[name],
                winner=Side.SERVER,
            )
            for name in sorted(fields)
        )
        if not kept:
            kept = (FieldConflict(None, None, None, None, Side.SERVER),)
        return MergeOutcome({}, kept, Reason.UPDATE_VS_DELETE, bool(server.changes))
    writes: dict[str, JSON] = {}
    conflicts: list[FieldConflict] = []
    for name in sorted(fields):
        client_value = fields[name]
        server_value = server.values.get(name)
        change = server.changes.get(name)
        if client_value == server_value:
            continue
        if change is None:
            writes[name] = client_value
            continue
        winner = _decide(policies.get(name, default_policy), change.stamp, stamps[name])
        conflicts.append(FieldConflict(name, change.base_value, server_value, client_value, winner))
        if winner is Side.CLIENT:
            writes[name] = client_value
    return MergeOutcome(writes, tuple(conflicts), None, bool(server.changes))


def merge_delete(server: ServerState) -> MergeOutcome:
    """Decide a client delete: refused as a conflict when others edited since the base version."""
    if server.deleted:
        return MergeOutcome({})
    if server.changes:
        names = sorted(server.changes)
        conflict = FieldConflict(
            field=None,
            base_value={n: server.changes[n].base_value for n in names},
            server_value={n: server.values.get(n) for n in names},
            client_value={"deleted": True},
            winner=Side.SERVER,
        )
        return MergeOutcome({}, (conflict,), Reason.DELETE_VS_UPDATE, True)
    return MergeOutcome({})
