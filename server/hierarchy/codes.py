"""Division and grid code rules (pure): the 12-digit statistical code and the 15-digit grid code."""

from __future__ import annotations

import re
from collections.abc import Iterable

from server.hierarchy.models import GridKind, OrgLevel

# The level a new unit under a parent of each level must have (None: a root).
CHILD_LEVEL: dict[OrgLevel | None, OrgLevel] = {
    None: OrgLevel.NEW_AREA,
    OrgLevel.NEW_AREA: OrgLevel.NEW_CITY,
    OrgLevel.NEW_CITY: OrgLevel.TOWN,
    OrgLevel.TOWN: OrgLevel.COMMUNITY,
}

# Township digits 001–399 (street 001–099, town 100–199, township 200–399); villages 001–399
# (residents' committees 001–199, villagers' committees 200–399).
LOCAL_RANGE = range(1, 400)
# Grid sequences: comprehensive grids 001–899, dedicated grids (schools, hospitals, parks…) 900–999.
GRID_RANGES: dict[GridKind, range] = {
    GridKind.COMPREHENSIVE: range(1, 900),
    GridKind.DEDICATED: range(900, 1000),
}

_DIGITS = re.compile(r"^[0-9]+\Z")


def division_code_problem(level: OrgLevel, code: str | None, parent_code: str | None) -> str | None:
    """Why `code` is not a valid division code for a unit of `level` under a parent with
    `parent_code`, or None if it is. New areas and new cities may have no statutory code."""
    if level in (OrgLevel.NEW_AREA, OrgLevel.NEW_CITY):
        if code is not None and not (_DIGITS.match(code) and len(code) <= 12):
            return "A new area or new city code is at most 12 digits."
        return None
    if code is None:
        return f"A {level.value} needs its statistical division code."
    if level == OrgLevel.TOWN:
        if not (_DIGITS.match(code) and len(code) == 9):
            return "A town code is 9 digits: 6-digit county + 3-digit township."
        if int(code[6:]) not in LOCAL_RANGE:
            return "The township digits (last 3) must be 001–399."
        return None
    if not (_DIGITS.match(code) and len(code) == 12):
        return "A community code is 12 digits: 9-digit town code + 3-digit village."
    if parent_code is None or code[:9] != parent_code:
        return f"A community code must start with its town's code {parent_code or '(none)'}."
    if int(code[9:]) not in LOCAL_RANGE:
        return "The village digits (last 3) must be 001–399."
    return None


def grid_code_problem(code: str, community_code: str, kind: GridKind) -> str | None:
    """Why `code` is not a valid grid code of `kind` in the community, or None if it is."""
    if not (_DIGITS.match(code) and len(code) == 15):
        return "A grid code is 15 digits: 12-digit community code + 3-digit sequence."
    if code[:12] != community_code:
        return f"A grid code must start with its community's code {community_code}."
    allowed = GRID_RANGES[kind]
    if int(code[12:]) not in allowed:
        return f"A {kind.value} grid's sequence must be {allowed.start:03d}–{allowed.stop - 1:03d}."
    return None


def next_grid_code(community_code: str, kind: GridKind, used: Iterable[str]) -> str | None:
    """The lowest free grid code of `kind` in the community, or None when its range is full."""
    taken = {int(c[12:]) for c in used if len(c) == 15 and c.startswith(community_code)}
    for sequence in GRID_RANGES[kind]:
        if sequence not in taken:
            return f"{community_code}{sequence:03d}"
    return None
