"""The registry's HTTP surface: one set of thin handlers for every resource in the catalog."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, json, request
from marshmallow import RAISE, Schema, fields, validate

from server.auth.guard import require
from server.auth.models import Role
from server.auth.principal import current_principal
from server.errors import InvalidInput
from server.extensions import BIGINT_MAX
from server.registry.services import persons, record_use_cases
from server.registry.services.catalog import RESOURCES

bp = Blueprint("registry", __name__, url_prefix="/api/v1")

WRITERS = (Role.WORKER, Role.DISPATCHER, Role.ADMIN)


class ListQuery(Schema):
    """Paging and filters of a registry list."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None)
    grid_id = fields.UUID(load_default=None)
    changed_since = fields.AwareDateTime(load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    id_number = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "geojson")))


class UnassignedQuery(Schema):
    """Which record type's unassigned list, and the page."""

    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(tuple(RESOURCES)))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None)


class DeleteQuery(Schema):
    """The version a delete is based on."""

    class Meta:
        unknown = RAISE

    expected_version = fields.Integer(required=True, validate=validate.Range(min=1, max=BIGINT_MAX))


class RevealIn(Schema):
    """Which field to unmask and why."""

    class Meta:
        unknown = RAISE

    field = fields.String(required=True, validate=validate.OneOf(tuple(persons.REVEALABLE)))
    reason = fields.String(load_default=None, allow_none=True)


def _geojson(page: dict[str, Any]) -> Response:
    features = [
        {
            "type": "Feature",
            "id": item["id"],
            "geometry": item.get("point"),
            "properties": {k: v for k, v in item.items() if k != "point"},
        }
        for item in page["items"]
    ]
    body = {
        "type": "FeatureCollection",
        "features": features,
        "next_cursor": page["next_cursor"],
        "total": page["total"],
    }
    return Response(json.dumps(body), mimetype="application/geo+json")


@require()
def list_records(collection: str) -> Any:
    """A keyset page of in-scope records (`?format=geojson` for located ones)."""
    resource = RESOURCES[collection]
    args = ListQuery().load(request.args)
    geojson = args.pop("format") == "geojson"
    if geojson and not resource.located:
        raise InvalidInput({"format": ["This record type has no point of its own."]})
    page = record_use_cases.list_records(resource, current_principal(), **args)
    return _geojson(page) if geojson else page


@require(*WRITERS)
def create_record(collection: str) -> tuple[dict[str, Any], int]:
    """Create a record (the client may supply its uuid)."""
    body = record_use_cases.create_record(
        RESOURCES[collection], current_principal(), request.get_json()
    )
    return body, 201


@require()
def get_record(collection: str, record_id: uuid.UUID) -> dict[str, Any]:
    """One in-scope record."""
    return record_use_cases.get_record(RESOURCES[collection], current_principal(), record_id)


@require(*WRITERS)
def update_record(collection: str, record_id: uuid.UUID) -> dict[str, Any]:
    """Change some fields; `expected_version` must be the current version."""
    return record_use_cases.update_record(
        RESOURCES[collection], current_principal(), record_id, request.get_json()
    )


@require(*WRITERS)
def delete_record(collection: str, record_id: uuid.UUID) -> dict[str, Any]:
    """Tombstone a record; `?expected_version=` must be the current version."""
    version = DeleteQuery().load(request.args)["expected_version"]
    return record_use_cases.delete_record(
        RESOURCES[collection], current_principal(), record_id, version
    )


# One URL rule per resource and action (so openapi.yaml documents each resource's own shapes);
# the rule's default `collection` tells the shared handler which resource it serves.
_ROUTES = (
    ("", "GET", list_records),
    ("", "POST", create_record),
    ("/<uuid:record_id>", "GET", get_record),
    ("/<uuid:record_id>", "PATCH", update_record),
    ("/<uuid:record_id>", "DELETE", delete_record),
)
for _name in RESOURCES:
    for _suffix, _method, _view in _ROUTES:
        bp.add_url_rule(
            f"/{_name}{_suffix}",
            endpoint=f"{_view.__name__}_{_name}",
            view_func=_view,
            methods=[_method],
            defaults={"collection": _name},
        )


@bp.post("/persons/<uuid:person_id>/reveal")
@require(*WRITERS)
def reveal_person_field(person_id: uuid.UUID) -> dict[str, Any]:
    """Unmask a person's ID number or phone, giving a reason (audited, rate-limited)."""
    data = RevealIn().load(request.get_json())
    return persons.reveal_field(current_principal(), person_id, data["field"], data["reason"])


@bp.get("/unassigned")
@require(Role.ADMIN, Role.DISPATCHER)
def list_unassigned() -> dict[str, Any]:
    """Records of one type that lie in no grid (admins and dispatchers triage them)."""
    args = UnassignedQuery().load(request.args)
    resource = RESOURCES[args.pop("type")]
    return record_use_cases.list_records(resource, current_principal(), unassigned=True, **args)
