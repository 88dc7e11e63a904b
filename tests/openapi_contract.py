"""The contract check: find a response's operation in openapi.yaml and validate it against the spec.

`Contract` wraps one parsed spec (a plain dict) whose `$ref`s resolve through a `referencing`
registry, so a schema pointer anywhere in the document can be validated with OAS 3.0 semantics.
`ContractClient` is the Flask test client that runs every response through it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient
from jsonschema import FormatChecker
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from werkzeug.test import TestResponse

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"
SPEC_URI = "urn:gridwork:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM_POINTER = "/components/schemas/Problem"
# Statuses whose bodies carry nothing a client parses, so only the status itself is checked.
BODYLESS = frozenset({204, 304})
_PARAM = re.compile(r"\{([^{}/]+)\}")


class ContractViolation(AssertionError):
    """A response, or the spec itself, disagrees with openapi.yaml."""


@dataclass(frozen=True)
class Operation:
    """One documented method on one path template, with its JSON pointer in the spec."""

    template: str
    method: str
    node: dict[str, Any]
    pointer: str


def escape(segment: str) -> str:
    """Escape one JSON pointer segment (RFC 6901)."""
    return segment.replace("~", "~0").replace("/", "~1")


def is_json(mimetype: str) -> bool:
    """True for application/json and every +json media type (problem+json, geo+json, ...)."""
    return mimetype == "application/json" or mimetype.endswith("+json")


def _formats() -> FormatChecker:
    # jsonschema's checks (date-time, uuid, date, email, ...) plus the OAS 3.0 numeric/byte ones.
    checker = FormatChecker()
    checker.checkers.update(oas30_format_checker.checkers)
    return checker


def _template_regex(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    # split() alternates literal text and parameter names.
    pattern = "".join(re.escape(p) if i % 2 == 0 else "[^/]+" for i, p in enumerate(parts))
    return re.compile(f"^{pattern}$")


class Contract:
    """One OpenAPI 3.0 document: operation lookup, $ref resolution and response validation."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._formats = _formats()
        self._validators: dict[str, Validator] = {}
        paths: dict[str, Any] = spec.get("paths") or {}
        # Literal segments beat parameters: /users/me is chosen over /users/{id}.
        self._templates = sorted(
            ((t, _template_regex(t)) for t in paths),
            key=lambda item: (len(_PARAM.findall(item[0])), -len(item[0])),
        )

    # --- the document ---------------------------------------------------------------------

    def lookup(self, ref: str) -> Any:
        """Return what a local `$ref` ("#/...") points at; raise ContractViolation if nothing."""
        if not ref.startswith("#"):
            raise ContractViolation(f"$ref {ref!r} is not local to openapi.yaml")
        try:
            return self._registry.resolver().lookup(SPEC_URI + ref).contents
        except Exception as error:  # referencing raises several unrelated types
            raise ContractViolation(f"$ref {ref!r} does not resolve: {error}") from error

    def deref(self, node: Any, pointer: str) -> tuple[Any, str]:
        """Follow `$ref` chains from `node` (found at `pointer`) to the target and its pointer."""
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise ContractViolation(f"$ref cycle at {ref!r}")
            seen.add(ref)
            node, pointer = self.lookup(ref), ref[1:]
        return node, pointer

    def operations(self) -> Iterator[Operation]:
        """Every documented operation in document order."""
        for template, item in (self.spec.get("paths") or {}).items():
            for method in HTTP_METHODS:
                if isinstance(item, dict) and method in item:
                    pointer = f"/paths/{escape(template)}/{method}"
                    yield Operation(template, method, item[method], pointer)

    def schemas(self) -> Iterator[tuple[str, Any]]:
        """Every Schema Object written in the document (not followed through $ref), by pointer."""
        components = self.spec.get("components") or {}
        for name, schema in (components.get("schemas") or {}).items():
            yield f"/components/schemas/{escape(name)}", schema
        for name, node in (components.get("parameters") or {}).items():
            yield from _schema_of(node, f"/components/parameters/{escape(name)}")
        for name, node in (components.get("headers") or {}).items():
            yield from _schema_of(node, f"/components/headers/{escape(name)}")
        for name, node in (components.get("requestBodies") or {}).items():
            yield from _content_schemas(node, f"/components/requestBodies/{escape(name)}")
        for name, node in (components.get("responses") or {}).items():
            yield from _response_schemas(node, f"/components/responses/{escape(name)}")
        for template, item in (self.spec.get("paths") or {}).items():
            base = f"/paths/{escape(template)}"
            for i, node in enumerate(item.get("parameters") or []):
                yield from _schema_of(node, f"{base}/parameters/{i}")
        for op in self.operations():
            for i, node in enumerate(op.node.get("parameters") or []):
                yield from _schema_of(node, f"{op.pointer}/parameters/{i}")
            yield from _content_schemas(op.node.get("requestBody"), f"{op.pointer}/requestBody")
            for status, node in (op.node.get("responses") or {}).items():
                yield from _response_schemas(node, f"{op.pointer}/responses/{status}")

    def refs(self) -> Iterator[tuple[str, str]]:
        """Every `$ref` anywhere in the document, with the pointer of the object holding it."""
        stack: list[tuple[str, Any]] = [("", self.spec)]
        while stack:
            pointer, node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    yield pointer, ref
                stack.extend((f"{pointer}/{escape(str(k))}", v) for k, v in node.items())
            elif isinstance(node, list):
                stack.extend((f"{pointer}/{i}", v) for i, v in enumerate(node))

    def find_template(self, path: str) -> str | None:
        """The spec path template that matches a concrete request path, if any."""
        for template, regex in self._templates:
            if regex.match(path):
                return template
        return None

    def operation(self, method: str, path: str) -> Operation | None:
        """The documented operation for a request, or None."""
        template = self.find_template(path)
        if template is None:
            return None
        item = self.spec["paths"][template]
        method = method.lower()
        if method not in item:
            return None
        return Operation(template, method, item[method], f"/paths/{escape(template)}/{method}")

    # --- validation -------------------------------------------------------------------------

    def schema_error(self, pointer: str, instance: Any) -> str | None:
        """The most relevant reason `instance` fails the schema at `pointer`, or None."""
        validator = self._validators.get(pointer)
        if validator is None:
            validator = OAS30ReadValidator(
                {"$ref": f"{SPEC_URI}#{pointer}"},
                registry=self._registry,
                format_checker=self._formats,
            )
            self._validators[pointer] = validator
        error = best_match(validator.iter_errors(instance))
        if error is None:
            return None
        return f"at {error.json_path}: {error.message}"

    def check(self, method: str, path: str, status: int, mimetype: str, body: bytes) -> None:
        """Raise ContractViolation unless this response is one the spec documents."""
        where = f"{method.upper()} {path} -> {status}"
        operation = self.operation("get" if method.upper() == "HEAD" else method, path)
        if operation is None:
            if method.upper() == "OPTIONS":
                return  # Flask answers OPTIONS itself; the spec does not list it.
            self._check_unrouted(method, path, where, status, mimetype, body)
            return
        responses = operation.node.get("responses") or {}
        key = self._response_key(responses, status)
        if key is None:
            documented = ", ".join(map(str, responses)) or "none"
            raise ContractViolation(
                f"{where}: status {status} is not documented for {operation.method.upper()} "
                f"{operation.template} (documented: {documented}){_excerpt(body)}"
            )
        if status in BODYLESS or 300 <= status < 400:
            return
        response, pointer = self.deref(responses[key], f"{operation.pointer}/responses/{key}")
        content: dict[str, Any] = response.get("content") or {}
        if not content:
            if body:
                raise ContractViolation(
                    f"{where}: a {mimetype} body, but the spec documents no content "
                    f"for {key}{_excerpt(body)}"
                )
            return
        media = _media_key(content, mimetype)
        if media is None:
            raise ContractViolation(
                f"{where}: Content-Type {mimetype or 'none'} is not documented for {key} "
                f"(documented: {', '.join(content)}){_excerpt(body)}"
            )
        if method.upper() == "HEAD" or not is_json(mimetype):
            return
        media_node, media_pointer = self.deref(content[media], f"{pointer}/content/{escape(media)}")
        if "schema" in media_node:
            self._check_body(where, f"{media_pointer}/schema", body)

    def _check_unrouted(
        self, method: str, path: str, where: str, status: int, mimetype: str, body: bytes
    ) -> None:
        if status not in (404, 405):
            template = self.find_template(path)
            missing = (
                f"{template} documents no {method.upper()}"
                if template
                else "no path in openapi.yaml matches"
            )
            raise ContractViolation(
                f"{where}: {missing}, so only 404 or 405 may answer" + _excerpt(body)
            )
        if mimetype != "application/problem+json":
            raise ContractViolation(f"{where}: expected application/problem+json, got {mimetype}")
        if method.upper() != "HEAD":
            self._check_body(where, PROBLEM_POINTER, body)

    def _check_body(self, where: str, pointer: str, body: bytes) -> None:
        try:
            instance = json.loads(body)
        except ValueError as error:
            raise ContractViolation(
                f"{where}: body is not JSON ({error}){_excerpt(body)}"
            ) from error
        problem = self.schema_error(pointer, instance)
        if problem is not None:
            raise ContractViolation(
                f"{where}: body does not match #{pointer} {problem}{_excerpt(body)}"
            )

    @staticmethod
    def _response_key(responses: dict[Any, Any], status: int) -> Any:
        # YAML turns an unquoted 200 into an int key; match on the text either way.
        keys = {str(key).upper(): key for key in responses}
        for wanted in (str(status), f"{str(status)[0]}XX", "DEFAULT"):
            if wanted in keys:
                return keys[wanted]
        return None


