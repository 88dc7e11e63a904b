"""The registry of synced record types: `server` declares them, the engine stays generic."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from sync.merge import Policy
from sync.ops import JSON, Reason

# Columns every synced table has; only the engine writes them.
CONTRACT_COLUMNS = frozenset(
    {
        "id",
        "version",
        "grid_id",
        "scope_path",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
        "deleted_at",
        "deleted_by",
    }
)


class CommandRefused(Exception):
    """A command handler refuses the command; `field_errors` say why."""

    def __init__(self, field_errors: Mapping[str, list[str]]) -> None:
        super().__init__("command refused")
        self.field_errors = dict(field_errors)


class Refused(Exception):
    """A `validate` hook refuses the op for a reason of its own (not `invalid_fields`), e.g. an
    identifier another record holds; `existing_id` names that record when the caller may see it."""

    def __init__(
        self,
        reason: Reason,
        field_errors: Mapping[str, list[str]],
        existing_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.field_errors = dict(field_errors)
        self.existing_id = existing_id


@dataclass(frozen=True)
class Location:
    """Where a new record lies: its grid and the grid's ancestor path."""

    grid_id: uuid.UUID | None
    scope_path: Sequence[uuid.UUID] = ()


# (connection, the new record's fields) -> where it lies (point-in-polygon, or its anchor's grid).
LocateFn = Callable[[sa.Connection, Mapping[str, JSON]], Location]
# (the op's fields; empty for a delete or command) -> {field: [messages]}; empty when valid; may
# raise Refused. Called for every op, so it can refuse an op kind its role may not send. It runs
# while the push's first statements are in flight on the connection: it must not use the database.
ValidateFn = Callable[[Mapping[str, JSON]], Mapping[str, list[str]]]
# (current record, args) -> fields to write; raises CommandRefused.
CommandFn = Callable[[Mapping[str, JSON], Mapping[str, JSON]], Mapping[str, JSON]]


@dataclass(frozen=True)
class Reference:
    """A field holding the id of another synced record (an address's parent, a person's house):
    a push may only point at records in the writer's scope, judged like the record itself.
    `shared` = (column, value) marks target records anyone may point at (streets)."""

    field: str
    target: str
    shared: tuple[str, str] | None = None


@dataclass(frozen=True)
class RecordType:
    """One synced table: its merge fields with their policies, and optional hooks."""

    name: str
    table: sa.Table
    fields: Mapping[str, Policy]
    locate: LocateFn | None = None
    validate: ValidateFn | None = None
    commands: Mapping[str, CommandFn] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()
    # Unique constraints by name, with the refusal an op gets when its write breaks one: a
    # value `validate` found free may be taken by a concurrent batch before this one writes.
    unique: Mapping[str, Refused] = field(default_factory=dict)
    # Fields set when the record is created and never changed after, not even by a create of
    # an id that exists (merged into the record like a patch).
    fixed: frozenset[str] = frozenset()

    def refusal_for(self, error: Exception) -> Refused | None:
        """The refusal for a write that failed on one of `unique`, else None."""
        diag = getattr(getattr(error, "orig", None), "diag", None)
        return self.unique.get(getattr(diag, "constraint_name", None) or "")

    def __post_init__(self) -> None:
        columns = set(self.table.c.keys())
        missing = (CONTRACT_COLUMNS - {"scope_path"}) - columns
        if missing:
            raise ValueError(f"{self.table.name} lacks sync columns: {sorted(missing)}")
        unknown = set(self.fields) - columns
        if unknown or set(self.fields) & CONTRACT_COLUMNS:
            raise ValueError(f"{self.name}: fields must be plain columns: {sorted(self.fields)}")


class Registry:
    """Record types by name."""

    def __init__(self, record_types: Sequence[RecordType]) -> None:
        self._types = {t.name: t for t in record_types}
        if len(self._types) != len(record_types):
            raise ValueError("duplicate record type names")

    def get(self, name: str) -> RecordType | None:
        """The record type called `name`, or None."""
        return self._types.get(name)

    def __iter__(self) -> Iterator[RecordType]:
        """Record types in name order (the fixed order rows are locked in)."""
        return iter(sorted(self._types.values(), key=lambda t: t.name))
