"""Simulation of a draft plan over 1,000,000 generated cases, on every core.

What it measures: ``rules.simulation.simulate`` (the engine behind ``claims simulate``
and the admin API's simulation jobs) deciding every case twice, under the version in
force and under a draft, split by member over child processes: wall time, cases per
second, and the peak memory of the parent and of its worker processes together.

Why: administrators try a change on a year of claims before publishing it; a large
federation has hundreds of thousands of claims a year, so a million cases is the
size to plan for. The aim is under 120 seconds on this 2-core machine.

Baseline, measured side by side in the same run: reading and JSON-parsing every case
of the same file in one process (the least any simulation must do per case), so the
ratio says how many "parses" a simulated case costs.

The case count comes from BENCH_SIM_CASES (default 1,000,000). Generating the file
takes longer than simulating it, so it is made in two processes with two seeds and
kept under /tmp between runs.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
from decimal import Decimal
from pathlib import Path

import pytest

from claims.synthetic import write_case_file
from rules.document import load_plan
from rules.simulation import simulate

CASES = int(os.environ.get("BENCH_SIM_CASES", "1000000"))


def _part(args: tuple[str, int, int]) -> None:
    path, n, seed = args
    write_case_file(path, n, seed=seed)


@pytest.fixture(scope="module")
def million_cases() -> Path:
    target = Path(f"/tmp/claims-bench-sim-{CASES}.jsonl")
    if target.exists():
        return target
    half = CASES // 2
    parts = [(f"{target}.part{i}", n, 9100 + i) for i, n in enumerate((half, CASES - half))]
    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_part, parts)
    with open(f"{target}.tmp", "wb") as out:
        for path, _, _ in parts:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 24):
                    out.write(chunk)
            os.unlink(path)
    os.replace(f"{target}.tmp", target)
    return target


def _draft() -> dict:
    """The default plan with band 2 (10,000-30,000) at 55% instead of 50%."""
    content = load_plan().content
    content["benefits"][0]["amount"]["bands"][1]["rate"] = "0.55"
    return content


def test_parse_every_case_baseline(benchmark, million_cases, results):
    def parse_all() -> int:
        n = 0
        with open(million_cases, encoding="utf-8") as f:
            for line in f:
                json.loads(line, parse_float=Decimal)
                n += 1
        return n

    n = benchmark.pedantic(parse_all, rounds=1, iterations=1)
    seconds = benchmark.stats.stats.mean
    results["parse baseline"] = {"cases": n, "seconds": round(seconds, 1), "cases_per_s": round(n / seconds)}
    benchmark.extra_info.update(results["parse baseline"])


def test_simulate_a_draft_over_a_million_cases(benchmark, million_cases, results):
    draft, baseline = _draft(), [(None, load_plan().content)]
    report = benchmark.pedantic(lambda: simulate(str(million_cases), draft, baseline), rounds=1, iterations=1)
    seconds = benchmark.stats.stats.mean
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    info = {
        "cases": report["cases"], "seconds": round(seconds, 1), "cases_per_s": round(report["cases"] / seconds),
        "workers": report["workers"], "claims_changed": report["claims_changed"],
        "peak_rss_worker_mb": children, "peak_rss_parent_mb": parent,
    }
    base = results.get("parse baseline")
    if base:
        info["ratio_to_parse_baseline"] = round(seconds / base["seconds"], 2)
    results["simulation"] = info
    benchmark.extra_info.update(info)
    assert report["cases"] == CASES  # every case was decided under both plans
