"""An unexpected database error answers a bare 500 and is logged without the values involved."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from server.extensions import db

SECRET = "张三-110101199003071233"


def _database_error(statement: str) -> DBAPIError:
    try:
        db.session.execute(text(statement), {"value": SECRET})
    except DBAPIError as exc:
        db.session.rollback()
        return exc
    raise AssertionError("the statement did not fail")


def _handle(app: Flask, error: DBAPIError) -> Response:
    """Let the app's error handlers answer `error`, raised inside a request as in a real one."""
    with app.test_request_context():
        try:
            raise error
        except DBAPIError as exc:
            response: Response = app.make_response(app.handle_user_exception(exc))
            return response


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return caplog.text + "".join(repr(vars(record)) for record in caplog.records)


@pytest.mark.parametrize(
    "statement",
    [
        # PostgreSQL quotes the refused value in its own message.
        "SELECT CAST(:value AS integer)",
        # The value is only a bound parameter of a statement that fails for another reason.
        "SELECT CAST(:value AS text), 1 / 0",
    ],
)
def test_a_database_error_is_logged_without_the_values_it_carried(
    app: Flask, caplog: pytest.LogCaptureFixture, statement: str
) -> None:
    error = _database_error(statement)
    with caplog.at_level(logging.ERROR):
        response = _handle(app, error)
    assert response.status_code == 500
    assert SECRET not in response.get_data(as_text=True)
    assert caplog.records, "the error was not logged"
    assert SECRET not in _logged(caplog)


def test_a_database_error_log_keeps_the_sqlstate_and_where_it_happened(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    error = _database_error("SELECT CAST(:value AS integer)")
    with caplog.at_level(logging.ERROR):
        _handle(app, error)
    (record,) = caplog.records
    assert record.sqlstate == "22P02"  # type: ignore[attr-defined]
    assert "_database_error" in record.trace  # type: ignore[attr-defined]


def test_a_failed_statement_does_not_carry_its_bound_values(app: Flask) -> None:
    # Whatever logs or prints the exception later, the values are not in it.
    error = _database_error("SELECT CAST(:value AS text), 1 / 0")
    assert SECRET not in str(error)
