"""The trial balance over 1,000,000 postings on PostgreSQL, beside counting them.

What it measures, on a fresh migrated PostgreSQL database holding 250,000 journal
entries of four postings each (1,000,000 postings) over 31 accounts, bulk-loaded with
COPY and analysed before the timing (the set-up is not timed):

1. *Baseline*: ``SELECT count(*) FROM postings``, the least a query reading every
   posting can cost on this server in this run.
2. *Trial balance*: ``service.ledger_reports.trial_balance(session)``, the sum per
   account of every posting (what ``claims ledger trial-balance`` and ``claims check``
   run).
3. *Trial balance as of a day*: the same, of the entries booked on or before 30 June
   (a join with ``journal_entries`` on its booking date).

Why: issue 11 asks for the trial balance over a million postings, measured; the
ratio to the count says how much a sum per account costs beyond reading the rows.
Nothing here asserts a speed: the figures go to ``benchmark.extra_info`` and the
summary at the end of the run.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from service.ledger_reports import trial_balance  # noqa: E402
from store.db import make_engine, read_session_factory  # noqa: E402
from tests.databases import PostgresUnreachable, fresh_database  # noqa: E402

ENTRIES = 250_000
LEGS = 4
YEAR = 2026
LEAGUES = [f"L{n:02d}" for n in range(1, 13)]
ROUNDS = 5


def _entry_legs(n: int) -> list[tuple[str, int, str | None, str | None]]:
    """(account, fen, fund source, league) of the n-th entry: contributions, allocations, approvals, payments."""
    league = LEAGUES[(n // 4) % len(LEAGUES)]  # every kind of entry in every league
    kind = n % 4
    fen = 1000 + (n * 7919) % 500_000
    if kind == 0:
        return [("Assets:Bank:MutualAid", 9000, "contributions", league),
                ("Income:Contributions:Members", -9000, "contributions", league),
                ("Assets:Bank:MutualAid", 1000, "union_subsidy", league),
                ("Income:Contributions:UnionSubsidy", -1000, "union_subsidy", league)]
    if kind == 1:
        return [("Assets:Bank:Relief", fen, "central", None), ("Income:Allocations:Central", -fen, "central", None),
                ("Assets:Bank:Relief", fen, "league", league),
                (f"Income:Allocations:League:{league}", -fen, "league", league)]
    if kind == 2:
        half, rest = fen // 2, fen - fen // 2
        return [("Expenses:Benefits:CIR:Central", half, "central", league),
                ("Expenses:Benefits:CIR:Region", rest - rest // 2, "region", league),
                (f"Expenses:Benefits:CIR:League", rest // 2, "league", league),
                ("Liabilities:Payable:Members", -fen, None, None)]
    benefit = ("MA-IP", "MA-DA", "MA-CI")[n % 3]
    return [(f"Expenses:Benefits:{benefit}", fen, "mutual_aid", league), ("Liabilities:Payable:Members", -fen, None, None),
            ("Liabilities:Payable:Members", fen, None, None), ("Assets:Bank:MutualAid", -fen, None, None)]


def _load(url: str) -> None:
    """250,000 entries and their 1,000,000 postings, by COPY; then analysed and vacuumed (visibility map)."""
    engine = make_engine(url)
    start = dt.date(YEAR, 1, 1)
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        cursor_owner = conn.connection.driver_connection
        with cursor_owner.cursor() as cursor:
            with cursor.copy("COPY journal_entries (id, event, ref, memo, booked_on, created_at) FROM STDIN") as copy:
                for n in range(1, ENTRIES + 1):
                    copy.write_row((n, "bench", f"bench:{n}", "", start + dt.timedelta(days=n * 365 // ENTRIES), now))
            with cursor.copy("COPY postings (entry_id, account, amount, fund_source, fund_year, league_id, member_id) "
                             "FROM STDIN") as copy:
                for n in range(1, ENTRIES + 1):
                    for account, fen, source, league in _entry_legs(n):
                        copy.write_row((n, account, fen, source, YEAR, league, f"M{n % 50_000}"))
        conn.execute(text("SELECT setval(pg_get_serial_sequence('journal_entries', 'id'), :n)"), {"n": ENTRIES})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE journal_entries"))
        conn.execute(text("VACUUM ANALYZE postings"))
    engine.dispose()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        with fresh_database("postgres", tmp_path_factory.mktemp("ledger")) as url:
            _load(url)
            yield url
    except PostgresUnreachable as err:
        pytest.fail(str(err), pytrace=False)


def _timed(run: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(ROUNDS):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


@pytest.mark.postgres
def test_trial_balance_of_a_million_postings_beside_counting_them(benchmark, loaded: str, results) -> None:
    engine = make_engine(loaded)
    sessions = read_session_factory(engine)

    def count() -> int:
        with sessions() as s:
            return s.scalar(text("SELECT count(*) FROM postings"))

    def balance():
        with sessions() as s:
            return trial_balance(s)

    def balance_mid_year():
        with sessions() as s:
            return trial_balance(s, as_of=dt.date(YEAR, 6, 30))

    count()  # warm the cache as the others will find it
    baseline, counted = _timed(count)
    mid_year, half = _timed(balance_mid_year)
    tb = benchmark.pedantic(balance, rounds=ROUNDS, iterations=1)
    full = benchmark.stats.stats.median
    with engine.connect() as conn:
        plan = "\n".join(conn.scalars(text(
            "EXPLAIN SELECT account, sum(amount) FROM postings GROUP BY account ORDER BY account")))
    engine.dispose()

    assert counted == ENTRIES * LEGS and tb.total == 0 and half.total == 0 and len(tb.balances) > 20
    info = {
        "postings": counted,
        "accounts": len(tb.balances),
        "count(*) s": round(baseline, 4),
        "trial balance s": round(full, 4),
        "ratio": round(full / baseline, 2),
        "as of 30 June s": round(mid_year, 4),
        "as-of ratio": round(mid_year / baseline, 2),
    }
    benchmark.extra_info.update(info)
    results["ledger trial balance, PostgreSQL, 1,000,000 postings"] = info
    print("\n" + plan)
