"""Run every benchmark module (bench/bench_*.py) and print its ratios against its baseline.

Each module exposes `run() -> list[Figure]`; figures are measured in the same run as their
baseline, so the ratio means something on any machine. Nothing here asserts a time.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench
from bench.figures import Figure, print_figures


def main(selected: list[str]) -> int:
    """Run the selected benchmark modules (all when none are named) and print their figures."""
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    if selected:
        names = [n for n in names if n in selected or n.removeprefix("bench_") in selected]
    figures: list[Figure] = []
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        figures.extend(module.run())
        print(f"# {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
