"""The federation report over a region's year on PostgreSQL.

What it measures: ``service.reports.build`` (what ``GET /v1/reports/federation`` runs
before formatting) for the region (every union) and for one league, over a generated
year: 1,000,000 claims with their settlements, four decision lines each and their
``claim_facts``; 200,000 members, each enrolled for the year and paying a
contribution; 7,000 hardship households; about 260,000 charged lines (the federation
paid 261,000 payouts in 2024) with one ``line.charged`` entry a claim as service.funds
posts it, about 5,000 of them CIR lines split over three sources, and ``item.paid``
entries for nine in ten of the charged claims (one in fifty returned by the bank and
paid again): some 1.7 million postings. 12 leagues × 8 counties × 10 grassroots unions.

Why: federations report on a year of a region; the aim is under 2 seconds for the
region on this 2-core machine, with no nightly summary job.

Baseline, in the same run: a plain ``SELECT count(*)`` over the year's claims (the least
any report over the claims must read), so the ratio says how many such counts the
report costs.

The data is bulk-loaded with COPY (not through the API) into a database kept between
runs (``claims_bench_reports_v2_<claims>``: v2, the ledger shapes of service.funds and payments); set BENCH_REPORT_CLAIMS to change the size
(default 1,000,000) and BENCH_REPORT_FRESH=1 to make it again. Run:

    PYTHONPATH=$PWD /work/main/.venv/bin/python -m pytest benchmarks/test_reports.py --benchmark-only -q -p no:randomly
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from claims.funding import DEFAULT_FUNDING, relief_shares
from service import ledger, report_facts, reports
from service.auth import CLI
from store import models
from store.db import make_engine, session_factory, upgrade
from tests.databases import _postgres_server_url, postgres_admin

CLAIMS = int(os.environ.get("BENCH_REPORT_CLAIMS", "1000000"))
MEMBERS = CLAIMS // 5
HOUSEHOLDS = min(7_000, MEMBERS // 2)
YEAR = 2025
LEAGUES, COUNTIES, GRASSROOTS = 12, 8, 10
CATALOG_CODES = ["C34.900", "I21.000", "I63.900", "N18.500", "C50.900", "I61.900"]
OTHER_CODES = ["J18.900", "K35.800", "S72.000", "O80.000", "E11.900", "I10.X00"]
GRADES = ["01", "02", "02", "03", "05", "05", "05", "06", "08", "11"]
CATEGORY_SHARES = [("dibao", 480), ("dibao_unenrolled", 233), ("near_dibao", 4331), ("accident", 2153)]


def _copy(conn, table: str, columns: list[str], rows) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _generate(url: str) -> None:
    """A region's year, written with COPY in one transaction."""
    rnd = random.Random(2026)
    engine = make_engine(url)
    raw = engine.raw_connection()
    conn = raw.driver_connection
    now = dt.datetime(YEAR + 1, 1, 10, tzinfo=dt.timezone.utc)
    day0 = dt.date(YEAR, 1, 1)

    unions = [("R", "内蒙古自治区总工会", None, "region", "R/", None)]
    grassroots = []
    for li in range(1, LEAGUES + 1):
        league = f"L{li:02d}"
        unions.append((league, f"盟市{li}总工会", "R", "league", f"R/{league}/", league))
        for ci in range(1, COUNTIES + 1):
            county = f"{league}C{ci}"
            unions.append((county, f"旗县{li}-{ci}总工会", league, "county", f"R/{league}/{county}/", league))
            for gi in range(1, GRASSROOTS + 1):
                g = f"{county}G{gi:02d}"
                unions.append((g, f"基层工会{g}", county, "grassroots", f"R/{league}/{county}/{g}/", league))
                grassroots.append((g, league))
    _copy(conn, "unions", ["id", "name", "region", "parent_id", "level", "path", "league_id"],
          ((u, n, "", p, lv, path, lg) for u, n, p, lv, path, lg in unions))
    hospitals = [(f"H{i:04d}", GRADES[i % len(GRADES)]) for i in range(200)]
    _copy(conn, "hospitals", ["code", "name", "grade", "region"], ((c, f"医院{c}", g, "") for c, g in hospitals))

    member_union = [grassroots[rnd.randrange(len(grassroots))] for _ in range(MEMBERS)]
    members = [f"B{i:07d}" for i in range(MEMBERS)]
    _copy(conn, "members", ["id", "union_id", "name", "created_at"],
          ((m, member_union[i][0], "", now) for i, m in enumerate(members)))
    _copy(conn, "enrollments", ["id", "member_id", "period_start", "period_end", "enrolled_on"],
          ((i + 1, m, day0, dt.date(YEAR, 12, 31), dt.date(YEAR - 1, 12, 1)) for i, m in enumerate(members)))
    hardship = {}
    categories = [c for c, n in CATEGORY_SHARES for _ in range(n)]
    for i, m in enumerate(rnd.sample(members, HOUSEHOLDS)):
        hardship[m] = categories[i % len(categories)]
    _copy(conn, "hardship_registrations", ["id", "member_id", "category", "registered_on", "verified", "verified_on",
                                           "note"],
          ((i + 1, m, c, dt.date(YEAR - 2, 6, 1), i % 10 != 0, dt.date(YEAR - 2, 6, 1) if i % 10 else None, "")
           for i, (m, c) in enumerate(hardship.items())))

    entries, postings = [], []
    ids = {"entry": 0, "posting": 0}

    def post(event: str, on: dt.date, legs: list[tuple], reverses: int | None = None) -> int:
        ids["entry"] += 1
        entry = ids["entry"]
        entries.append((entry, event, f"{event}:{entry}", "", on, reverses, now))
        for leg in legs:
            ids["posting"] += 1
            postings.append((ids["posting"], entry, *leg))
        return entry

    def flush_ledger() -> None:
        _copy(conn, "journal_entries", ["id", "event", "ref", "memo", "booked_on", "reverses_id", "created_at"],
              entries)
        _copy(conn, "postings", ["id", "entry_id", "account", "amount", "fund_source", "fund_year", "league_id",
                                 "member_id", "claim_id", "line_id"], postings)
        entries.clear()
        postings.clear()

    # account, amount, fund_source, fund_year, league_id, member_id, claim_id, line_id
    for i, m in enumerate(members):
        league = member_union[i][1]
        post("contribution.received", dt.date(YEAR, 1, 5), [
            (ledger.BANK_MUTUAL_AID, 10000, None, None, None, None, None, None),
            (ledger.CONTRIBUTIONS_MEMBERS, -9000, "contributions", YEAR, league, m, None, None),
            (ledger.CONTRIBUTIONS_UNION_SUBSIDY, -1000, "union_subsidy", YEAR, league, m, None, None)])
    for source, league, fen in [("central", None, 5_000_000_000), ("region", None, 3_900_000_000),
                                *((("league", f"L{li:02d}", 180_000_000) for li in range(1, LEAGUES + 1)))]:
        post("allocation.received", dt.date(YEAR, 2, 1), [
            (ledger.BANK_RELIEF, fen, None, None, None, None, None, None),
            (ledger.allocation_account(source, league), -fen, source, YEAR, league, None, None, None)])

    flush_ledger()
    settlements, claims, facts, lines = [], [], [], []
    index = {m: i for i, m in enumerate(members)}
    for c in range(1, CLAIMS + 1):
        m = members[rnd.randrange(MEMBERS)]
        union, league = member_union[index[m]]
        submitted = day0 + dt.timedelta(days=rnd.randrange(365))
        admitted = submitted - dt.timedelta(days=rnd.randrange(12, 60))
        decided = submitted + dt.timedelta(days=rnd.choice((0, 0, 0, 1, 2, 5, 12)))
        hospital, grade = hospitals[rnd.randrange(len(hospitals))]
        catalog = rnd.random() < 0.06
        icd = rnd.choice(CATALOG_CODES if catalog else OTHER_CODES)
        settlements.append((c, hospital, f"S{c:09d}", "", admitted, admitted + dt.timedelta(days=8), 1_000_000,
                            300_000, "{}", "x", now))
        charged = rnd.random() < 0.26
        cir = catalog and m in hardship and hardship[m] != "accident"
        ma_ip = rnd.randrange(20_000, 500_000) if charged else 0
        ma_ci = 1_000_000 if charged and catalog and rnd.random() < 0.3 else 0
        cir_fen = rnd.randrange(100_000, 4_000_000) if cir else 0
        total = ma_ip + ma_ci + cir_fen
        claims.append((c, m, c, submitted, "", "approved" if total else "denied", total, "default-2026@bench", "[]",
                       now, now))
        facts.append((c, m, union, submitted, decided, admitted, grade, icd))
        # One ``line.charged`` entry a claim, as service.funds posts it: each line's expense legs (CIR's per
        # source) carry the claim and the line, then a payable leg per line.
        expense, payable = [], []
        for pos, (benefit, fen) in enumerate((("MA_IP", ma_ip), ("MA_DA", 0), ("MA_CI", ma_ci), ("CIR", cir_fen))):
            line = (c - 1) * 4 + pos + 1
            lines.append((line, c, pos, benefit, "approved" if fen else "not_applicable", fen, "[]", "[]", "", False))
            if not fen:
                continue
            payable.append((ledger.PAYABLE_MEMBERS, -fen, None, None, None, m, c, line))
            if benefit == "CIR":
                expense += [(ledger.benefit_expense_account("CIR", s), part, s, YEAR, league if s == "league" else None,
                             None, c, line) for s, part in relief_shares(fen, DEFAULT_FUNDING.relief_shares)]
            else:
                expense.append((ledger.benefit_expense_account(benefit), fen, None, YEAR, None, None, c, line))
        if total:
            post("line.charged", decided, [*expense, *payable])
        if total and rnd.random() < 0.9:
            # An item a member, per line debit payable and credit the line's bank account (service.payments).
            paid_on = decided + dt.timedelta(days=rnd.randrange(3, 30))
            paid = [(line, fen, b) for line, _c, _p, b, _s, fen, *_ in lines[-4:] if fen]
            legs = []
            for line, fen, b in paid:
                legs += [(ledger.PAYABLE_MEMBERS, fen, None, None, None, m, c, line),
                         (ledger.bank_account_for(DEFAULT_FUNDING.fund_of(b)), -fen, None, None, None, m, c, line)]
            entry = post(report_facts.PAID_EVENT, paid_on, legs)
            if rnd.random() < 0.02:  # the bank returns one in fifty; the next run pays it
                post(report_facts.RETURNED_EVENT, paid_on + dt.timedelta(days=2),
                     [(a, -fen, *rest) for a, fen, *rest in legs], reverses=entry)
                post(report_facts.PAID_EVENT, paid_on + dt.timedelta(days=9), legs)
        if len(claims) >= 100_000 or c == CLAIMS:
            _copy(conn, "settlements", ["id", "fixmedins_code", "setl_id", "psn_no", "begndate", "enddate",
                                        "medfee_sumamt", "in_policy_self_pay", "record", "content_hash", "posted_at"],
                  settlements)
            _copy(conn, "claims", ["id", "member_id", "settlement_id", "submitted_on", "receipt_note", "status",
                                   "total", "plan_version", "trace", "created_at", "updated_at"], claims)
            _copy(conn, "claim_facts", ["claim_id", "member_id", "union_id", "submitted_on", "decided_on",
                                        "admitted_on", "hosp_lv", "main_diagnosis"], facts)
            _copy(conn, "decision_lines", ["id", "claim_id", "position", "benefit", "status", "amount", "reasons",
                                           "changes", "review_note", "reviewed"], lines)
            settlements, claims, facts, lines = [], [], [], []
            flush_ledger()
    with conn.cursor() as cur:
        for table in ("enrollments", "hardship_registrations", "settlements", "claims", "decision_lines",
                      "journal_entries", "postings"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    conn.commit()
    raw.close()
    # What ledger.post would have written beside each entry (COPY bypasses it).
    with session_factory(engine)() as s:
        report_facts.rebuild(s)
        s.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    engine.dispose()


@pytest.fixture(scope="module")
def region_year() -> str:
    """The URL of a database holding a generated region's year (made on first use, kept for later runs)."""
    name = f"claims_bench_reports_v2_{CLAIMS}"
    url = make_url(_postgres_server_url()).set(database=name).render_as_string(hide_password=False)
    admin = postgres_admin()
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and os.environ.get("BENCH_REPORT_FRESH"):
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if exists:
            engine = make_engine(url)
            with engine.connect() as c:
                ready = c.execute(select(func.count()).select_from(models.ClaimFact)).scalar() == CLAIMS and \
                    c.execute(select(func.count()).select_from(models.ReportCharge)).scalar() > 0
            engine.dispose()
            if ready:
                admin.dispose()
                return url
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    started = time.perf_counter()
    _generate(url)
    print(f"\ngenerated {CLAIMS:,} claims in {time.perf_counter() - started:.0f} s")
    return url


@pytest.fixture(scope="module")
def sessions(region_year):
    engine = make_engine(region_year)
    yield session_factory(engine)
    engine.dispose()


PERIOD = reports.Period(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))


