"""openapi.yaml stays true: it matches the routes, it is well formed, and the validator bites."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.exceptions import SchemaError
from openapi_schema_validator import OAS30Validator

from tests.openapi_contract import (
    HTTP_METHODS,
    Contract,
    ContractClient,
    ContractViolation,
    is_json,
    load_contract,
)

_RULE_PARAM = re.compile(r"<(?:[^<>:]+:)?([A-Za-z_]\w*)>")
_PATH_PARAM = re.compile(r"\{([^{}/]+)\}")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}
_OAS30_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


# --- the spec against the app -----------------------------------------------------------------


def _app_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        template = _RULE_PARAM.sub(r"{\1}", rule.rule)
        routes |= {(m, template) for m in (rule.methods or set()) - _IGNORED_METHODS}
    return routes


def _spec_routes(contract: Contract) -> set[tuple[str, str]]:
    return {
        (op.method.upper(), op.template)
        for op in contract.operations()
        if op.method.upper() not in _IGNORED_METHODS
    }


def _listing(routes: set[tuple[str, str]]) -> str:
    return "\n".join(f"  {method} {path}" for method, path in sorted(routes, key=lambda r: r[::-1]))


def test_every_app_route_is_in_the_spec_with_the_same_methods(app: Flask) -> None:
    missing = _app_routes(app) - _spec_routes(load_contract())
    assert not missing, "served by the app but missing from openapi.yaml:\n" + _listing(missing)


def test_every_spec_operation_is_served_by_the_app(app: Flask) -> None:
    missing = _spec_routes(load_contract()) - _app_routes(app)
    assert not missing, "in openapi.yaml but not served by the app:\n" + _listing(missing)


# --- the spec on its own ----------------------------------------------------------------------


def _oas30_only_problems(schema: Any, pointer: str) -> list[str]:
    """What draft-04's metaschema allows but OAS 3.0 does not (type lists, null type, ...)."""
    problems: list[str] = []
    if not isinstance(schema, dict) or "$ref" in schema:
        return problems
    kind = schema.get("type")
    if kind is not None and kind not in _OAS30_TYPES:
        problems.append(f"{pointer}: type {kind!r} is not an OAS 3.0 type (use nullable: true)")
    if "nullable" in schema and not isinstance(schema["nullable"], bool):
        problems.append(f"{pointer}: nullable must be a boolean")
    for key in ("properties", "patternProperties"):
        for name, sub in (schema.get(key) or {}).items():
            problems += _oas30_only_problems(sub, f"{pointer}/{key}/{name}")
    for key in ("items", "additionalProperties", "not"):
        problems += _oas30_only_problems(schema.get(key), f"{pointer}/{key}")
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(key) or []):
            problems += _oas30_only_problems(sub, f"{pointer}/{key}/{i}")
    return problems


def test_every_schema_is_a_valid_oas30_schema() -> None:
    problems: list[str] = []
    for pointer, schema in load_contract().schemas():
        try:
            OAS30Validator.check_schema(schema)
        except SchemaError as error:
            problems.append(f"#{pointer}: {error.message}")
        problems += [f"#{p}" for p in _oas30_only_problems(schema, pointer)]
    assert not problems, "invalid schemas in openapi.yaml:\n  " + "\n  ".join(problems)


def test_every_ref_resolves() -> None:
    contract = load_contract()
    broken = []
    for pointer, ref in contract.refs():
        try:
            contract.lookup(ref)
        except ContractViolation as error:
            broken.append(f"#{pointer}: {error}")
    assert not broken, "unresolved $ref in openapi.yaml:\n  " + "\n  ".join(broken)


def test_every_operation_declares_a_response() -> None:
    bare = [
        f"{op.method.upper()} {op.template}"
        for op in load_contract().operations()
        if not op.node.get("responses")
    ]
    assert not bare, "operations without responses:\n  " + "\n  ".join(bare)


