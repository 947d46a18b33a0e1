"""Reads beside a 100,000-row enrollment import, against the same reads without it, in one run.

What it measures: p50 and p99 of ``GET /health`` and a page of members, sent one after
another by four clients, through ``claims serve --workers 2``, first for ten seconds with
nothing else running (the baseline), then while an officer imports 100,000 enrollments
(``tests/load/test_import_under_load.py`` checks the import stores every row and no read
fails or waits for it). The ratio of the two p99s is the figure; the machine's other
work moves both.

    .venv/bin/python -m pytest benchmarks/test_reads_during_import.py -p no:randomly --benchmark-only -s
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.load.test_import_under_load import import_beside_readers, read_figures


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_reads_during_an_import_against_reads_alone(benchmark, backend: str, tmp_path: Path) -> None:
    (tmp_path / "alone").mkdir()
    (tmp_path / "import").mkdir()
    alone = read_figures(import_beside_readers(backend, tmp_path / "alone", importing=False)["reads"])

    def measured() -> dict:
        return import_beside_readers(backend, tmp_path / "import")

    run = benchmark.pedantic(measured, rounds=1, iterations=1)
    during = read_figures(run["reads"])
    ratio = during["p99_ms"] / alone["p99_ms"] if alone["p99_ms"] else float("inf")
    print(f"\n[{backend}] reads alone: {alone}; during the import ({run['duration']:.1f} s): {during}; "
          f"p99 ratio {ratio:.1f}x")
    assert run["imported"] is not None and run["imported"].status == 200
