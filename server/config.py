"""Configuration from environment variables; secrets generated once into the instance folder."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Keys that must never have a default in code: generated on first use, kept in instance/.
SECRET_NAMES = ("JWT_SIGNING_KEY", "DATA_ENCRYPTION_KEY", "LOOKUP_HASH_KEY")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw else default


def load_secrets(instance_path: Path, env: Mapping[str, str]) -> dict[str, bytes]:
    """Return the signing and encryption keys: from the environment, else instance/secrets.json.

    A missing file is created once with fresh random keys, readable by the owner only.
    """
    path = instance_path / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    missing = [name for name in SECRET_NAMES if name not in stored and not env.get(name)]
    if missing:
        instance_path.mkdir(parents=True, exist_ok=True)
        for name in missing:
            stored[name] = base64.b64encode(secrets.token_bytes(32)).decode()
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.replace(tmp, path)
    return {name: base64.b64decode(env.get(name) or stored[name]) for name in SECRET_NAMES}


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables (see README, Configuration)."""
    env = os.environ if env is None else env
    database_url = env.get("DATABASE_URL", "")
    if not database_url:
        raise RuntimeError(
            "DATABASE_URL is not set (make run / make test set it for the local cluster)"
        )
    instance_path = Path(env.get("GRIDWORK_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MIGRATION_DATABASE_URI": env.get("MIGRATION_DATABASE_URL") or database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "INSTANCE_PATH": str(instance_path),
        "MAX_CONTENT_LENGTH": _int(env, "GRIDWORK_MAX_BODY_BYTES", 8 * 1024 * 1024),
        "JWT_ISSUER": env.get("GRIDWORK_JWT_ISSUER", "gridwork"),
        "JWT_AUDIENCE": env.get("GRIDWORK_JWT_AUDIENCE", "gridwork-api"),
        "ACCESS_TOKEN_TTL": _int(env, "GRIDWORK_ACCESS_TTL_SECONDS", 15 * 60),
        "REFRESH_TOKEN_TTL": _int(env, "GRIDWORK_REFRESH_TTL_SECONDS", 30 * 24 * 3600),
        "REFRESH_REUSE_GRACE": _int(env, "GRIDWORK_REFRESH_GRACE_SECONDS", 30),
        "LOGIN_MAX_FAILURES": _int(env, "GRIDWORK_LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_SECONDS": _int(env, "GRIDWORK_LOGIN_LOCKOUT_SECONDS", 15 * 60),
        "GRID_OVERLAP_TOLERANCE_M2": float(env.get("GRIDWORK_OVERLAP_TOLERANCE_M2", "1.0")),
        "LOG_LEVEL": env.get("GRIDWORK_LOG_LEVEL", "INFO"),
    }
    config.update(load_secrets(instance_path, env))
    return config
