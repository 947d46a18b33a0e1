"""Reads stay fast while a 100,000-row enrollment file is imported, through the real server, both databases.

Before reads took no write lock (``store.db``: GET requests run in read-only sessions)
and before the import read and wrote in bulk (``service.registry.import_enrollments``),
such a file held the SQLite write lock for about a minute and ``/health`` waited 23 s.
Here ``claims serve --workers 2`` is sent the file (GBK, CRLF, ``2026/1/1`` dates,
as Excel saves it) by an officer while a few clients read ``/health`` and a page of
members, one request after another, for as long as the import runs. The import must
store every row; every read must answer 200, and none may wait for the import: the
slowest read stays under a few seconds of an import that takes twenty (before the
fix reads waited 23 s, the whole write).

How fast the reads are meanwhile (p50, p99) is a performance figure, measured by
``benchmarks/test_reads_during_import.py`` beside reads without an import in the same
run: on this shared two-core machine their p99 moved between 64 and 163 ms from one
run to the next with nothing changed, so a millisecond bound here failed by chance.
The figures are printed here too: run with ``-s`` to see them.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from store import models
from store.db import make_engine, session_factory
from tests.builders import certno_for

from .conftest import database
from .live import YEAR, Answer, Server, auth, client, seed, send

ROWS = 100_000
READERS = 4
WAIT_LIMIT = 5.0  # seconds: a read waiting for the import's write would wait most of its twenty
IMPORT_TIMEOUT = 600.0  # seconds: the longest the import may take; the readers stop with it
MAX_READS = 200_000  # a bound on the loop whatever happens
THINK = 0.025  # seconds between one answer and the next request of a client: people at desks, not a flood


def _enrollment_file() -> bytes:
    """ROWS new members, each enrolled for last year, as Excel saves a CSV in a Chinese locale."""
    lines = ["member_id,certno,name,gender,birth_date,period_start,period_end,enrolled_on"]
    for i in range(ROWS):
        member_id = f"IMP{i:06d}"
        lines.append(f"{member_id},{certno_for(member_id)},职工{i},{'FM'[i % 2]},1980/1/{1 + i % 28},"
                     f"{YEAR}/1/1,{YEAR}/12/31,{YEAR - 1}/12/1")
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1)]


def _count(url: str, model) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return s.scalar(select(func.count()).select_from(model))
    finally:
        engine.dispose()


def import_beside_readers(backend: str, tmp_path: Path, *, importing: bool = True,
                          seconds: float = 10.0) -> dict:
    """The import sent while READERS clients read; without ``importing``, the same reads for ``seconds``.

    Returns the import's answer (or None), the reads made meanwhile, the duration and the
    counts of members and enrollments before and after.
    """
    content = _enrollment_file() if importing else b""
    with database(backend, tmp_path) as url:
        keys = seed(url, ["A", "B"])
        members_before, enrollments_before = _count(url, models.Member), _count(url, models.Enrollment)
        with Server(url, tmp_path, workers=2) as server:
            done = threading.Event()
            imported: list[Answer] = []
            reads: list[Answer] = []
            lock = threading.Lock()

            def importer() -> None:
                try:
                    if not importing:
                        time.sleep(seconds)
                        return
                    with client(server.base_url, timeout=IMPORT_TIMEOUT) as http:
                        imported.append(send(http, "POST", "/v1/enrollments/import", content=content,
                                             headers={**auth(keys.officer), "content-type": "text/csv"}))
                finally:
                    done.set()

            def reader(n: int) -> None:
                paths = ["/health", "/v1/members?page_size=50"]
                with client(server.base_url, timeout=30) as http:
                    i = n
                    while not done.is_set():
                        answer = send(http, "GET", paths[i % 2], headers=auth(keys.officer))
                        i += 1
                        with lock:
                            if len(reads) >= MAX_READS:
                                return
                            if not done.is_set():  # only reads made while the import ran count
                                reads.append(answer)
                        time.sleep(THINK)

            threads = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(READERS)]
            started = time.perf_counter()
            import_thread = threading.Thread(target=importer, daemon=True)
            import_thread.start()
            for t in threads:
                t.start()
            import_thread.join(timeout=IMPORT_TIMEOUT + 30)
            done.set()
            for t in threads:
                t.join(timeout=60)
            duration = time.perf_counter() - started
        members_after, enrollments_after = _count(url, models.Member), _count(url, models.Enrollment)
    return {"imported": imported[0] if imported else None, "reads": reads, "duration": duration,
            "added": (members_after - members_before, enrollments_after - enrollments_before)}


def read_figures(reads: list[Answer]) -> dict[str, float]:
    seconds = [a.seconds for a in reads]
    return {"reads": len(seconds), "p50_ms": round(statistics.median(seconds) * 1000, 1),
            "p99_ms": round(_percentile(seconds, 99) * 1000, 1), "max_ms": round(max(seconds) * 1000, 1)}


def test_reads_are_answered_and_never_wait_for_an_import_of_100_000_enrollments(backend: str, tmp_path: Path):
    run = import_beside_readers(backend, tmp_path)

    answer, reads, duration = run["imported"], run["reads"], run["duration"]
    assert answer is not None, "the import never answered"
    assert answer.status == 200, answer.body or answer.error
    assert answer.body == {"members_created": ROWS, "enrollments_created": ROWS, "enrollments_unchanged": 0}
    assert run["added"] == (ROWS, ROWS)
    failed = [(a.status, a.error or a.body) for a in reads if a.status != 200]
    assert not failed, f"{len(failed)} of {len(reads)} reads failed during the import: {failed[:5]}"
    assert len(reads) >= 50, f"only {len(reads)} reads during an import of {duration:.1f} s"
    figures = read_figures(reads)
    print(f"\n[{backend}] import of {ROWS:,} rows: {duration:.1f} s (server {answer.seconds:.1f} s); "
          f"{figures['reads']} reads by {READERS} clients meanwhile: p50 {figures['p50_ms']} ms, "
          f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms")
    assert figures["max_ms"] < WAIT_LIMIT * 1000, f"a read waited {figures['max_ms']} ms: it waited for the import"
