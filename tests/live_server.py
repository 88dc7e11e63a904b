"""Real HTTP for client tests: the test app served by werkzeug on 127.0.0.1, or the app as a
separate server process (gunicorn) that a test can SIGKILL and restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import URL
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The base URL of the session's test app (same database as `app`), one thread per request."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """`gunicorn 'server:create_app()'` against the test database, as a killable subprocess."""

    def __init__(self, runtime_url: URL, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": runtime_url.render_as_string(hide_password=False),
            # The app fixture's instance folder: the same JWT keys, so test tokens are accepted.
            "GRIDWORK_INSTANCE_PATH": os.environ["GRIDWORK_INSTANCE_PATH"],
        }
        self.process: subprocess.Popen[bytes] | None = None
        # Kept open for as long as the server object lives; removed when it is collected.
        self.log_file = tempfile.NamedTemporaryFile(prefix="gridwork-", suffix=".log")  # noqa: SIM115

    def log(self) -> str:
        """The tail of the server's output (for assertion messages)."""
        return Path(self.log_file.name).read_text(errors="replace")[-3000:]

    def start(self) -> None:
        """Start the server and wait until /healthz answers."""
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [
                gunicorn,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--timeout",
                "120",
                "server:create_app()",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server process did not come up")

    def kill(self) -> None:
        """SIGKILL the whole server (master and worker): no cleanup, no graceful shutdown."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None
