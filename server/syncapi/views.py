"""Sync endpoints: push, pull, snapshot, the conflict inbox and device sync health."""

from __future__ import annotations

import uuid
import zlib
from typing import Any

import orjson
from flask import Blueprint, Response, request
from isal import igzip

from server import collector
from server.auth.guard import require
from server.auth.models import Role
from server.auth.principal import current_principal
from server.errors import InvalidInput, PayloadTooLarge
from server.syncapi import conflicts, health, service
from server.syncapi.schemas import (
    ConflictListArgs,
    PullArgs,
    PushIn,
    ResolveIn,
    SnapshotArgs,
    load_ops,
)
from server.text_guard import load_json, parses_own_json

bp = Blueprint("syncapi", __name__, url_prefix="/api/v1")
SYNC_ROLES = (Role.WORKER, Role.DISPATCHER, Role.ADMIN)
GZIP_MIN_BYTES = 1024
# Pages are gzipped with ISA-L (`isal`), whose level 1 writes ordinary gzip that any decoder reads:
# a 1,000-record snapshot page (~2 MB of JSON) took 5-7 ms with zlib's level 1 (itself a third of
# level 5's time) and takes under 1 ms, at a similar size. Every first download pays it per page.
GZIP_LEVEL = 1


def _json(body: Any, *, compress: bool = False) -> Response:
    data = orjson.dumps(body)
    accepts = "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(data, mimetype="application/json")
    if compress:
        response.vary.add("Accept-Encoding")
        if accepts and len(data) >= GZIP_MIN_BYTES:
            response.set_data(igzip.compress(data, compresslevel=GZIP_LEVEL))
            response.headers["Content-Encoding"] = "gzip"
    return response


def _gunzip(raw: bytes, limit: int) -> bytes:
    """One gzip member, inflated no further than `limit` bytes: a body within the request limit
    can expand a thousandfold, so it is never inflated whole before the size check."""
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflate.decompress(raw, limit + 1)
    except zlib.error:
        raise InvalidInput({"_body": ["Not valid gzip."]}) from None
    if len(data) > limit:
        raise PayloadTooLarge("The decompressed batch is too large.")
    if not inflate.eof or inflate.unused_data:
        raise InvalidInput({"_body": ["Not valid gzip (one complete gzip member expected)."]})
    return data


def _body() -> Any:
    raw = request.get_data(cache=False)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        raw = _gunzip(raw, service.limits().max_bytes * 2)
    try:
        return load_json(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput({"_body": ["Not valid JSON."]}) from None


@bp.post("/sync/push")
@parses_own_json
@require(*SYNC_ROLES)
def push() -> Response:
    """Apply a batch of ops from the caller's device; one result per op, in order."""
    with collector.paused():
        body = PushIn().load(_body())
        ops = load_ops(body["ops"])
        app_version = body.get("app_version") or request.headers.get("X-App-Version")
        return _json(service.push_batch(current_principal(), ops, app_version))


@bp.get("/sync/pull")
@require(*SYNC_ROLES)
def pull() -> Response:
    """Changes in the caller's current grids since the cursor."""
    args = PullArgs().load(request.args)
    app_version = request.headers.get("X-App-Version")
    with collector.paused():
        page = service.pull_page(current_principal(), args["cursor"], args["limit"], app_version)
        return _json(page, compress=True)


@bp.get("/sync/snapshot")
@require(*SYNC_ROLES)
def snapshot() -> Response:
    """One page of one current grid's live records."""
    args = SnapshotArgs().load(request.args)
    with collector.paused():
        page = service.snapshot_page(
            current_principal(), args["grid_id"], args["after"], args["limit"]
        )
        return _json(page, compress=True)


@bp.get("/conflicts")
@require(Role.DISPATCHER, Role.ADMIN)
def list_conflicts() -> Response:
    """Conflicts on records in the caller's grids."""
    args = ConflictListArgs().load(request.args)
    return _json(conflicts.list_open(current_principal(), args["status"]))


@bp.post("/conflicts/<uuid:conflict_id>/resolve")
@require(Role.DISPATCHER, Role.ADMIN)
def resolve_conflict(conflict_id: uuid.UUID) -> Response:
    """Keep the standing value, take the losing one, or write a new one."""
    body = ResolveIn().load(request.get_json(silent=True) or {})
    result = conflicts.resolve(current_principal(), conflict_id, body["action"], body["value"])
    return _json(result)


@bp.get("/devices/sync-health")
@require(Role.ADMIN)
def sync_health() -> Response:
    """Per device: last push and pull, app version, recent failures, pending conflicts."""
    return _json(health.device_health())
