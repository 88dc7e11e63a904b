"""The demo use cases: load the district and accounts once, list the demo logins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from server.demo.accounts import (
    LOGINS_FILE,
    create_accounts,
    keep_passwords,
    plan_accounts,
    read_logins,
)
from server.demo.district import build_district, find_demo_root
from server.demo.layout import DEMO_SEED
from server.extensions import db
from server.transaction import transaction


@dataclass(frozen=True)
class LoadResult:
    """Whether the demo was created now (False: it was already there) and what was written."""

    created: bool
    counts: dict[str, int]


def _instance_path() -> Path:
    return Path(current_app.config["INSTANCE_PATH"])


def load_demo(seed: int = DEMO_SEED) -> LoadResult:
    """Create the demo district and accounts in one transaction, unless the demo root exists."""
    with transaction():
        if find_demo_root(db.session) is not None:
            return LoadResult(created=False, counts={})
        district = build_district(db.session, seed)
        accounts = plan_accounts(district)
        passwords = keep_passwords(_instance_path(), accounts)
        users = create_accounts(db.session, district, accounts, passwords)
    return LoadResult(created=True, counts={**district.counts, "users": users})


def demo_logins() -> list[dict[str, Any]]:
    """The demo logins (role, username, password, scope) kept in the instance folder."""
    return read_logins(_instance_path())


def logins_file() -> Path:
    """Where the demo logins are kept."""
    return _instance_path() / LOGINS_FILE
