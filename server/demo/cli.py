"""`flask demo load` and `flask demo logins`: the demo that `make run` serves."""

from __future__ import annotations

import json
import shlex
import unicodedata
from typing import Any

import click
from flask.cli import AppGroup

from server.demo import service
from server.demo.base_data import load_demo_base_data
from server.demo.layout import DEMO_SEED

demo = AppGroup("demo", help="The reproducible demo district and its logins.")


@demo.command("load")
@click.option("--seed", default=DEMO_SEED, show_default=True, help="Seed of the generator.")
def load(seed: int) -> None:
    """Create the demo district and accounts once; do nothing if they are already there."""
    result = service.load_demo(seed)
    if not result.created:
        click.echo("demo: the demo district is already loaded; nothing to do.")
        if not service.demo_logins():
            # The database outlived the instance folder: nobody knows the demo passwords.
            click.echo(f"demo: warning: {service.logins_file()} is missing; the demo passwords")
            click.echo("demo: are unknown. Load the demo into an empty database to regenerate.")
        return
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts.items())
    click.echo(f"demo: loaded the demo district ({counts}).")
    click.echo(f"demo: logins kept in {service.logins_file()} (readable by you only).")


def _width(text: str) -> int:
    """Terminal columns of `text`: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]


def _curl_example(base: str, login: dict[str, Any]) -> list[str]:
    body = json.dumps(
        {"username": login["username"], "password": login["password"], "device_id": "demo-cli"}
    )
    extract = 'import json,sys; print(json.load(sys.stdin)["access_token"])'
    return [
        f"TOKEN=$(curl -s -X POST {base}/auth/login -H 'Content-Type: application/json' \\",
        f"  -d {shlex.quote(body)} | python3 -c {shlex.quote(extract)})",
        f'curl -s {base}/grids -H "Authorization: Bearer $TOKEN"',
    ]


@demo.command("base-data")
@click.option("--seed", default=DEMO_SEED, show_default=True, help="Seed of the generator.")
@click.option("--households-per-grid", default=300, show_default=True, help="Households per grid.")
def base_data(seed: int, households_per_grid: int) -> None:
    """Fill the loaded demo district with base registry data once (addresses, people, ...)."""
    counts = load_demo_base_data(seed, households_per_grid)
    if not counts:
        click.echo("demo: the base registry is already loaded (or the district is missing).")
        return
    click.echo(
        "demo: loaded the base registry (" + ", ".join(f"{n} {t}" for t, n in counts.items()) + ")."
    )


@demo.command("logins")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host the API listens on.")
@click.option("--port", default=8000, show_default=True, help="Port the API listens on.")
def logins(host: str, port: int) -> None:
    """Print the API base URL, the demo logins and a ready-to-run curl example."""
    base = f"http://{host}:{port}/api/v1"
    found = service.demo_logins()
    click.echo(f"API base URL: {base}")
    if not found:
        click.echo(f"No demo logins in {service.logins_file()}; run `flask demo load` first.")
        return
    rows = [["role", "username", "password", "grids / org unit"]]
    rows += [[x["role"], x["username"], x["password"], x["scope"]] for x in found]
    click.echo(f"Demo logins (kept in {service.logins_file()}):")
    for line in _table(rows):
        click.echo("  " + line)
    worker = next((x for x in found if x["role"] == "worker" and x["grids"]), found[0])
    click.echo(f"Log in as {worker['username']} and list the grids it may see:")
    for line in _curl_example(base, worker):
        click.echo("  " + line)