def test_count_of_the_years_claims_baseline(benchmark, sessions, results) -> None:
    def count() -> int:
        with sessions() as s:
            return s.scalar(select(func.count()).select_from(models.Claim)
                            .where(models.Claim.submitted_on.between(PERIOD.start, PERIOD.end)))

    assert benchmark.pedantic(count, rounds=5, warmup_rounds=1) == CLAIMS
    results["count(*) claims"] = {"seconds": round(benchmark.stats.stats.median, 3)}


@pytest.mark.parametrize("union", ["R", "L01"])
def test_federation_report(benchmark, sessions, results, union) -> None:
    def build() -> reports.Report:
        with sessions() as s:
            return reports.build(s, CLI, union, PERIOD)

    report = benchmark.pedantic(build, rounds=3, warmup_rounds=1)
    ma = report.table("mutual_aid_by_union").total
    assert ma["claims"] > 0 and ma["payouts"] > 0
    if union == "R":
        assert ma["claims"] == CLAIMS and report.table("hardship_register").total["households"] == HOUSEHOLDS
        with sessions() as s:  # the report rows rebuilt from the generated ledger agree with its sums
            sums = reports.ledger_totals(s, PERIOD)
        assert report.table("payouts_by_benefit").total["paid"] == sums["relief"] + sums["mutual_aid"]
        assert ma["contributions"] == sums["contributions"]
    baseline = results.get("count(*) claims", {}).get("seconds")
    median = benchmark.stats.stats.median
    results[f"federation report {union}"] = {
        "seconds": round(median, 3), "claims": ma["claims"], "payouts": ma["payouts"],
        **({"x count(*)": round(median / baseline, 1)} if baseline else {})}
