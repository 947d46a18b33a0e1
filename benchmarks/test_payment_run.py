"""A payment run over 100,000 approved lines on PostgreSQL, beside a plain read of those lines.

What it measures: 50,000 claims of 20,000 members with two approved lines each
(MA_IP 1,000.00 and MA_DA 200.00: 100,000 lines), each member with a payee account,
written with set-based SQL (the data is not what is measured). Then, through the
service functions the API calls, each in its own committed transaction:

1. *build*: ``payments.create_run`` over the whole union: the payable lines read,
   the members locked, 20,000 items, 100,000 item lines and line claims written;
2. *approve*: ``payments.approve_run`` by another key;
3. *export*: ``payments.bank_file`` (UTF-8 with BOM), which marks the run exported;
4. *returns*: ``payments.import_returns`` of a return file marking every item paid,
   which posts 20,000 ledger entries (200,000 postings) and closes the run;
5. *check*: ``payments.check`` (the payment rules of ``claims check``) afterwards.

*Baseline*: ``SELECT`` of those 100,000 lines joined to their claims (id, claim,
member, amount), fetched into Python, in the same run on the same database. The
ratio phase/baseline says how many plain reads of the lines a phase costs. Nothing
is asserted about speed (two shared cores); the times go to ``benchmark.extra_info``
and the summary at the end of the run. Run it with

    PYTHONPATH=$PWD .venv/bin/python -m pytest benchmarks/test_payment_run.py -p no:randomly --benchmark-only -s
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from service import payments
from service.auth import Principal, Role
from service.schemas import PaymentRunCreate
from store.db import make_engine, session_factory
from tests.databases import PostgresUnreachable, fresh_database

MEMBERS = 20_000
CLAIMS = 50_000  # two lines each: 100,000 lines

SEED = [
    "INSERT INTO unions (id, name, region, level, path, league_id) VALUES ('B', 'bench', '', 'region', 'B/', 'B')",
    "INSERT INTO hospitals (code, name, grade, region) VALUES ('BH', 'bench', '02', '')",
    f"INSERT INTO members (id, union_id, name, created_at) SELECT 'BM' || g, 'B', '会员' || g, now() "
    f"FROM generate_series(1, {MEMBERS}) g",
    f"INSERT INTO settlements (fixmedins_code, setl_id, psn_no, begndate, enddate, medfee_sumamt, in_policy_self_pay, "
    f"record, content_hash, posted_at) SELECT 'BH', 'BS' || g, '', DATE '2025-05-02', DATE '2025-05-12', 500000, 120000, "
    f"'{{}}', '', now() FROM generate_series(1, {CLAIMS}) g",
    f"INSERT INTO claims (member_id, settlement_id, submitted_on, receipt_note, status, total, plan_version, trace, "
    f"created_at, updated_at) SELECT 'BM' || (1 + s.id % {MEMBERS}), s.id, DATE '2025-06-30', '', 'approved', 120000, "
    f"'bench', '[]', now(), now() FROM settlements s",
    "INSERT INTO decision_lines (claim_id, position, benefit, status, amount, reasons, changes, review_note, reviewed) "
    "SELECT c.id, b.pos, b.benefit, 'approved', b.amount, '[]', '[]', '', false FROM claims c "
    "CROSS JOIN (VALUES (0, 'MA_IP', 100000), (1, 'MA_DA', 20000)) AS b(pos, benefit, amount)",
    # The lines' charges as the funds book them (debit the benefit, credit the member's payable, legs naming
    # the line), in one entry: payments.check compares the ledger's payable with the lines.
    "INSERT INTO journal_entries (event, ref, memo, booked_on, created_at) "
    "VALUES ('line.charged', 'bench', '', DATE '2025-06-30', now())",
    "INSERT INTO postings (entry_id, account, amount, fund_source, fund_year, member_id, claim_id, line_id) "
    "SELECT (SELECT max(id) FROM journal_entries), 'Expenses:Benefits:' || replace(l.benefit, '_', '-'), l.amount, "
    "'mutual_aid', 2025, c.member_id, c.id, l.id FROM decision_lines l JOIN claims c ON c.id = l.claim_id "
    "UNION ALL SELECT (SELECT max(id) FROM journal_entries), 'Liabilities:Payable:Members', -l.amount, NULL, NULL, "
    "c.member_id, c.id, l.id FROM decision_lines l JOIN claims c ON c.id = l.claim_id",
    "INSERT INTO payee_accounts (member_id, holder_name, bank_name, account_no, active, created_by, created_at) "
    "SELECT id, '会员', '中国工商银行', '62220' || lpad(substr(id, 3), 12, '0'), true, 'bench', now() FROM members",
    "ANALYZE",
]

BASELINE = ("SELECT l.id, l.claim_id, c.member_id, l.amount FROM decision_lines l JOIN claims c ON c.id = l.claim_id "
            "WHERE l.status = 'approved'")

MAKER = Principal(key_id=1, role=Role.ADMIN)
CHECKER = Principal(key_id=2, role=Role.ADMIN)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        with fresh_database("postgres", tmp_path_factory.mktemp("payments"), durable=False) as url:
            engine = make_engine(url)
            with engine.begin() as conn:
                for statement in SEED:
                    conn.execute(text(statement))
            engine.dispose()
            yield url
    except PostgresUnreachable as err:
        pytest.fail(str(err), pytrace=False)


def test_a_payment_run_over_100000_lines_beside_a_plain_read_of_them(benchmark, database, results) -> None:
    engine = make_engine(database)
    sessions = session_factory(engine)
    seconds: dict[str, float] = {}

    def timed(name: str, work):
        started = time.perf_counter()
        with sessions() as s:
            out = work(s)
            s.commit()
        seconds[name] = round(time.perf_counter() - started, 3)
        return out

    def cycle() -> dict:
        lines = timed("baseline_select", lambda s: s.execute(text(BASELINE)).all())
        assert len(lines) == 2 * CLAIMS
        run, left_out = timed("build", lambda s: payments.create_run(s, MAKER, PaymentRunCreate(union_id="B")))
        assert run.item_count == MEMBERS and not left_out
        timed("approve", lambda s: payments.approve_run(s, CHECKER, run.id))
        body, _name = timed("export", lambda s: payments.bank_file(s, MAKER, run.id, "utf-8"))
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert len(rows) == MEMBERS
        returned = "reference,status,reason,bank_ref,date\r\n" + "".join(
            f"{r['reference']},paid,,BK{r['seq']},2026-01-05\r\n" for r in rows)
        result = timed("returns", lambda s: payments.import_returns(s, CHECKER, run.id, returned.encode()))
        assert result.paid == MEMBERS and result.run_status == "closed"
        problems = timed("check", payments.check)
        assert problems == []
        return seconds

    benchmark.pedantic(cycle, rounds=1, iterations=1)
    engine.dispose()
    base = seconds["baseline_select"]
    info = {**{f"{k}_s": v for k, v in seconds.items()},
            **{f"{k}_x_baseline": round(v / base, 1) for k, v in seconds.items() if k != "baseline_select"},
            "lines": 2 * CLAIMS, "items": MEMBERS}
    benchmark.extra_info.update(info)
    results["payment run, 100,000 lines, PostgreSQL"] = info
