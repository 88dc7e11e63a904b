"""Versioned code tables (GB/T reference data): the JSON files, their loader, and code checks.

The files in `code_tables/` are the source of truth. `load_code_tables` upserts them into
`code_tables` / `code_values`; a value removed from a file is deactivated, never deleted, because
old records still carry it. Coded fields are checked with `code_field` / `check_code`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import g
from marshmallow import ValidationError, fields
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from server.errors import NotFound
from server.extensions import db

CODE_TABLES_DIR = Path(__file__).resolve().parent / "code_tables"

# The app passes its scoped session; scripts may pass a plain one.
AnySession = Session | scoped_session[Any]

# id_type codes the registry branches on (the public-security certificate type codes).
ID_TYPE_CITIZEN_ID = "111"


class CodeTable(db.Model):  # type: ignore[name-defined,misc]
    """One loaded code table; `etag` is a hash of the file content it was loaded from."""

    __tablename__ = "code_tables"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    etag: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CodeValue(db.Model):  # type: ignore[name-defined,misc]
    """One code of a table; inactive codes stay readable for old records but fail new checks."""

    __tablename__ = "code_values"

    table_name: Mapped[str] = mapped_column(
        ForeignKey("code_tables.name", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


@dataclass(frozen=True)
class CodeTableFile:
    """A code table as read from its JSON file."""

    name: str
    version: int
    title: str
    values: tuple[dict[str, Any], ...]
    etag: str


def read_code_table_file(path: Path) -> CodeTableFile:
    """Parse and sanity-check one code table file; raise ValueError naming the file if it is bad."""
    data = json.loads(path.read_text(encoding="utf-8"))
    name, version, title, values = (data.get(k) for k in ("name", "version", "title", "values"))
    if name != path.stem or not isinstance(version, int) or not isinstance(title, str):
        raise ValueError(f"{path.name}: needs name (= file name), integer version and title")
    if not isinstance(values, list) or not values:
        raise ValueError(f"{path.name}: needs a non-empty list of values")
    codes = [v.get("code") for v in values]
    if len(set(codes)) != len(codes) or not all(isinstance(c, str) and c for c in codes):
        raise ValueError(f"{path.name}: codes must be unique non-empty strings")
    for value in values:
        if not isinstance(value.get("label"), str) or value.get("parent") not in (None, *codes):
            raise ValueError(f"{path.name}: {value.get('code')}: bad label or unknown parent")
    canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    etag = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return CodeTableFile(name, version, title, tuple(values), etag)


def read_code_table_files(directory: Path = CODE_TABLES_DIR) -> list[CodeTableFile]:
    """Every code table file in `directory`, by name."""
    return [read_code_table_file(path) for path in sorted(directory.glob("*.json"))]


def load_code_tables(session: AnySession, directory: Path = CODE_TABLES_DIR) -> int:
    """Upsert the code table files into the database and return how many tables changed.

    Unchanged files (same etag) are skipped. A changed file must carry a higher version. Values
    missing from a file are deactivated, never deleted. The caller commits.
    """
    stored = {row.name: row for row in session.scalars(select(CodeTable))}
    changed = 0
    for table in read_code_table_files(directory):
        current = stored.get(table.name)
        if current is not None and current.etag == table.etag:
            continue
        if current is not None and table.version <= current.version:
            raise ValueError(
                f"code table {table.name} changed without a version bump (stored version "
                f"{current.version}, file version {table.version})"
            )
        _upsert_table(session, table)
        changed += 1
    forget_cached_codes()
    return changed


def _upsert_table(session: AnySession, table: CodeTableFile) -> None:
    header = insert(CodeTable).values(
        name=table.name, version=table.version, title=table.title, etag=table.etag
    )
    session.execute(
        header.on_conflict_do_update(
            index_elements=[CodeTable.name],
            set_={
                "version": header.excluded.version,
                "title": header.excluded.title,
                "etag": header.excluded.etag,
                "loaded_at": func.now(),
            },
        )
    )
    rows = [
        {
            "table_name": table.name,
            "code": value["code"],
            "label": value["label"],
            "parent": value.get("parent"),
            "position": position,
            "active": True,
        }
        for position, value in enumerate(table.values)
    ]
    values = insert(CodeValue).values(rows)
    session.execute(
        values.on_conflict_do_update(
            index_elements=[CodeValue.table_name, CodeValue.code],
            set_={
                "label": values.excluded.label,
                "parent": values.excluded.parent,
                "position": values.excluded.position,
                "active": True,
            },
        )
    )
    session.execute(
        update(CodeValue)
        .where(
            CodeValue.table_name == table.name,
            CodeValue.code.not_in([row["code"] for row in rows]),
        )
        .values(active=False)
    )


# Process-wide: table name → (etag, active codes). The etags themselves are read once per
# app context (one small query per request), so a reload elsewhere is seen by the next request.
_active_codes: dict[str, tuple[str, frozenset[str]]] = {}


def forget_cached_codes() -> None:
    """Drop the cached etags of this app context so the next check rereads them."""
    g.pop("_code_table_etags", None)


def _etags() -> dict[str, str]:
    etags: dict[str, str] | None = g.get("_code_table_etags")
    if etags is None:
        rows = db.session.execute(select(CodeTable.name, CodeTable.etag)).tuples().all()
        etags = dict(rows)
        g._code_table_etags = etags
    return etags


def active_codes(table: str) -> frozenset[str]:
    """The active codes of a table; raises LookupError for a table that was never loaded."""
    etag = _etags().get(table)
    if etag is None:
        raise LookupError(f"code table {table!r} is not loaded (run `flask codes load`)")
    cached = _active_codes.get(table)
    if cached is not None and cached[0] == etag:
        return cached[1]
    codes = frozenset(
        db.session.scalars(
            select(CodeValue.code).where(CodeValue.table_name == table, CodeValue.active)
        )
    )
    _active_codes[table] = (etag, codes)
    return codes


def load_active_codes() -> None:
    """Have every loaded table's active codes cached now (the etags' query of this request, and
    one query per table whose etag changed), so checks made while the connection is busy with
    statements in flight (a push checks its ops meanwhile) run no query."""
    for table in _etags():
        active_codes(table)


def check_code(table: str, value: str) -> bool:
    """True when `value` is an active code of `table` (cached per process by the table's etag)."""
    return value in active_codes(table)


def code_field(table: str, **kwargs: Any) -> fields.String:
    """A marshmallow String field rejecting values that are not active codes of `table`."""

    def validate_code(value: str) -> None:
        if not check_code(table, value):
            raise ValidationError(f"Not a valid {table} code.")

    extra = kwargs.pop("validate", None)
    validators: list[Callable[[Any], Any]] = [validate_code]
    if callable(extra):
        validators.append(extra)
    elif isinstance(extra, Iterable):
        validators.extend(extra)
    return fields.String(validate=validators, **kwargs)


def list_code_tables() -> list[CodeTable]:
    """Every loaded code table, by name."""
    return list(db.session.scalars(select(CodeTable).order_by(CodeTable.name)))


def get_code_table(name: str) -> tuple[CodeTable, list[CodeValue]]:
    """One code table with all its values (inactive ones too, flagged), in file order."""
    # A name PostgreSQL cannot hold (a NUL) names no table either.
    table = None if "\x00" in name else db.session.get(CodeTable, name)
    if table is None:
        raise NotFound(f"No code table named {name!r}.")
    values = list(
        db.session.scalars(
            select(CodeValue)
            .where(CodeValue.table_name == name)
            .order_by(CodeValue.position, CodeValue.code)
        )
    )
    return table, values


def combined_etag(tables: Iterable[CodeTable]) -> str:
    """One etag for the list of tables: changes whenever any table's content does."""
    digest = hashlib.sha256()
    for table in tables:
        digest.update(f"{table.name}:{table.etag}\n".encode())
    return digest.hexdigest()[:32]
