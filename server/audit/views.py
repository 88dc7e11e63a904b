"""The auditor's view of the audit log: who did what to which record."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from server.audit import service
from server.audit.schemas import AuditEntrySchema, AuditQuerySchema
from server.auth.guard import require
from server.auth.models import Role

bp = Blueprint("audit", __name__, url_prefix="/api/v1/audit")


@bp.get("")
@require(Role.AUDITOR, Role.ADMIN)
def search() -> dict[str, Any]:
    """Audit entries matching the filters, newest first, one page at a time."""
    filters = AuditQuerySchema().load(request.args)
    page = service.search_audit(filters)
    return {"items": AuditEntrySchema(many=True).dump(page.items), "next": page.next}
