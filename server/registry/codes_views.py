"""Entrypoints for code tables: the read-only HTTP API (with ETags) and `flask codes load`."""

from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, Response, jsonify, request
from flask.cli import AppGroup
from marshmallow import Schema, fields

from server.auth.guard import require
from server.extensions import db
from server.registry import codes as service

bp = Blueprint("code_tables", __name__, url_prefix="/api/v1/code-tables")

codes_cli = AppGroup("codes", help="Reference code tables.")


class CodeTableSummarySchema(Schema):
    name = fields.String()
    version = fields.Integer()
    title = fields.String()
    etag = fields.String()


class CodeValueSchema(Schema):
    code = fields.String()
    label = fields.String()
    parent = fields.String(allow_none=True)
    active = fields.Boolean()


def _conditional(body: dict[str, Any], etag: str) -> Response:
    """200 with a strong ETag, or 304 with no body when the client already holds this version."""
    fresh = request.if_none_match.contains(etag)
    response = Response(status=304) if fresh else jsonify(body)
    response.set_etag(etag)
    # Clients may keep the table but must revalidate; the ETag makes that a cheap 304.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("")
@require()
def list_tables() -> Response:
    """Name, version, title and etag of every code table."""
    tables = service.list_code_tables()
    body = {"items": CodeTableSummarySchema(many=True).dump(tables)}
    return _conditional(body, service.combined_etag(tables))


@bp.get("/<name>")
@require()
def get_table(name: str) -> Response:
    """One code table with its values (inactive ones flagged)."""
    table, values = service.get_code_table(name)
    body = {
        **CodeTableSummarySchema().dump(table),
        "values": CodeValueSchema(many=True).dump(values),
    }
    return _conditional(body, table.etag)


@codes_cli.command("load")
def load() -> None:
    """Load the code table files into the database (idempotent)."""
    try:
        changed = service.load_code_tables(db.session)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    click.echo(f"codes: {changed} code table(s) loaded or updated.")