def test_every_secured_operation_declares_401() -> None:
    contract = load_contract()
    default_security = contract.spec.get("security") or []
    lacking = [
        f"{op.method.upper()} {op.template}"
        for op in contract.operations()
        if op.node.get("security", default_security)
        and "401" not in {str(k) for k in op.node.get("responses") or {}}
    ]
    assert not lacking, "secured operations without a 401 response:\n  " + "\n  ".join(lacking)


def test_every_json_media_type_declares_a_schema() -> None:
    contract = load_contract()
    bare = []
    for op in contract.operations():
        for status, response in (op.node.get("responses") or {}).items():
            node, _ = contract.deref(response, "")
            for media, media_node in (node.get("content") or {}).items():
                if is_json(media) and "schema" not in media_node:
                    bare.append(f"{op.method.upper()} {op.template} {status} {media}")
    assert not bare, "JSON responses without a schema:\n  " + "\n  ".join(bare)


def test_every_path_parameter_is_declared() -> None:
    contract = load_contract()
    undeclared = []
    for op in contract.operations():
        item = contract.spec["paths"][op.template]
        declared = set()
        for node in [*(item.get("parameters") or []), *(op.node.get("parameters") or [])]:
            parameter, _ = contract.deref(node, "")
            if parameter.get("in") == "path":
                declared.add(parameter.get("name"))
        for name in set(_PATH_PARAM.findall(op.template)) - declared:
            undeclared.append(f"{op.method.upper()} {op.template}: {{{name}}}")
    assert not undeclared, "path parameters without a declaration:\n  " + "\n  ".join(undeclared)


def test_operation_keys_are_http_methods() -> None:
    allowed = {*HTTP_METHODS, "parameters", "summary", "description", "servers", "$ref"}
    odd = [
        f"{template}: {key}"
        for template, item in (load_contract().spec.get("paths") or {}).items()
        for key in item
        if key not in allowed
    ]
    assert not odd, "unknown keys in path items (a typo for a method?):\n  " + "\n  ".join(odd)


# --- the validator itself, on a tiny spec ----------------------------------------------------

_PROBLEM = {"$ref": "#/components/responses/Problem"}
TINY: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "tiny", "version": "1"},
    "paths": {
        "/things/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True}],
            "get": {
                "responses": {
                    "200": {
                        "description": "A thing",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                        },
                    },
                    "404": _PROBLEM,
                },
            },
            "delete": {"responses": {"204": {"description": "Gone"}}},
        },
        "/things/mine": {
            "get": {
                "responses": {
                    "200": {
                        "description": "Mine",
                        "content": {"application/json": {"schema": {"type": "array"}}},
                    }
                }
            }
        },
    },
    "components": {
        "responses": {
            "Problem": {
                "description": "An error",
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        },
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string", "nullable": True},
                },
                "additionalProperties": False,
            },
            "Problem": {
                "type": "object",
                "required": ["status", "code"],
                "properties": {"status": {"type": "integer"}, "code": {"type": "string"}},
            },
        },
    },
}
THING_ID = "6f1c2a44-8d3e-4a55-9a57-0c4cfd1f2b11"
THING_PATH = f"/things/{THING_ID}"
JSON = "application/json"
PROBLEM = "application/problem+json"


def _tiny() -> Contract:
    return Contract(copy.deepcopy(TINY))


def test_validator_accepts_a_documented_response() -> None:
    _tiny().check("GET", THING_PATH, 200, JSON, b'{"id": "%s", "name": "a"}' % THING_ID.encode())


def test_validator_rejects_an_undocumented_status() -> None:
    with pytest.raises(ContractViolation, match="status 500 is not documented"):
        _tiny().check("GET", THING_PATH, 500, PROBLEM, b'{"status": 500, "code": "x"}')


def test_validator_rejects_an_undocumented_content_type() -> None:
    with pytest.raises(ContractViolation, match="Content-Type text/html is not documented"):
        _tiny().check("GET", THING_PATH, 200, "text/html", b"<p>hi</p>")


