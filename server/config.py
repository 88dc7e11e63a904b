"""Configuration from environment variables; secrets generated once into the instance folder."""

from __future__ import annotations

import base64
import fcntl
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
    instance_path.mkdir(parents=True, exist_ok=True)
    # Workers booting together on a fresh instance folder must not each mint their own keys:
    # the last writer would win and data encrypted under a losing key would be unreadable.
    with open(instance_path / "secrets.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored: dict[str, str] = {}
        if path.exists():
            stored = json.loads(path.read_text())
        missing = [name for name in SECRET_NAMES if name not in stored and not env.get(name)]
        if missing:
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
        # hide_parameters: a failed statement's bound values (personal data, password hashes)
        # must never reach an exception message, and so never a log line.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
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
        # A redraw moving more records than this is applied by a background job (202).
        "REDRAW_SYNC_LIMIT": _int(env, "GRIDWORK_REDRAW_SYNC_LIMIT", 20000),
        # A redraw job's worker renews its lease every third of this; a job whose lease ran
        # out (and whose draft no transaction holds) is reported failed with `worker_lost`.
        "REDRAW_JOB_LEASE_SECONDS": _int(env, "GRIDWORK_REDRAW_JOB_LEASE_SECONDS", 60),
        # "minlng,minlat,maxlng,maxlat" (WGS84); boundaries and points must lie inside it.
        "DISTRICT_EXTENT": env.get("GRIDWORK_DISTRICT_EXTENT", "108.3,34.0,109.1,34.6"),
        # Unmasked field views per user per day (Asia/Shanghai), counted from the audit log.
        "REVEAL_DAILY_QUOTA": _int(env, "GRIDWORK_REVEAL_DAILY_QUOTA", 20),
        "LOG_LEVEL": env.get("GRIDWORK_LOG_LEVEL", "INFO"),
        # Photos (server/blobs): where the filesystem store keeps them, and the upload limits.
        "BLOB_DIR": env.get("GRIDWORK_BLOB_DIR") or str(instance_path / "blobs"),
        "BLOB_MAX_BYTES": _int(env, "GRIDWORK_BLOB_MAX_BYTES", 10 * 1024 * 1024),
        "BLOB_CHUNK_MAX_BYTES": _int(env, "GRIDWORK_BLOB_CHUNK_MAX_BYTES", 1024 * 1024),
        "BLOB_UPLOAD_TTL": _int(env, "GRIDWORK_BLOB_UPLOAD_TTL_SECONDS", 24 * 3600),
        # Offline sync: a push batch beyond these limits is refused whole (413).
        "SYNC_MAX_OPS": _int(env, "GRIDWORK_SYNC_MAX_OPS", 1000),
        "SYNC_MAX_BATCH_BYTES": _int(env, "GRIDWORK_SYNC_MAX_BATCH_BYTES", 5_000_000),
        "BLOB_ALLOWED_TYPES": ("image/jpeg", "image/png", "image/webp", "image/heic"),
    }
    config.update(load_secrets(instance_path, env))
    return config
