"""Domain errors and the one place that turns them into application/problem+json responses."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, g, json
from marshmallow import ValidationError
from sqlalchemy.exc import StatementError
from werkzeug.exceptions import HTTPException

from server.extensions import db

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://gridwork.dev/problems/"


class DomainError(Exception):
    """A failure a caller can act on; subclasses name the condition, not the status code."""

    code = "error"
    title = "Request failed"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class InvalidInput(DomainError):
    """Field-level validation failed; `errors` maps field paths to messages."""

    code = "validation_failed"
    title = "The request has invalid fields"

    def __init__(self, errors: dict[str, Any], detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.errors = errors


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Authentication required"


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title = "Wrong username or password"


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    title = "The token is invalid or expired"


class DeviceRevoked(Unauthenticated):
    code = "device_revoked"
    title = "This device has been revoked; wipe local data"


class SessionRevoked(Unauthenticated):
    code = "session_revoked"
    title = "The session has ended"


class AccountDisabled(Unauthenticated):
    code = "account_disabled"
    title = "The account is disabled"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Not allowed for this role"


class Conflict(DomainError):
    code = "conflict"
    title = "The request conflicts with the current state"


class StaleVersion(Conflict):
    code = "stale_version"
    title = "The record changed since it was read"


class Duplicate(Conflict):
    code = "duplicate"
    title = "The record already exists"


class TooMany(DomainError):
    code = "too_many_requests"
    title = "Too many requests"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    title = "The request is too large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    title = "This content type is not accepted here"


# The one table from condition to HTTP status. Subclasses inherit their parent's row.
STATUS_BY_ERROR: dict[type[DomainError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Unauthenticated: 401,
    Forbidden: 403,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    TooMany: 429,
}


def status_for(error: DomainError) -> int:
    """Return the HTTP status for a domain error, walking up its class hierarchy."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    """Render an RFC 9457 problem document with our stable `code` and the request id."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def _domain(error: DomainError) -> Response:
    extra = dict(error.extra)
    if isinstance(error, InvalidInput):
        extra["errors"] = error.errors
    headers = extra.pop("headers", None)
    response = problem(status_for(error), error.code, error.title, error.detail, **extra)
    if headers:
        response.headers.update(headers)
    return response


def _validation(error: ValidationError) -> Response:
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return problem(
        422, InvalidInput.code, InvalidInput.title, "See `errors` for each field.", errors=messages
    )


HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _http(error: HTTPException) -> Response:
    status = error.code or 500
    code = HTTP_CODES.get(status, f"http_{status}")
    response = problem(status, code, error.name, error.description or error.name)
    allowed = getattr(error, "valid_methods", None)
    if status == 405 and allowed:
        response.headers["Allow"] = ", ".join(allowed)
    length = getattr(error, "length", None)
    if status == 416 and length is not None:
        # What is there to ask for: a resuming client learns the representation's length.
        response.headers["Content-Range"] = f"{getattr(error, 'units', 'bytes')} */{length}"
    return response


def _unexpected(error: Exception) -> Response:
    if isinstance(error, StatementError):
        # The database's message can quote the very values it refused ("Key (username)=(…)
        # already exists", "invalid input syntax …: \"…\""), so only the kind of failure and
        # where it happened are logged, never the message.
        cause = error.orig
        log.error(
            "unhandled database error",
            extra={
                "error_type": type(cause or error).__name__,
                "sqlstate": getattr(cause, "sqlstate", None),
                "constraint": getattr(getattr(cause, "diag", None), "constraint_name", None),
                "trace": "".join(traceback.format_tb(error.__traceback__)),
            },
        )
    else:
        log.exception("unhandled error", extra={"error_type": type(error).__name__})
    # Whatever the failed use case left in the session must not leak into the next one.
    db.session.rollback()
    return problem(500, "internal_error", "Internal server error", "The error has been logged.")


def register_error_handlers(app: Flask) -> None:
    """Route every error through problem+json: domain, validation, HTTP and unexpected ones."""
    app.register_error_handler(DomainError, _domain)
    app.register_error_handler(ValidationError, _validation)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)