def test_validator_rejects_a_body_that_does_not_match_its_schema() -> None:
    with pytest.raises(ContractViolation, match="'name' is a required property"):
        _tiny().check("GET", THING_PATH, 200, JSON, b'{"id": "%s"}' % THING_ID.encode())


def test_validator_rejects_a_body_that_is_not_json() -> None:
    with pytest.raises(ContractViolation, match="not JSON"):
        _tiny().check("GET", THING_PATH, 200, JSON, b"{oops")


def test_validator_honours_nullable_only_where_declared() -> None:
    contract = _tiny()
    contract.check("GET", THING_PATH, 200, JSON, b'{"id": "%s", "name": null}' % THING_ID.encode())
    with pytest.raises(ContractViolation, match=r"at \$\.id"):
        contract.check("GET", THING_PATH, 200, JSON, b'{"id": null, "name": "a"}')


def test_validator_checks_formats() -> None:
    with pytest.raises(ContractViolation, match="is not a 'uuid'"):
        _tiny().check("GET", THING_PATH, 200, JSON, b'{"id": "nope", "name": "a"}')


def test_validator_follows_response_refs_to_the_problem_schema() -> None:
    contract = _tiny()
    contract.check("GET", THING_PATH, 404, PROBLEM, b'{"status": 404, "code": "not_found"}')
    with pytest.raises(ContractViolation, match="'code' is a required property"):
        contract.check("GET", THING_PATH, 404, PROBLEM, b'{"status": 404}')


def test_validator_prefers_a_literal_segment_over_a_parameter() -> None:
    contract = _tiny()
    contract.check("GET", "/things/mine", 200, JSON, b"[]")
    with pytest.raises(ContractViolation, match="is not of type 'array'"):
        contract.check("GET", "/things/mine", 200, JSON, b'{"id": "x"}')


def test_validator_lets_a_bodyless_status_through_without_content() -> None:
    _tiny().check("DELETE", THING_PATH, 204, "", b"")


def test_validator_rejects_a_body_where_no_content_is_documented() -> None:
    contract = Contract(copy.deepcopy(TINY))
    contract.spec["paths"]["/things/{id}"]["delete"]["responses"]["200"] = {"description": "ok"}
    with pytest.raises(ContractViolation, match="documents no content"):
        contract.check("DELETE", THING_PATH, 200, JSON, b"{}")


def test_validator_lets_unknown_paths_answer_only_404_problem() -> None:
    contract = _tiny()
    contract.check("GET", "/nowhere", 404, PROBLEM, b'{"status": 404, "code": "not_found"}')
    with pytest.raises(ContractViolation, match="only 404 or 405"):
        contract.check("GET", "/nowhere", 200, JSON, b"{}")
    with pytest.raises(ContractViolation, match="'code' is a required property"):
        contract.check("GET", "/nowhere", 404, PROBLEM, b'{"status": 404}')


def test_validator_lets_an_undocumented_method_answer_only_405_problem() -> None:
    contract = _tiny()
    contract.check("POST", THING_PATH, 405, PROBLEM, b'{"status": 405, "code": "x"}')
    with pytest.raises(ContractViolation, match="only 404 or 405"):
        contract.check("POST", THING_PATH, 201, JSON, b"{}")


def test_validator_reports_a_dangling_ref() -> None:
    with pytest.raises(ContractViolation, match="does not resolve"):
        _tiny().lookup("#/components/schemas/Missing")


# --- the client fixture ----------------------------------------------------------------------


def test_client_fixture_validates_every_response(client: FlaskClient) -> None:
    assert isinstance(client, ContractClient)
    assert not isinstance(client.raw, ContractClient)


def test_client_fails_a_response_the_spec_does_not_document(app: Flask) -> None:
    spec = copy.deepcopy(load_contract().spec)
    spec["paths"]["/healthz"]["get"]["responses"] = {"201": {"description": "Created"}}
    strict = ContractClient(app, app.response_class, contract=Contract(spec))
    with pytest.raises(ContractViolation, match=r"GET /healthz -> 200: status 200"):
        strict.get("/healthz")
    assert strict.raw.get("/healthz").status_code == 200
