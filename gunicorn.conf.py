"""gunicorn settings read from the repository root (`make run`, the benches and live-server tests
all start gunicorn here); command-line flags still override them."""

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Move everything the worker built at start-up (modules, metadata, schemas) out of the
    garbage collector's reach: a full collection otherwise walks it all, and one landing in a
    500-op push took longer than the push itself (0.36 s)."""
    gc.collect()
    gc.freeze()
