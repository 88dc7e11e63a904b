"""Refuse request text that PostgreSQL cannot store: NUL characters and unpaired surrogates.

Such a string passes every schema and only fails in the database driver, as a 500 whose log
line quotes the input. Checked once here, before any view runs, it is a 422 naming the field.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest

from server.errors import InvalidInput

UNSTORABLE = "Text may not contain NUL (U+0000) or unpaired surrogate characters."


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


def _refuse_unstorable_text() -> None:
    paths = [key for key, text in request.args.items(multi=True) if not is_storable(text)]
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError as exc:
            raise BadRequest("The JSON body is nested too deeply.") from exc
        paths += unstorable_paths(body)
    if paths:
        raise InvalidInput({path: [UNSTORABLE] for path in paths}, detail=UNSTORABLE)


def install_text_guard(app: Flask) -> None:
    """Check every request's query string and JSON body for text the database cannot store."""
    app.before_request(_refuse_unstorable_text)
