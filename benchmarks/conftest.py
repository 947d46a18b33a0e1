"""Benchmark fixtures: synthetic case files made once per session, and a summary.

`make bench` runs these (`pytest benchmarks --benchmark-only`); `make test` never
collects them (pyproject's testpaths is tests/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from claims.synthetic import write_case_file

SIZES = (10_000, 100_000)
SEED = 2026

# What the benchmarks measured, printed together at the end of the run (the
# benchmark table shows seconds per round; these are the numbers the aims are in).
RESULTS: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="session")
def case_file(tmp_path_factory):
    """``case_file(n)``: the path of a generated file of ``n`` cases, written on first use."""
    root = tmp_path_factory.mktemp("cases")
    made: dict[int, Path] = {}

    def get(n: int) -> Path:
        if n not in made:
            made[n] = write_case_file(root / f"cases-{n}.jsonl", n, seed=SEED)
        return made[n]

    return get


@pytest.fixture(scope="session")
def results() -> dict[str, dict[str, Any]]:
    return RESULTS


def pytest_terminal_summary(terminalreporter) -> None:
    if not RESULTS:
        return
    terminalreporter.write_sep("=", "batch throughput and memory (extra_info)")
    for name, info in RESULTS.items():
        shown = ", ".join(f"{k}={v}" for k, v in info.items())
        terminalreporter.write_line(f"{name}: {shown}")
