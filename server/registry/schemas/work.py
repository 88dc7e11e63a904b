"""Request shapes of tasks, visits and follow-up plans."""

from __future__ import annotations

from marshmallow import fields, validate

from server.registry.codes import code_field
from server.registry.models.work import TASK_STATUSES
from server.registry.schemas.common import (
    PointField,
    RecordSchema,
    instant,
    photo_list,
    required_text,
    text,
)

TARGET_TYPES = ("address", "house", "person", "household", "organization", "incident")


class TaskIn(RecordSchema):
    """A task about a target record, or about a grid (`target_grid_id`) when there is none."""

    task_type = code_field("task_type", required=True)
    title = required_text(200)
    assignee_id = fields.UUID(required=True)
    target_type = fields.String(allow_none=True, validate=validate.OneOf(TARGET_TYPES))
    target_id = fields.UUID(allow_none=True)
    target_grid_id = fields.UUID(allow_none=True)
    due_at = instant(allow_none=True)
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    result = text(5000)


class VisitIn(RecordSchema):
    """A visit to a person on a follow-up list."""

    person_id = fields.UUID(required=True)
    visited_at = instant(required=True)
    form = code_field("visit_form", required=True)
    content = text(5000)
    state = text(2000)
    measures = text(2000)
    point = PointField(allow_none=True)
    photo_sha256 = photo_list()


class FollowUpPlanIn(RecordSchema):
    """A person on a follow-up list: how often, and when the next visit is due."""

    person_id = fields.UUID(required=True)
    cycle = code_field("follow_up_cycle", required=True)
    next_due = fields.Date(allow_none=True)
    notes = text(2000)
