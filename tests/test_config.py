"""Configuration: secrets are generated once into the instance folder, never defaulted in code."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from server.config import SECRET_NAMES, load_secrets


def test_a_missing_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_secrets(tmp_path, {})
    assert set(first) == set(SECRET_NAMES)
    assert all(len(key) == 32 for key in first.values())
    assert load_secrets(tmp_path, {}) == first
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_a_secret_from_the_environment_wins(tmp_path: Path) -> None:
    keys = load_secrets(tmp_path, {"JWT_SIGNING_KEY": "c2VjcmV0LWZyb20tZW52"})
    assert keys["JWT_SIGNING_KEY"] == b"secret-from-env"


def test_processes_starting_together_agree_on_one_set_of_keys(tmp_path: Path) -> None:
    # Several gunicorn workers boot at once on a fresh instance folder: all must sign alike.
    start = threading.Barrier(16)
    seen: list[dict[str, bytes]] = []

    def boot() -> None:
        start.wait()
        seen.append(load_secrets(tmp_path, {}))

    threads = [threading.Thread(target=boot) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(seen) == 16
    assert all(keys == seen[0] for keys in seen)
    assert load_secrets(tmp_path, {}) == seen[0]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