def _schema_of(node: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict) and "schema" in node:
        yield f"{pointer}/schema", node["schema"]


def _content_schemas(node: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for media, media_node in (node.get("content") or {}).items():
            yield from _schema_of(media_node, f"{pointer}/content/{escape(media)}")


def _response_schemas(node: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    yield from _content_schemas(node, pointer)
    if isinstance(node, dict):
        for name, header in (node.get("headers") or {}).items():
            yield from _schema_of(header, f"{pointer}/headers/{escape(name)}")


def _media_key(content: dict[str, Any], mimetype: str) -> str | None:
    if mimetype in content:
        return mimetype
    major = mimetype.split("/")[0]
    for key in (f"{major}/*", "*/*"):
        if key in content:
            return key
    return None


def _excerpt(body: bytes) -> str:
    if not body:
        return ""
    text = body[:300].decode("utf-8", "replace")
    return f"\n  body: {text}{'...' if len(body) > 300 else ''}"


@cache
def load_contract(path: Path = SPEC_PATH) -> Contract:
    """Parse openapi.yaml once per test process."""
    with path.open(encoding="utf-8") as handle:
        return Contract(yaml.safe_load(handle))


class ContractClient(FlaskClient):
    """A Flask test client that fails the test when any response disagrees with the spec.

    `raw` is an unvalidated client for tests that deliberately send garbage; it must not be used
    to hide a response the spec should document.
    """

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contract = contract
        self.raw: FlaskClient = self.application.test_client()

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        """Send the request, then check it and every redirect on the way against the spec."""
        response = super().open(*args, **kwargs)
        for each in (*response.history, response):
            self.contract.check(
                each.request.method,
                each.request.path,
                each.status_code,
                each.mimetype or "",
                each.get_data(),
            )
        return response
