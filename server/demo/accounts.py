"""Demo users: an admin, an auditor, two scoped dispatchers and the grid workers.

Passwords are random per installation, kept (owner-readable only) in the instance folder as
demo-logins.json, and only their Argon2id hashes reach the database.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.auth.models import Role, User, UserStatus
from server.auth.passwords import hash_password
from server.demo.district import DEMO_VALID_FROM, AnySession, DistrictSummary, demo_id
from server.hierarchy.models import GridAssignment, OrgAssignment

LOGINS_FILE = "demo-logins.json"
# Communities whose last two grids share one worker (a worker covering two grids).
SHARED_WORKER_COMMUNITIES = frozenset({"610112011002", "610112012002", "610404101203"})
# (username, org unit key, label) of the dispatchers: one town, one whole new city.
DISPATCHERS = (
    ("dispatcher01", "610112011", "三桥街道 610112011"),
    ("dispatcher02", "秦汉新城", "秦汉新城 (new city)"),
)


@dataclass(frozen=True)
class DemoAccount:
    """A demo user to create: role, username, display name and what it is scoped to."""

    role: Role
    username: str
    display_name: str
    scope: str
    grid_codes: tuple[str, ...] = ()
    org_unit_key: str | None = None


def plan_accounts(district: DistrictSummary) -> list[DemoAccount]:
    """Every demo account for the district, workers in grid-code order, the unassigned one last."""
    accounts = [
        DemoAccount(Role.ADMIN, "admin", "系统管理员", "everything"),
        DemoAccount(Role.AUDITOR, "auditor", "审计员", "everything (read-only)"),
    ]
    accounts += [
        DemoAccount(Role.DISPATCHER, name, f"{label.split()[0]}网格中心", label, org_unit_key=key)
        for name, key, label in DISPATCHERS
    ]
    codes = sorted(district.grid_ids)
    # The last grid of each of these communities goes to the worker of the grid before it.
    shared = {
        max(c for c in codes if district.community_of_grid[c] == community)
        for community in SHARED_WORKER_COMMUNITIES
    }
    covered: list[tuple[str, ...]] = []
    for code in codes:
        if code in shared:
            covered[-1] = (*covered[-1], code)
        else:
            covered.append((code,))
    for n, grids in enumerate(covered, start=1):
        username = f"worker{n:02d}"
        accounts.append(
            DemoAccount(Role.WORKER, username, f"网格员{n:02d}", ", ".join(grids), grid_codes=grids)
        )
    spare = f"worker{len(covered) + 1:02d}"
    accounts.append(DemoAccount(Role.WORKER, spare, f"网格员{len(covered) + 1:02d}", "no grid"))
    return accounts


def read_logins(instance_path: Path) -> list[dict[str, Any]]:
    """The demo logins kept in the instance folder ([] when none have been generated)."""
    path = instance_path / LOGINS_FILE
    if not path.exists():
        return []
    logins: list[dict[str, Any]] = json.loads(path.read_text())["logins"]
    return logins


def _write_logins(instance_path: Path, logins: list[dict[str, Any]]) -> None:
    """Replace the logins file atomically, readable by the owner only."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / LOGINS_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"logins": logins}, fh, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def keep_passwords(instance_path: Path, accounts: Iterable[DemoAccount]) -> dict[str, str]:
    """Passwords by username: reused from the logins file, else freshly generated and saved.

    Saved before the database commit, so a failed load never leaves users whose passwords
    nobody knows; the next load reuses them.
    """
    known = {login["username"]: login["password"] for login in read_logins(instance_path)}
    passwords: dict[str, str] = {}
    logins: list[dict[str, Any]] = []
    for account in accounts:
        password = known.get(account.username) or secrets.token_urlsafe(12)
        passwords[account.username] = password
        logins.append(
            {
                "role": account.role.value,
                "username": account.username,
                "password": password,
                "scope": account.scope,
                "grids": list(account.grid_codes),
            }
        )
    _write_logins(instance_path, logins)
    return passwords


def create_accounts(
    session: AnySession,
    district: DistrictSummary,
    accounts: Sequence[DemoAccount],
    passwords: dict[str, str],
) -> int:
    """Add the users and their grid and org assignments to `session`; return the user count."""
    users = [
        User(
            id=demo_id("user", account.username),
            username=account.username,
            display_name=account.display_name,
            password_hash=hash_password(passwords[account.username]),
            role=account.role,
            status=UserStatus.ACTIVE,
            failed_logins=0,
        )
        for account in accounts
    ]
    session.add_all(users)
    session.flush()
    for account in accounts:
        user_id = demo_id("user", account.username)
        session.add_all(
            GridAssignment(
                user_id=user_id, grid_id=district.grid_ids[code], valid_from=DEMO_VALID_FROM
            )
            for code in account.grid_codes
        )
        if account.org_unit_key is not None:
            session.add(
                OrgAssignment(
                    user_id=user_id,
                    org_unit_id=district.unit_ids[account.org_unit_key],
                    valid_from=DEMO_VALID_FROM,
                )
            )
    session.flush()
    return len(users)
