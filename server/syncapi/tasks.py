"""The task assignment rules (`server.registry.services.task_rules`) for a whole push batch, in
one statement: the batch's stored tasks (locked), the grids of the targets its new tasks name,
and the current grids of the assignees it sends.

Ops the rules refuse are answered as the web API answers them: a write a worker may not make is
`rejected` / `out_of_scope` with the web API's 403 message under its field; an assignee who may
not hold the task is `rejected` / `invalid_fields` on `assignee_id`. A task outside the
caller's grids now is refused as the engine refuses it, with nothing said about it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from server.auth.models import Role
from server.registry.services import task_rules
from server.registry.services.records import Caller
from server.registry.services.task_rules import TaskWrite
from server.syncapi.field_checks import as_uuid
from server.syncapi.hooks import TASK_TARGETS
from server.syncapi.translate import Translation
from sync.ops import Op, OpKind, Reason
from sync.records import uuid_array
from sync.registry import Refused

# One branch per kind of target a new task may name (the target's grid is the task's). Only
# constant table names are put into the text; every value is bound.
_TARGET_GRIDS = "".join(
    f"UNION ALL SELECT '{kind}', id, NULL, grid_id FROM {table} "  # noqa: S608 - constant names
    f"WHERE id = ANY(CAST(:{kind} AS uuid[]))\n"
    for kind, table in sorted(TASK_TARGETS.items())
)
# The batch's tasks are locked here, in id order, before the engine locks anything (it then
# finds them held), so the holder judged is the one the op is applied over. Every push that
# touches tasks takes them first, a web write locks one task, and nothing else locks a task
# together with other rows: no two transactions take these locks in opposite orders.
_BATCH = sa.text(
    f"""
    WITH held AS MATERIALIZED (
      SELECT t.id, t.assignee_id, t.grid_id FROM tasks AS t
      WHERE t.id = ANY(CAST(:tasks AS uuid[])) ORDER BY t.id FOR UPDATE OF t
    )
    SELECT 'task' AS kind, id, assignee_id AS user_id, grid_id FROM held
    {_TARGET_GRIDS}
    UNION ALL
    SELECT 'worker', w.user_id, w.user_id, w.grid_id FROM ({task_rules.WORKER_GRIDS_SQL}) AS w
    """  # noqa: S608 - constant SQL only
)
WRITES = (OpKind.CREATE, OpKind.PATCH, OpKind.DELETE)
# A task's holder and grid.
Held = tuple[uuid.UUID | None, uuid.UUID | None]


@dataclass
class _Found:
    """What the statement found: stored tasks, the targets' grids and the workers' grids."""

    tasks: dict[uuid.UUID, Held] = field(default_factory=dict)
    targets: dict[tuple[str, uuid.UUID], uuid.UUID | None] = field(default_factory=dict)
    workers: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)


def _sent_id(value: object) -> uuid.UUID | None:
    return as_uuid(value) if isinstance(value, str) else None


def _lookup(conn: sa.Connection, ops: Sequence[Op]) -> _Found:
    """The one statement of a batch, over the ids its task ops name."""
    targets: dict[str, set[uuid.UUID]] = {kind: set() for kind in TASK_TARGETS}
    for op in ops:
        kind, target = op.fields.get("target_type"), _sent_id(op.fields.get("target_id"))
        if op.kind is OpKind.CREATE and target is not None and kind in targets:
            targets[str(kind)].add(target)
    assignees = {_sent_id(op.fields.get("assignee_id")) for op in ops}
    params = {kind: uuid_array(ids) for kind, ids in targets.items()}
    params["tasks"] = uuid_array(op.record_id for op in ops)
    params["assignees"] = uuid_array(a for a in assignees if a is not None)
    found = _Found()
    for kind, record_id, user_id, grid_id in conn.execute(_BATCH, params):
        if kind == "task":
            found.tasks[record_id] = (user_id, grid_id)
        elif kind == "worker":
            found.workers.setdefault(user_id, set()).add(grid_id)
        else:
            found.targets[(kind, record_id)] = grid_id
    return found


def _new_task_grid(op: Op, found: _Found) -> uuid.UUID | None:
    """The grid a new task takes: its target's (None without a target or for a missing one)."""
    target = _sent_id(op.fields.get("target_id"))
    if target is None:
        return None
    return found.targets.get((str(op.fields.get("target_type")), target))


def task_refusals(
    conn: sa.Connection, translations: Sequence[Translation], caller: Caller
) -> dict[int, Refused]:
    """Refusals of the batch's task ops by the assignment rules, keyed like `build_registry`'s
    `translations` (its `validate` gives an op's field errors precedence, as the web API's
    schema check comes first)."""
    ops = [
        t
        for t in translations
        if t.op.record_type == "task"
        and t.op.kind in WRITES
        and not t.errors
        # An assignee that is not an id is the schema's to refuse.
        and (t.op.fields.get("assignee_id") is None or _sent_id(t.op.fields["assignee_id"]))
    ]
    if not ops:
        return {}
    found = _lookup(conn, [t.op for t in ops])
    refusals: dict[int, Refused] = {}
    # Tasks as the batch leaves them so far: a later op on a task is judged after the earlier
    # ops these rules let through (a create, then a patch of it).
    known = dict(found.tasks)
    for t in ops:
        op = t.op
        stored = known.get(op.record_id)
        if stored is None and op.kind is not OpKind.CREATE:
            continue  # no such task: the engine answers
        assignee = _sent_id(op.fields.get("assignee_id"))
        status = op.fields.get("status")
        write = TaskWrite(
            stored[0] if stored else None,
            assignee,
            status if isinstance(status, str) else None,
            deleting=op.kind is OpKind.DELETE,
        )
        grid = stored[1] if stored else _new_task_grid(op, found)
        refusal = None
        if caller.role == Role.WORKER:
            refusal = task_rules.worker_refusal(caller.principal.user_id, write)
        gives = task_rules.gives_task(write)
        unfit = gives and not task_rules.may_hold(assignee, grid, found.workers)
        if refusal is None and not unfit:
            if gives:
                known[op.record_id] = (assignee, grid)
            continue
        if grid is not None and not caller.scope.allows_grid(grid):
            refusals[id(op.fields)] = Refused(Reason.OUT_OF_SCOPE, {})
        elif refusal is not None:
            refusals[id(op.fields)] = Refused(Reason.OUT_OF_SCOPE, refusal)
        else:
            unfit_errors = {"assignee_id": [task_rules.ASSIGNEE_REFUSED]}
            refusals[id(op.fields)] = Refused(Reason.INVALID_FIELDS, unfit_errors)
    return refusals
