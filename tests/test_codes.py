"""Code tables: the files, the loader, code checks, and the ETag-cached read API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from server.auth.models import Role
from server.extensions import db
from server.registry.codes import (
    CodeTable,
    CodeValue,
    check_code,
    code_field,
    load_code_tables,
    read_code_table_files,
)
from tests.factories import auth_headers, make_user

EXPECTED_TABLES = {
    "sex",
    "ethnicity",
    "relation_to_head",
    "id_type",
    "population_type",
    "house_use",
    "house_nature",
    "occupancy",
    "hazard_type",
    "special_population",
    "mental_risk_level",
    "org_type",
    "industry",
    "incident_category",
    "dispute_category",
    "urgency",
    "incident_scale",
    "task_type",
    "visit_form",
    "follow_up_cycle",
}


def _codes(name: str) -> list[str]:
    table = next(t for t in read_code_table_files() if t.name == name)
    return [v["code"] for v in table.values]


def _write_table(directory: Path, version: int, codes: list[str]) -> None:
    values = [{"code": c, "label": c.title()} for c in codes]
    data = {"name": "colours", "version": version, "title": "Colours", "values": values}
    (directory / "colours.json").write_text(json.dumps(data))


# --- the files (pure) ---------------------------------------------------------------------------


def test_every_required_table_has_a_well_formed_file() -> None:
    assert {t.name for t in read_code_table_files()} == EXPECTED_TABLES


def test_ethnicity_lists_the_56_groups_plus_other_and_foreign_origin() -> None:
    codes = _codes("ethnicity")
    assert codes == [f"{i:02d}" for i in range(1, 57)] + ["97", "98"]


def test_incident_categories_have_two_levels() -> None:
    table = next(t for t in read_code_table_files() if t.name == "incident_category")
    parents = {v["code"] for v in table.values if "parent" not in v}
    children = [v for v in table.values if "parent" in v]
    assert {"01", "99"} <= parents
    assert children
    assert all(v["parent"] in parents for v in children)


def test_hazard_and_urgency_codes_follow_the_domain_document() -> None:
    assert _codes("hazard_type") == ["00", "01", "02", "03", "04", "99"]
    assert _codes("urgency") == ["01", "02", "03"]
    assert _codes("house_use") == ["01", "02", "03", "04", "05", "06", "99"]


def test_industry_has_the_twenty_gb4754_sections() -> None:
    assert _codes("industry") == list("ABCDEFGHIJKLMNOPQRST")


# --- the loader and checks ----------------------------------------------------------------------


def test_every_table_is_loaded_into_the_database(app: object) -> None:
    assert set(db.session.scalars(select(CodeTable.name))) == EXPECTED_TABLES


def test_reloading_unchanged_files_changes_nothing(app: object) -> None:
    assert load_code_tables(db.session) == 0


def test_value_removed_from_a_file_is_deactivated_not_deleted(app: object, tmp_path: Path) -> None:
    _write_table(tmp_path, 1, ["red", "green"])
    assert load_code_tables(db.session, tmp_path) == 1
    assert check_code("colours", "green")
    _write_table(tmp_path, 2, ["red"])
    assert load_code_tables(db.session, tmp_path) == 1
    green = db.session.get(CodeValue, ("colours", "green"))
    assert green is not None
    assert green.active is False
    assert not check_code("colours", "green")
    assert check_code("colours", "red")
    db.session.rollback()  # code_* tables survive cleanup: leave no test table behind


def test_changed_file_without_a_version_bump_is_refused(app: object, tmp_path: Path) -> None:
    _write_table(tmp_path, 1, ["red"])
    load_code_tables(db.session, tmp_path)
    _write_table(tmp_path, 1, ["red", "blue"])
    with pytest.raises(ValueError, match="version bump"):
        load_code_tables(db.session, tmp_path)
    db.session.rollback()


def test_check_code_accepts_codes_of_the_table_only(app: object) -> None:
    assert check_code("sex", "1")
    assert check_code("relation_to_head", "02")
    assert not check_code("sex", "3")
    assert not check_code("urgency", "1")


def test_check_code_of_a_table_never_loaded_raises(app: object) -> None:
    with pytest.raises(LookupError, match="not loaded"):
        check_code("no_such_table", "1")


def test_code_field_rejects_values_outside_the_table(app: object) -> None:
    schema = Schema.from_dict({"urgency": code_field("urgency", required=True)})()
    assert schema.load({"urgency": "02"}) == {"urgency": "02"}
    with pytest.raises(ValidationError) as caught:
        schema.load({"urgency": "07"})
    assert caught.value.messages == {"urgency": ["Not a valid urgency code."]}


# --- the HTTP API -------------------------------------------------------------------------------


def test_code_tables_need_a_login(client: FlaskClient) -> None:
    assert client.get("/api/v1/code-tables").status_code == 401


def test_code_table_list_names_every_table_with_version_and_etag(client: FlaskClient) -> None:
    response = client.get("/api/v1/code-tables", headers=auth_headers(make_user(Role.WORKER)))
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert {item["name"] for item in items} == EXPECTED_TABLES
    assert all(item["version"] >= 1 and item["etag"] for item in items)
    assert response.headers["ETag"].startswith('"')


def test_code_table_returns_values_with_a_strong_etag(client: FlaskClient) -> None:
    response = client.get("/api/v1/code-tables/sex", headers=auth_headers(make_user()))
    assert response.status_code == 200
    body = response.get_json()
    assert [v["code"] for v in body["values"]] == ["0", "1", "2", "9"]
    assert response.headers["ETag"] == f'"{body["etag"]}"'


def test_matching_if_none_match_answers_304_without_a_body(client: FlaskClient) -> None:
    headers = auth_headers(make_user())
    etag = client.get("/api/v1/code-tables/urgency", headers=headers).headers["ETag"]
    response = client.get("/api/v1/code-tables/urgency", headers={**headers, "If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""


def test_stale_if_none_match_gets_the_table(client: FlaskClient) -> None:
    headers = {**auth_headers(make_user()), "If-None-Match": '"stale"'}
    response = client.get("/api/v1/code-tables/urgency", headers=headers)
    assert response.status_code == 200


def test_list_answers_304_when_nothing_changed(client: FlaskClient) -> None:
    headers = auth_headers(make_user(Role.DISPATCHER))
    etag = client.get("/api/v1/code-tables", headers=headers).headers["ETag"]
    response = client.get("/api/v1/code-tables", headers={**headers, "If-None-Match": etag})
    assert response.status_code == 304


def test_unknown_code_table_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/code-tables/colours", headers=auth_headers(make_user()))
    assert response.status_code == 404


def test_flask_codes_load_is_idempotent(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["codes", "load"])
    assert result.exit_code == 0, result.output
    assert "0 code table(s)" in result.output
