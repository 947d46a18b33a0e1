"""Batch throughput of the default plan, beside the bare durable_rules core.

What it measures, on 10,000 and 100,000 cases from claims/synthetic.py (seed 2026):

1. *Engine*: claims per second through the path `claims adjudicate` takes: the open
   case file fed line by line to ``rules.batch.adjudicate_lines``, each decision's
   ``to_json()`` dumped with ``json.dumps`` and written to /dev/null. The Engine is
   built once, outside the timing. The default Engine remembers which rules fired per
   situation and asserts only new situations into durable_rules; beside it, on 10,000
   cases, ``Engine(memo=False)`` sends every claim through the core.
2. *Baseline*: the same number of claims through the bare durable_rules core: one
   one-rule ruleset, and per claim one small fact asserted in a fresh session, its one
   action fired and the session deleted, with the calls rules/durable_engine.py makes
   (assert_fact, start_action_for_state, complete_and_start_action, delete_state).
   It is the least a claim can cost in the core. This module imports
   ``durable_rules_engine`` itself on purpose: the baseline must not go through our code.
3. *Peak memory*: the peak resident set size (``ru_maxrss`` of
   ``getrusage(RUSAGE_CHILDREN)``, read by a small wrapper process) of a child running
   ``claims adjudicate FILE -o /dev/null``, and of a child running the baseline loop,
   for each size.

Why: the product aims at 3,000 claims a second or more in one process, and at memory
that stays flat as the case file grows (decisions stream out; only per-member totals
and the bills seen are kept). The ratio engine/baseline says how much of a claim's time
is our own Python around the core. Nothing here asserts a speed (two cores, noisy CPU
steal): the numbers go to ``benchmark.extra_info`` and the summary at the end of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import durable_rules_engine as core  # the baseline talks to the core directly (see above)

SIZES = {"10k": 10_000, "100k": 100_000}
ROUNDS = {"10k": 3, "100k": 1}  # one run of 100,000 takes tens of seconds

BASELINE_RULESET = "benchmark_baseline"
_baseline_handle: list[int] = []  # a ruleset is never freed: create it once per process


def baseline_handle() -> int:
    if not _baseline_handle:
        rules = {"claim_received": {"all": [{"m": {"t": "claim"}}]}}
        _baseline_handle.append(core.create_ruleset(BASELINE_RULESET, json.dumps(rules)))
    return _baseline_handle[0]


def run_baseline(n: int) -> int:
    """n claims through the bare core; returns how many actions fired (must be n)."""
    handle = baseline_handle()
    fired = 0
    for i in range(n):
        sid = str(i + 1)
        # The fact matches the rule: deleting a session whose fact matched nothing segfaults.
        result = core.assert_fact(handle, json.dumps({"t": "claim", "sid": sid, "amount": 123456, "days": 10}))
        state = result[1]
        started = core.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            fired += 1
            message = core.complete_and_start_action(handle, state)
        core.delete_state(handle, sid)
    return fired


def run_engine(engine, path: Path) -> int:
    """A case file through the CLI's path; returns how many decisions were written."""
    from claims.accumulators import DiskLedger
    from rules.batch import adjudicate_lines

    written = 0
    ledger = DiskLedger()  # what `claims adjudicate` uses
    with path.open(encoding="utf-8") as cases, open(os.devnull, "w", encoding="utf-8") as out:
        for decision in adjudicate_lines(engine, cases, ledger):
            out.write(json.dumps(decision.to_json(), ensure_ascii=False) + "\n")
            written += 1
    ledger.close()
    return written


