"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from server.health import service

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """The process is alive."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """The database is reachable, migrations are at head and PostGIS is installed."""
    report = service.readiness()
    return report, 200 if report["status"] == "ready" else 503
