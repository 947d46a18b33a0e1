"""Eight threads deciding claims at once get exactly what one thread gets, and nothing crashes.

durable_rules is not thread-safe (../shared/style.md: eight threads asserting facts
into one ruleset segfaulted the process in 5 of 6 runs); rules/durable_engine.py
serializes every call into it with one process-wide lock. The threads run in a child
process (this file run as a script), so a crash fails the test with its exit status
instead of ending the test run.

The engine remembers which rules fired per situation (``Engine(memo=True)``, the
default), so most claims never reach the core; the variants with ``memo=False`` send
every one of the 2,000 claims through it.

Measured here with the lock replaced by a no-op (18 runs of 8 x 250 cases, memo on and
off, shared and separate engines): no crash and identical decisions, although another
thread's calls landed inside nearly every claim's assert..delete sequence. The
compiled core never releases the GIL, so each call into it is atomic, and every claim
has its own session. So this test guards the outcome (the same decisions, no crash, no
error) under real interleaving; it does not prove the lock necessary.
"""

from __future__ import annotations

import faulthandler
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from claims.synthetic import generate_cases
from rules.batch import adjudicate_lines
from rules.engine import Engine

THREADS = 8
CASES_PER_THREAD = 250
SEEDS = [1000 + i for i in range(THREADS)]  # each thread its own members (ids carry the seed)


def case_lines(seed: int) -> list[str]:
    return [json.dumps(c, ensure_ascii=False) for c in generate_cases(CASES_PER_THREAD, seed=seed)]


def decide_all(engine: Engine, lines: list[str]) -> list[str]:
    """A case file decided in order with its own ledger, as the CLI writes it."""
    return [json.dumps(d.to_json(), ensure_ascii=False) for d in adjudicate_lines(engine, lines)]


def decide_in_threads(share_engine: bool, memo: bool) -> tuple[list[list[str] | None], list[str]]:
    """Every thread decides its own case file at the same moment.

    ``share_engine``: one Engine for all threads; otherwise each thread loads the plan
    and builds its own Engine after the start line, so they share only the process
    (and its one durable_rules core).
    """
    case_files = [case_lines(seed) for seed in SEEDS]
    shared = Engine(memo=memo) if share_engine else None
    start = threading.Barrier(THREADS)
    results: list[list[str] | None] = [None] * THREADS
    errors: list[str] = []

    def work(i: int) -> None:
        try:
            start.wait()
            engine = shared if shared is not None else Engine(memo=memo)
            results[i] = decide_all(engine, case_files[i])
        except BaseException as err:  # reported to the test, not swallowed
            errors.append(f"thread {i}: {type(err).__name__}: {err}")

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as the interpreter allows
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    return results, errors


@pytest.fixture(scope="module")
def sequential() -> list[list[str]]:
    engine = Engine(memo=False)  # every claim through the core, one thread
    return [decide_all(engine, case_lines(seed)) for seed in SEEDS]


@pytest.mark.parametrize(
    ("share_engine", "memo"),
    [(True, True), (True, False), (False, False)],
    ids=["sharing-one-engine", "sharing-one-engine-every-claim-through-the-core", "sharing-only-the-process"],
)
def test_eight_threads_deciding_at_once_get_exactly_the_decisions_of_one_thread(share_engine, memo, sequential,
                                                                                 tmp_path):
    out = tmp_path / "threaded.json"
    mode = ("shared" if share_engine else "separate") + ("" if memo else "-no-memo")
    run = subprocess.run([sys.executable, __file__, mode, str(out)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"the threaded run died (exit status {run.returncode}):\n{run.stderr[-3000:]}"
    threaded = json.loads(out.read_text(encoding="utf-8"))
    assert threaded["errors"] == []
    assert sum(len(r) for r in threaded["results"]) == THREADS * CASES_PER_THREAD
    for i in range(THREADS):
        assert threaded["results"][i] == sequential[i], f"thread {i} decided differently from one thread alone"


if __name__ == "__main__":  # the child: python tests/test_threads.py shared|separate[-no-memo] OUT.json
    faulthandler.enable()  # a segfault prints where each thread was
    mode = sys.argv[1]
    results, errors = decide_in_threads(share_engine=mode.startswith("shared"), memo=not mode.endswith("-no-memo"))
    Path(sys.argv[2]).write_text(json.dumps({"results": results, "errors": errors}, ensure_ascii=False), encoding="utf-8")