_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def peak_rss_mib(command: list[str]) -> float:
    """Peak RSS of ``command`` run as the only child of a fresh wrapper process."""
    run = subprocess.run([sys.executable, "-c", _PEAK_RSS, *command], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return round(int(run.stdout.split()[-1]) / 1024, 1)  # ru_maxrss is in KiB on Linux


def claims_command() -> list[str]:
    script = shutil.which("claims", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "cli.main"]


@pytest.fixture(scope="module")
def engine():
    # Imported here so that the baseline's child process (this file run as a script)
    # loads the core alone, not the engine.
    from rules.engine import Engine

    return Engine()


@pytest.fixture(scope="module")
def engine_without_memo():
    from rules.engine import Engine

    return Engine(memo=False)


def timed_cpu(target, cpu_seconds: list[float]):
    """``target`` that also records the process CPU time of each round (this machine's
    CPU steal and neighbours inflate wall time; CPU time is the engine's own cost)."""

    def run(*args):
        start = time.process_time()
        try:
            return target(*args)
        finally:
            cpu_seconds.append(time.process_time() - start)

    return run


def _rates(benchmark, n: int, cpu_seconds: list[float]) -> dict[str, int]:
    stats = benchmark.stats.stats
    return {"per_second": round(n / stats.median), "per_second_best": round(n / stats.min),
            "per_cpu_second": round(n / min(cpu_seconds))}


@pytest.mark.parametrize("size", SIZES)
def test_bare_durable_rules_one_fact_per_claim(benchmark, size, results):
    n = SIZES[size]
    baseline_handle()  # registration is not part of a claim's cost
    cpu: list[float] = []
    fired = benchmark.pedantic(timed_cpu(run_baseline, cpu), args=(n,), rounds=ROUNDS[size], iterations=1)
    assert fired == n
    rates = _rates(benchmark, n, cpu)
    benchmark.extra_info.update(facts_per_second=rates["per_second"], facts_per_second_best=rates["per_second_best"],
                                facts_per_cpu_second=rates["per_cpu_second"])
    results[f"baseline {size}"] = dict(benchmark.extra_info)


def _engine_info(benchmark, n: int, cpu: list[float], baseline: dict | None) -> None:
    rates = _rates(benchmark, n, cpu)
    benchmark.extra_info.update(claims_per_second=rates["per_second"], claims_per_second_best=rates["per_second_best"],
                                claims_per_cpu_second=rates["per_cpu_second"], aim=3000)
    if baseline:  # how many bare-core facts one of our claims costs
        benchmark.extra_info["engine_time_over_baseline"] = round(baseline["facts_per_second"] / rates["per_second"], 2)
        benchmark.extra_info["engine_cpu_over_baseline"] = round(
            baseline["facts_per_cpu_second"] / rates["per_cpu_second"], 2)


@pytest.mark.parametrize("size", SIZES)
def test_default_plan_batch_through_the_cli_path(benchmark, size, engine, case_file, results):
    n = SIZES[size]
    path = case_file(n)
    cpu: list[float] = []
    written = benchmark.pedantic(timed_cpu(run_engine, cpu), args=(engine, path), rounds=ROUNDS[size], iterations=1)
    assert written == n
    _engine_info(benchmark, n, cpu, results.get(f"baseline {size}"))
    results[f"engine {size}"] = dict(benchmark.extra_info)


def test_default_plan_batch_with_every_claim_through_the_core(benchmark, engine_without_memo, case_file, results):
    n = SIZES["10k"]
    cpu: list[float] = []
    written = benchmark.pedantic(timed_cpu(run_engine, cpu), args=(engine_without_memo, case_file(n)),
                                 rounds=ROUNDS["10k"], iterations=1)
    assert written == n
    _engine_info(benchmark, n, cpu, results.get("baseline 10k"))
    results["engine 10k, memo=False"] = dict(benchmark.extra_info)


@pytest.mark.parametrize("size", SIZES)
def test_peak_memory_of_claims_adjudicate(benchmark, size, case_file, results):
    path = case_file(SIZES[size])
    command = [*claims_command(), "adjudicate", str(path), "-o", os.devnull]
    rss = benchmark.pedantic(peak_rss_mib, args=(command,), rounds=1, iterations=1)
    benchmark.extra_info.update(peak_rss_mib=rss, measured="ru_maxrss of a child running `claims adjudicate`")
    entry = {"MiB": rss, "wall_s": round(benchmark.stats.stats.min, 1)}
    smaller = results.get("claims adjudicate 10k peak RSS")
    if size != "10k" and smaller:  # flat memory: about the same MiB for ten times the cases
        entry["MiB_over_10k"] = benchmark.extra_info["peak_rss_over_10k"] = round(rss - smaller["MiB"], 1)
    results[f"claims adjudicate {size} peak RSS"] = entry


@pytest.mark.parametrize("size", SIZES)
def test_peak_memory_of_the_bare_baseline(benchmark, size, results):
    command = [sys.executable, __file__, str(SIZES[size])]
    rss = benchmark.pedantic(peak_rss_mib, args=(command,), rounds=1, iterations=1)
    benchmark.extra_info.update(peak_rss_mib=rss, measured="ru_maxrss of a child running the baseline loop "
                                                         "(python, pytest and the core; no engine)")
    results[f"baseline {size} peak RSS"] = {"MiB": rss}


if __name__ == "__main__":  # the baseline loop alone, for its peak memory: python test_batch_throughput.py N
    count = int(sys.argv[1])
    assert run_baseline(count) == count
