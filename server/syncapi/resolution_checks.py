"""What a conflict resolution must keep: the value it writes is checked as a web write or a push
of that value would be — its field's schema, the records it names, and the rules that look at the
stored record (an anonymous report, a special population's period, who may hold a task)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from marshmallow.fields import Nested

from server.errors import InvalidInput
from server.extensions import db
from server.registry.schemas.person import END_BEFORE_START
from server.registry.services import task_rules
from server.registry.services.records import Caller
from server.syncapi.access import authorizer
from server.syncapi.field_checks import as_uuid
from server.syncapi.record_types import BY_NAME, SyncType
from server.syncapi.translate import _ewkt, schema_errors, sealed_parties
from sync import hlc, references
from sync.apply import PreparedOp
from sync.ops import JSON, Op, OpKind
from sync.registry import Registry
from sync.resolve import How

REPORTER_IDENTITY = frozenset({"reporter_name", "reporter_phone_enc", "reporter_phone_hash"})
ANONYMOUS_REPORT = "The report is anonymous: it keeps neither the reporter's name nor phone."
SPECIAL_POPULATION = "person_special_population"
# A special population's dates, each with the other it is compared with.
PERIOD = {"start_date": "end_date", "end_date": "start_date"}
NO_SUCH_RECORD = "No such record."


def _composite_part(sync_type: SyncType, column: str, value: JSON) -> JSON:
    """One column of a composite wire field (an incident's `reporter_name`), checked by the
    nested schema the push checks the whole field with; errors are named by the column."""
    for wire, columns in sync_type.composite.items():
        if column not in columns:
            continue
        nested = sync_type.schema().fields[wire]
        assert isinstance(nested, Nested)
        part = column.removeprefix(f"{wire}_")
        try:
            loaded = nested.schema.load({part: value}, partial=True)
        except ValidationError as exc:
            messages = exc.messages.get(part) if isinstance(exc.messages, dict) else None
            raise InvalidInput({column: messages or exc.messages}) from None
        return loaded.get(part, value)
    return value


def edit_value(record_type: str, column: str, value: JSON) -> JSON:
    """The value an `edit` writes into `column`, checked as a push of it would be (422 on the
    field otherwise) and in its stored form (sealed parties, EWKT, a composite's part)."""
    sync_type = BY_NAME[record_type]
    errors = schema_errors(sync_type, {column: value}) if column in sync_type.wire_fields else {}
    if errors:
        raise InvalidInput(errors)
    if (record_type, column) == ("incident", "parties"):
        return sealed_parties(value)
    if column == "point":
        return _ewkt(value)
    return _composite_part(sync_type, column, value)


def check_reference(caller: Caller, registry: Registry, row: Any, value: JSON) -> None:
    """A reference written by a resolution obeys the push's rules (`sync.references`): the
    record it names exists, is live and is in the resolver's scope; otherwise a 422 on the field."""
    record_type = registry.get(row.record_type)
    if record_type is None or row.field is None:
        return
    now = datetime.now(UTC)
    stamp = hlc.server_stamp(int(now.timestamp() * 1000)).encode()
    op = Op(
        uuid.uuid4(), row.record_type, row.record_id, OpKind.PATCH, stamp, 0, {row.field: value}
    )
    prepared = PreparedOp(op, record_type, stamp, {}, now, ())
    found = references.pointers([prepared])
    if not found:
        return  # not a reference column, null, or not an id (the schema check's business)
    targets = references.lookup(db.session.connection(), registry, found)
    if any((p.reference.target, p.target_id) not in targets for p in found):
        raise InvalidInput({row.field: [NO_SUCH_RECORD]})
    checks = references.access_checks(found, targets)
    access = authorizer(caller.principal, caller.scope)(checks) if checks else {}
    verdicts = references.judge([prepared], found, targets, access, {})
    refused = verdicts.refused.get(op.op_id)
    if refused:
        raise InvalidInput(refused)


def refuse_naming_anonymous(row: Any, how: How, written: JSON, shown_as: str | None) -> None:
    """422 (on the field as the inbox shows it, `shown_as`) for a reporter name or phone written
    onto a report that is anonymous now."""
    if row.record_type != "incident" or row.field not in REPORTER_IDENTITY:
        return
    if how is How.KEEP or written is None:
        return
    incidents = BY_NAME["incident"].table
    anonymous = db.session.scalar(
        sa.select(incidents.c.reporter_anonymous).where(incidents.c.id == row.record_id)
    )
    if anonymous:
        raise InvalidInput({str(shown_as): [ANONYMOUS_REPORT]})


def refuse_backwards_period(row: Any, how: How, written: JSON) -> None:
    """422 for a special population's date that would put its end before its start, with the
    other date as stored (the schema compares them only when both are sent)."""
    if row.record_type != SPECIAL_POPULATION or row.field not in PERIOD:
        return
    if how is How.KEEP or not isinstance(written, str):
        return
    other = PERIOD[row.field]
    table = BY_NAME[SPECIAL_POPULATION].table
    stored = db.session.scalar(sa.select(table.c[other]).where(table.c.id == row.record_id))
    if stored is None:
        return
    start, end = (
        (date.fromisoformat(written), stored)
        if row.field == "start_date"
        else (stored, date.fromisoformat(written))
    )
    if end < start:
        raise InvalidInput({row.field: [END_BEFORE_START]})


def refuse_unfit_assignee(row: Any, how: How, written: JSON) -> None:
    """422 for a task's assignee that may not hold it (`task_rules`), as a web write or a push
    of that assignee is refused: the inbox is a third way to give a task to someone."""
    if row.record_type != "task" or row.field != "assignee_id" or how is How.KEEP:
        return
    table = BY_NAME["task"].table
    grid_id = db.session.scalar(sa.select(table.c.grid_id).where(table.c.id == row.record_id))
    task_rules.check_holder(as_uuid(written), grid_id)
