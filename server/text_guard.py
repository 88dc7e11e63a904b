"""Refuse request text that PostgreSQL cannot store: NUL characters and unpaired surrogates.

Such a string passes every schema and only fails in the database driver, as a 500 whose log
line quotes the input. Checked once here, before any view runs, it is a 422 naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest

from server.errors import InvalidInput

UNSTORABLE = "Text may not contain NUL (U+0000) or unpaired surrogate characters."
OWN_JSON = "parses_own_json"
View = TypeVar("View", bound=Callable[..., Any])


def is_storable(text: str) -> bool:
    """True when PostgreSQL can store `text` (no NUL, valid UTF-8 once encoded)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_paths(value: Any) -> list[str]:
    """Dotted paths (`a.b.0`) of every unstorable string or key in a parsed JSON value."""
    found: list[str] = []
    # An explicit stack: the JSON may be nested as deep as the parser allowed.
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not is_storable(item):
                found.append(path or "_schema")
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if not is_storable(str(key)):
                    found.append(path or "_schema")
                else:
                    stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), child) for i, child in enumerate(item))
    return sorted(set(found))


def parses_own_json(view: View) -> View:
    """Mark a view that reads its body with `load_json` itself: the guard leaves its body alone
    (a 500-op push would otherwise be parsed twice and walked string by string)."""
    setattr(view, OWN_JSON, True)
    return view


def load_json(raw: bytes) -> Any:
    """Parse a JSON body with orjson, refusing text PostgreSQL cannot store as the guard does.

    orjson refuses unpaired surrogates (so they are named here with the stdlib parser, which
    keeps them) and its only way to a NUL is the `\\u0000` escape, so a body without one needs
    no walk. Raises `orjson.JSONDecodeError` for a body that is not JSON.
    """
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as refused:
        try:
            kept = json.loads(raw)
        except RecursionError as exc:
            raise BadRequest("The JSON body is nested too deeply.") from exc
        except ValueError:
            raise refused from None
        _refuse(unstorable_paths(kept))
        raise
    if b"\\u0000" in raw:
        _refuse(unstorable_paths(parsed))
    return parsed


def _refuse(paths: list[str]) -> None:
    if paths:
        raise InvalidInput({path: [UNSTORABLE] for path in paths}, detail=UNSTORABLE)


def _refuse_unstorable_text() -> None:
    paths = [key for key, text in request.args.items(multi=True) if not is_storable(text)]
    view = current_app.view_functions.get(request.endpoint or "")
    if request.is_json and not getattr(view, OWN_JSON, False):
        try:
            body = request.get_json(silent=True)
        except RecursionError as exc:
            raise BadRequest("The JSON body is nested too deeply.") from exc
        paths += unstorable_paths(body)
    _refuse(paths)


def install_text_guard(app: Flask) -> None:
    """Check every request's query string and JSON body for text the database cannot store."""
    app.before_request(_refuse_unstorable_text)
