"""A benchmark figure: a measured cost next to a baseline measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One comparison: `value` and `baseline` in the same unit; `target` describes the goal."""

    name: str
    value: float
    baseline: float
    unit: str
    target: str
    higher_is_better: bool

    @property
    def ratio(self) -> float:
        """value ÷ baseline."""
        return self.value / self.baseline if self.baseline else float("inf")


def print_figures(figures: list[Figure]) -> None:
    """Print one aligned line per figure: value, baseline, ratio and the target it is held to."""
    print(f"{'benchmark':<52} {'value':>12} {'baseline':>12} {'ratio':>7}  target")
    for f in figures:
        print(
            f"{f.name:<52} {f.value:>10.1f} {f.unit:<1} {f.baseline:>10.1f} {f.unit:<1}"
            f" {f.ratio:>6.2f}  {f.target}"
        )
