"""The whole test run's logs, kept in one file and scanned at the end for ID and phone numbers.

Every log record of the run goes through the app's JsonFormatter into a file; when the session
finishes, any citizen ID number (valid check digit) or mobile number found in it fails the run.
The offending values are never printed, only where they are.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from server.logs import JsonFormatter
from server.registry.validators import check_citizen_id

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")


def attach(path: Path) -> logging.Handler:
    """Send every log record of this process, JSON-formatted, to `path`."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    return handler


def _is_citizen_id(candidate: str) -> bool:
    try:
        check_citizen_id(candidate)
    except ValueError:
        return False
    return True


def personal_numbers(text: str) -> list[tuple[int, str]]:
    """(line number, kind) of every citizen ID number or mobile number in `text`."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if any(_is_citizen_id(m.group()) for m in ID_NUMBER.finditer(line)):
            found.append((number, "citizen id number"))
        if MOBILE.search(line):
            found.append((number, "mobile number"))
    return found
