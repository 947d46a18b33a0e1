"""The ledger: contributions booked with enrollments, append-only tables, the Beancount
export checked by bean-check, the trial balance, fund statements and ``claims check``.

Every test runs on SQLite and on PostgreSQL (the ``client`` fixture's ``backend``).
Entries of the other branches' events (allocations, approved lines, payments,
returns) are imitated with ``service.ledger.post`` and ``reverse`` as those services
will post them, so the reports are tested on a ledger of every kind of entry.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from claims.funding import Funding
from cli.main import app as cli_app
from service import contributions, ledger, ledger_check
from service.consistency import check as consistency_check
from service.ledger import Leg
from service.ledger_reports import beancount_lines, statements, trial_balance
from service.auth import CLI
from store import models
from store.db import session_factory
from tests.api.builders import YEAR, auth, enrollment
from tests.builders import certno_for

BEAN_CHECK = Path(sys.executable).with_name("bean-check")
CSV = {"content-type": "text/csv"}


def _legs(session, entry_id: int) -> list[tuple]:
    return [(p.account, p.amount, p.fund_source, p.fund_year, p.league_id, p.member_id)
            for p in session.scalars(select(models.Posting).where(models.Posting.entry_id == entry_id)
                                     .order_by(models.Posting.id))]


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _contribution_legs(member: str, league: str, year: int) -> list[tuple]:
    return [
        ("Assets:Bank:MutualAid", 9000, "contributions", year, league, member),
        ("Income:Contributions:Members", -9000, "contributions", year, league, member),
        ("Assets:Bank:MutualAid", 1000, "union_subsidy", year, league, member),
        ("Income:Contributions:UnionSubsidy", -1000, "union_subsidy", year, league, member),
    ]


# ----------------------------------------------------------------------------- contributions


def test_an_enrollment_books_the_members_contribution_and_the_union_subsidy(client, cast, session) -> None:
    answer = client.post("/v1/members/M1/enrollments", json=enrollment(YEAR + 1), headers=auth(cast.officer))

    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["contribution"]["members"] == "90.00" and made["contribution"]["union_subsidy"] == "10.00"
    row = session.scalars(select(models.Contribution).where(models.Contribution.enrollment_id == made["id"])).one()
    assert (row.member_id, row.period_start, row.members_amount, row.union_subsidy_amount) == (
        "M1", dt.date(YEAR + 1, 1, 1), 9000, 1000)
    entry = session.get(models.JournalEntry, row.entry_id)
    assert (entry.event, entry.ref) == ("contribution.received", f"enrollment:{made['id']}")
    # M1's union U1 lies under the league L1: the legs carry it, and the period's year.
    assert _legs(session, entry.id) == _contribution_legs("M1", "L1", YEAR + 1)
    read = client.get("/v1/members/M1", headers=auth(cast.officer)).json()
    assert [e["contribution"]["members"] for e in read["enrollments"]] == ["90.00", "90.00", "90.00"]


def test_a_refused_enrollment_books_nothing(client, cast, session) -> None:
    before = (_count(session, models.Contribution), _count(session, models.JournalEntry), _count(session, models.Posting))

    answer = client.post("/v1/members/M1/enrollments", json=enrollment(YEAR), headers=auth(cast.officer))

    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "period_start"
    assert (_count(session, models.Contribution), _count(session, models.JournalEntry),
            _count(session, models.Posting)) == before


def test_an_enrollment_corrected_keeps_its_contribution_on_its_read(client, cast) -> None:
    made = client.post("/v1/members/M1/enrollments", json=enrollment(YEAR + 3), headers=auth(cast.officer)).json()

    answer = client.patch(f"/v1/enrollments/{made['id']}", json={"period_end": f"{YEAR + 3}-06-30"},
                          headers=auth(cast.officer))

    assert answer.status_code == 200, answer.text
    assert answer.json()["contribution"]["members"] == "90.00"


def _import_file(rows: int, first: int = 500) -> str:
    lines = ["member_id,certno,name,period_start,period_end,enrolled_on"]
    for n in range(first, first + rows):
        lines.append(f"M{n},{certno_for(f'M{n}')},会员{n},{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01")
    return "\n".join(lines) + "\n"


def test_an_import_books_a_contribution_for_each_new_enrollment_once(client, cast, session) -> None:
    content = _import_file(30)
    before = _count(session, models.JournalEntry)

    first = client.post("/v1/enrollments/import", content=content, params={"union_id": "U2"},
                        headers={**auth(cast.admin), **CSV})
    again = client.post("/v1/enrollments/import", content=content, params={"union_id": "U2"},
                        headers={**auth(cast.admin), **CSV})

    assert first.status_code == 200 and first.json()["enrollments_created"] == 30, first.text
    assert again.status_code == 200 and again.json()["enrollments_unchanged"] == 30, again.text
    imported = list(session.scalars(select(models.Contribution).where(models.Contribution.member_id.like("M5%"))))
    # One entry for the file (the second import books nothing): a credit leg per member and
    # source, as a single enrollment books them, and the bank's debit once per source and year.
    assert len(imported) == 30 and _count(session, models.JournalEntry) == before + 1
    assert len({row.entry_id for row in imported}) == 1
    entry_id = imported[0].entry_id
    legs = _legs(session, entry_id)
    enrollment_of = dict(session.execute(select(models.Enrollment.id, models.Enrollment.member_id)).all())
    for row in imported:
        assert enrollment_of[row.enrollment_id] == row.member_id
        # U2 sits under the county C2 under the league L2.
        own = [leg for leg in _contribution_legs(row.member_id, "L2", YEAR) if not leg[0].startswith("Assets:")]
        assert [leg for leg in legs if leg[5] == row.member_id] == own
    assert [leg for leg in legs if leg[0].startswith("Assets:")] == [
        ("Assets:Bank:MutualAid", 30 * 9000, "contributions", YEAR, "L2", None),
        ("Assets:Bank:MutualAid", 30 * 1000, "union_subsidy", YEAR, "L2", None)]
    assert ledger_check.check(session) == []


def test_an_import_with_a_bad_row_books_nothing(client, cast, session) -> None:
    before = (_count(session, models.Contribution), _count(session, models.JournalEntry))
    content = _import_file(5) + f"M999,{certno_for('M999')},坏行,{YEAR}-13-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"

    answer = client.post("/v1/enrollments/import", content=content, params={"union_id": "U1"},
                         headers={**auth(cast.admin), **CSV})

    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "row 7.period_start"
    assert (_count(session, models.Contribution), _count(session, models.JournalEntry)) == before


def test_contributions_take_the_amounts_of_the_plans_funding_rules(client, cast, session, monkeypatch) -> None:
    # The plan document's funding section comes with the funds branch; what it gives is
    # imitated here. A plan asking no union subsidy books no subsidy legs.
    monkeypatch.setattr(contributions, "funding_of", lambda plan: Funding(contribution=12000, union_subsidy=0))
    monkeypatch.setattr(contributions, "_funding_by_hash", {})

    made = client.post("/v1/members/M3/enrollments", json=enrollment(YEAR + 1), headers=auth(cast.officer_other))

    assert made.status_code == 201, made.text
    assert made.json()["contribution"] == {"members": "120.00", "union_subsidy": "0.00",
                                           "recorded_on": made.json()["contribution"]["recorded_on"]}
    row = session.scalars(select(models.Contribution).where(models.Contribution.enrollment_id == made.json()["id"])).one()
    assert _legs(session, row.entry_id) == [
        ("Assets:Bank:MutualAid", 12000, "contributions", YEAR + 1, "L2", "M3"),
        ("Income:Contributions:Members", -12000, "contributions", YEAR + 1, "L2", "M3"),
    ]


def test_taking_back_a_contribution_reverses_its_entry(client, cast, db: Engine, session) -> None:
    made = client.post("/v1/members/M2/enrollments", json=enrollment(YEAR + 2), headers=auth(cast.officer)).json()
    booked = session.scalars(select(models.Contribution.entry_id)
                             .where(models.Contribution.enrollment_id == made["id"])).one()

    with session_factory(db)() as s:
        reversal = contributions.reverse(s, made["id"], reason="enrolled by mistake")
        s.commit()
    with session_factory(db)() as s:
        again = contributions.reverse(s, made["id"], reason="twice")
        s.commit()

    assert again is None  # nothing left to take back: no second reversal
    entry = session.get(models.JournalEntry, reversal)
    assert (entry.event, entry.reverses_id, entry.memo) == ("contribution.reversed", booked, "enrolled by mistake")
    assert _legs(session, reversal) == [(a, -fen, *rest) for a, fen, *rest in _legs(session, booked)]
    assert session.scalar(select(models.Contribution).where(models.Contribution.enrollment_id == made["id"])) is None
    assert ledger_check.check(session) == []


def test_taking_back_an_imported_contribution_negates_its_own_legs_only(client, cast, db: Engine, session) -> None:
    answer = client.post("/v1/enrollments/import", content=_import_file(3), params={"union_id": "U2"},
                         headers={**auth(cast.admin), **CSV})
    assert answer.status_code == 200, answer.text
    rows = list(session.scalars(select(models.Contribution).where(models.Contribution.member_id.like("M5%"))
                                .order_by(models.Contribution.id)))
    taken_member, taken_enrollment = rows[0].member_id, rows[0].enrollment_id

    with session_factory(db)() as s:
        reversal = contributions.reverse(s, taken_enrollment, reason="enrolled by mistake")
        s.commit()

    entry = session.get(models.JournalEntry, reversal)
    assert (entry.event, entry.reverses_id) == ("contribution.reversed", None)  # not the whole file's entry
    assert _legs(session, reversal) == [(a, -fen, *rest) for a, fen, *rest in
                                        _contribution_legs(taken_member, "L2", YEAR)]
    # The file's other members keep theirs; the mutual-aid money is less by exactly one member-period.
    members_left = session.scalar(select(func.sum(models.Posting.amount)).where(
        models.Posting.account == "Income:Contributions:Members", models.Posting.member_id.like("M5%")))
    assert members_left == -2 * 9000
    assert ledger_check.check(session) == []


# ----------------------------------------------------------------------------- append-only


@pytest.mark.parametrize("table", ["journal_entries", "postings"])
def test_the_ledger_tables_refuse_update_and_delete(client, cast, db: Engine, table: str) -> None:
    model = {"journal_entries": models.JournalEntry, "postings": models.Posting}[table]
    with db.connect() as conn:
        first = conn.scalar(select(func.min(model.id)))
        rows = conn.scalar(select(func.count()).select_from(model))
    assert first is not None

    change = (update(model).where(model.id == first).values(memo="edited") if table == "journal_entries"
              else update(model).where(model.id == first).values(amount=1))
    for statement in (change, delete(model).where(model.id == first), delete(model)):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.begin() as conn:
                conn.execute(statement)

    with db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(model)) == rows
        if table == "postings":
            assert conn.scalar(select(model.amount).where(model.id == first)) != 1


# ----------------------------------------------------------------------------- a history


def _history(db: Engine) -> dict[str, int]:
    """Beside the cast's contributions: the entries the funds and payments services post."""
    day = dt.date(YEAR, 3, 1)
    with session_factory(db)() as s:
        ids = {
            "central": ledger.post(s, "allocation.recorded", [
                Leg("Assets:Bank:Relief", 1_000_000, "central", YEAR),
                Leg(ledger.allocation_account("central"), -1_000_000, "central", YEAR)],
                ref="allocation:1", memo='全总 "special" funds \\ 2026', booked_on=dt.date(YEAR, 1, 10)),
            "league_l1": ledger.post(s, "allocation.recorded", [
                Leg("Assets:Bank:Relief", 200_000, "league", YEAR, "L1"),
                Leg(ledger.allocation_account("league", "L1"), -200_000, "league", YEAR, "L1")],
                ref="allocation:2", booked_on=dt.date(YEAR, 2, 1)),
            "league_l2": ledger.post(s, "allocation.recorded", [
                Leg("Assets:Bank:Relief", 50_000, "league", YEAR, "L2"),
                Leg(ledger.allocation_account("league", "L2"), -50_000, "league", YEAR, "L2")],
                ref="allocation:3", booked_on=dt.date(YEAR, 2, 1)),
            "ma_ip": ledger.post(s, "line.approved", [
                Leg(ledger.benefit_expense_account("MA_IP"), 1_234_567, "mutual_aid", YEAR, "L1", "M1", 1, 1),
                Leg(ledger.PAYABLE_MEMBERS, -1_234_567, None, None, None, "M1", 1, 1)],
                ref="line:1", booked_on=day),
            "cir": ledger.post(s, "line.approved", [
                Leg(ledger.benefit_expense_account("CIR", "central"), 50_001, "central", YEAR, "L1", "M1", 2, 2),
                Leg(ledger.benefit_expense_account("CIR", "region"), 30_000, "region", YEAR, "L1", "M1", 2, 2),
                Leg(ledger.benefit_expense_account("CIR", "league"), 20_000, "league", YEAR, "L1", "M1", 2, 2),
                Leg(ledger.PAYABLE_MEMBERS, -100_001, None, None, None, "M1", 2, 2)],
                ref="line:2", booked_on=day),
        }
        ids["paid"] = ledger.post(s, "item.paid", [
            Leg(ledger.PAYABLE_MEMBERS, 100_001, None, None, None, "M1"),
            Leg(ledger.BANK_RELIEF, -100_001, None, None, None, "M1")], ref="item:1", booked_on=dt.date(YEAR, 4, 1))
        ids["returned"] = ledger.reverse(s, ids["paid"], "item.returned", ref="item:1", booked_on=dt.date(YEAR, 4, 5))
        # A reviewer took part of the CIR line back: the league's share, reversed.
        ids["cir_reversed"] = ledger.reverse(s, ids["cir"], "line.reversed", ref="line:2", booked_on=dt.date(YEAR, 6, 1))
        s.commit()
    return ids


# ----------------------------------------------------------------------------- Beancount export


def _export(database_url: str, path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["ledger", "export", "--format", "beancount", "-o", str(path),
                                          "--db", database_url])
    assert result.exit_code == 0, result.output


def _bean_check(path: Path) -> subprocess.CompletedProcess:
    assert BEAN_CHECK.exists(), f"bean-check is not installed beside {sys.executable} (pip install beancount)"
    return subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120)


def test_the_ledger_exported_as_beancount_passes_bean_check(client, cast, db, database_url, tmp_path) -> None:
    _history(db)
    path = tmp_path / "ledger.beancount"

    _export(database_url, path)

    checked = _bean_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    written = path.read_text(encoding="utf-8")
    assert 'option "operating_currency" "CNY"' in written
    with db.connect() as conn:
        accounts = set(conn.scalars(select(models.Posting.account)))
        entries = conn.scalar(select(func.count()).select_from(models.JournalEntry))
    assert {line.split()[2] for line in written.splitlines() if " open " in line} == accounts
    assert "Income:Allocations:League:L1" in accounts and "Expenses:Benefits:CIR:Central" in accounts
    assert written.count("  entry_id: ") == entries
    assert "  Expenses:Benefits:MA-IP  12345.67 CNY" in written
    assert written.count("  reverses: ") == 2


def test_bean_check_fails_an_export_with_an_unbalanced_transaction(client, cast, db, database_url, tmp_path) -> None:
    _history(db)
    path = tmp_path / "ledger.beancount"
    _export(database_url, path)

    written = path.read_text(encoding="utf-8")
    assert "  Expenses:Benefits:MA-IP  12345.67 CNY" in written
    path.write_text(written.replace("  Expenses:Benefits:MA-IP  12345.67 CNY", "  Expenses:Benefits:MA-IP  12345.66 CNY"),
                    encoding="utf-8")

    checked = _bean_check(path)
    assert checked.returncode != 0
    assert "balance" in (checked.stdout + checked.stderr).lower()


def test_an_export_to_stdout_and_of_an_unknown_format(client, cast, database_url) -> None:
    shown = CliRunner().invoke(cli_app, ["ledger", "export", "--db", database_url])
    refused = CliRunner().invoke(cli_app, ["ledger", "export", "--format", "csv", "--db", database_url])

    assert shown.exit_code == 0 and shown.output.startswith('option "title"')
    assert refused.exit_code == 2 and "--format" in refused.output


def test_the_export_writes_memos_as_one_quoted_line(client, cast, db) -> None:
    with session_factory(db)() as s:
        ledger.post(s, "allocation.recorded", [Leg("Assets:Bank:Relief", 1, "charity", YEAR),
                                               Leg("Income:Allocations:Charity", -1, "charity", YEAR)],
                    ref="allocation:9", memo='line one\nline "two" \\ three')
        s.commit()
        lines = list(beancount_lines(s))
    assert '  memo: "line one line \\"two\\" \\\\ three"' in lines


# ----------------------------------------------------------------------------- trial balance


def test_the_trial_balance_sums_each_account_and_totals_zero(client, cast, db, database_url) -> None:
    _history(db)
    with session_factory(db)() as s:
        balance = trial_balance(s)
        early = trial_balance(s, as_of=dt.date(YEAR, 3, 31))
    shown = dict(balance.balances)

    assert balance.total == 0 and early.total == 0
    # Six enrollments of the cast (90 + 10 each), the central and league allocations.
    assert shown["Assets:Bank:MutualAid"] == 6 * 10_000
    assert shown["Assets:Bank:Relief"] == 1_250_000  # paid, then returned
    assert shown["Liabilities:Payable:Members"] == -1_234_567  # the CIR line was reversed
    assert shown["Expenses:Benefits:CIR:Central"] == 0
    assert dict(early.balances)["Expenses:Benefits:CIR:Central"] == 50_001
    assert "Assets:Bank:Relief" in dict(early.balances)

    result = CliRunner().invoke(cli_app, ["ledger", "trial-balance", "--db", database_url])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].split() == ["Total", "0.00"]
    assert "Assets:Bank:MutualAid" in result.output and "600.00" in result.output


# ----------------------------------------------------------------------------- fund statements


def _by_fund(answer) -> dict[tuple, dict]:
    assert answer.status_code == 200, answer.text
    return {(i["source"], i["league_id"]): {k: i[k] for k in ("opening", "allocations", "charges", "closing")}
            for i in answer.json()["items"]}


def test_fund_statements_give_each_source_and_league_its_movement(client, cast, db) -> None:
    _history(db)
    with session_factory(db)() as s:  # the mutual-aid pool in deficit
        ledger.post(s, "line.approved", [
            Leg(ledger.benefit_expense_account("MA_DA"), 1_000_000, "mutual_aid", YEAR, "L2", "M3", 3, 3),
            Leg(ledger.PAYABLE_MEMBERS, -1_000_000, None, None, None, "M3", 3, 3)], ref="line:3",
            booked_on=dt.date(YEAR, 5, 1))
        s.commit()

    lines = _by_fund(client.get("/v1/funds/statements", params={"year": YEAR}, headers=auth(cast.finance)))

    assert lines == {
        # Three members' contributions of the year (M1 M2 M3): 3 x 100.00 in; MA_IP and MA_DA out.
        ("mutual_aid", None): {"opening": "0.00", "allocations": "300.00", "charges": "22345.67",
                               "closing": "-22045.67"},
        ("central", None): {"opening": "0.00", "allocations": "10000.00", "charges": "0.00", "closing": "10000.00"},
        ("region", None): {"opening": "0.00", "allocations": "0.00", "charges": "0.00", "closing": "0.00"},
        ("league", "L1"): {"opening": "0.00", "allocations": "2000.00", "charges": "0.00", "closing": "2000.00"},
        ("league", "L2"): {"opening": "0.00", "allocations": "500.00", "charges": "0.00", "closing": "500.00"},
    }
    # Up to before the reversal, from March: the allocations are the opening, the CIR shares charged.
    window = {"year": YEAR, "from": f"{YEAR}-03-01", "to": f"{YEAR}-05-31"}
    lines = _by_fund(client.get("/v1/funds/statements", params=window, headers=auth(cast.admin)))
    assert lines[("central", None)] == {"opening": "10000.00", "allocations": "0.00", "charges": "500.01",
                                        "closing": "9499.99"}
    assert lines[("league", "L1")] == {"opening": "2000.00", "allocations": "0.00", "charges": "200.00",
                                       "closing": "1800.00"}
    assert lines[("region", None)]["closing"] == "-300.00"
    narrowed = client.get("/v1/funds/statements", params={"year": YEAR, "source": "league", "league": "L2"},
                          headers=auth(cast.finance))
    assert list(_by_fund(narrowed)) == [("league", "L2")]
    assert _by_fund(client.get("/v1/funds/statements", params={"year": YEAR - 5}, headers=auth(cast.finance))) == {}


def test_a_league_finance_officer_sees_only_their_leagues_money(client, cast, db) -> None:
    _history(db)

    own = _by_fund(client.get("/v1/funds/statements", params={"year": YEAR}, headers=auth(cast.finance_league)))
    other = _by_fund(client.get("/v1/funds/statements", params={"year": YEAR}, headers=auth(cast.finance_other)))
    asking_for_another = client.get("/v1/funds/statements", params={"year": YEAR, "league": "L2"},
                                    headers=auth(cast.finance_league))

    assert list(own) == [("league", "L1")] and list(other) == [("league", "L2")]
    assert _by_fund(asking_for_another) == {}  # a filter narrows; it never widens the scope
    for key in (cast.officer_region, cast.officer, cast.member, cast.hospital):
        refused = client.get("/v1/funds/statements", params={"year": YEAR}, headers=auth(key))
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("params", "field"), [
    ({"source": "bank"}, "source"),
    ({"from": f"{YEAR}-06-01", "to": f"{YEAR}-05-31"}, "to"),
    ({"year": "1066"}, "year"),
    ({"from": "2026-02-30"}, "from"),
])
def test_a_statement_asked_for_wrongly_is_refused_naming_the_field(client, cast, params, field) -> None:
    answer = client.get("/v1/funds/statements", params={"year": YEAR, **params}, headers=auth(cast.finance))

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]


# ----------------------------------------------------------------------------- claims check


def _raw_entry(conn, event: str, legs: list[tuple[str, int]], reverses_id: int | None = None) -> int:
    """An entry written past the service (as a script or a bad restore could): inserts are not refused."""
    entry_id = conn.execute(insert(models.JournalEntry).values(
        event=event, ref="raw", memo="", booked_on=dt.date(YEAR, 1, 1), reverses_id=reverses_id,
        created_at=dt.datetime.now(dt.timezone.utc)).returning(models.JournalEntry.id)).scalar_one()
    conn.execute(insert(models.Posting), [{"entry_id": entry_id, "account": a, "amount": fen} for a, fen in legs])
    return entry_id


def _problems(db: Engine) -> list[str]:
    with session_factory(db)() as s:
        return consistency_check(s)


def _ledger_problems(db: Engine) -> list[str]:
    # The history's claim lines are entries only (no decisions behind them), so the checks
    # of payables against decided lines (service.payments.check) would rightly object:
    # here only the ledger's own rules are asked.
    with session_factory(db)() as s:
        return ledger_check.check(s)


def test_the_ledger_checks_pass_a_ledger_posted_through_the_service(client, cast, db, database_url) -> None:
    _history(db)

    assert _ledger_problems(db) == []


def test_claims_check_finds_an_unbalanced_entry_and_the_trial_balance_off(client, cast, db, database_url) -> None:
    with db.begin() as conn:
        entry = _raw_entry(conn, "raw.unbalanced", [("Assets:Bank:Relief", 100), ("Income:Allocations:Central", -99)])

    problems = _problems(db)

    assert f"ledger entry {entry}: its postings add up to 0.01, not 0.00" in problems
    assert "the trial balance totals 0.01, not 0.00" in problems
    assert CliRunner().invoke(cli_app, ["check", "--db", database_url]).exit_code == 1
    assert CliRunner().invoke(cli_app, ["ledger", "trial-balance", "--db", database_url]).exit_code == 1


def test_claims_check_finds_an_account_outside_the_five_roots(client, cast, db) -> None:
    with db.begin() as conn:
        _raw_entry(conn, "raw.badname", [("Assets:Bank:Relief", 100), ("Cash:drawer", -100)])

    assert _problems(db) == ["ledger account 'Cash:drawer' (1 posting(s)) is not a name under "
                             "Assets, Liabilities, Equity, Income or Expenses"]


def test_claims_check_finds_a_reversal_that_does_not_negate_its_entry(client, cast, db) -> None:
    ids = _history(db)
    with db.begin() as conn:
        wrong = _raw_entry(conn, "raw.reversal", [("Assets:Bank:Relief", -1_000_000),
                                                   ("Income:Allocations:Region", 1_000_000)],
                           reverses_id=ids["central"])

    assert _ledger_problems(db) == [f"ledger entry {wrong} does not negate entry {ids['central']} exactly "
                             "(each posting's account, dimensions and opposite amount)"]


def test_claims_check_finds_a_reversal_of_an_entry_that_does_not_exist(client, cast, db, backend) -> None:
    # The foreign key refuses such a row; a restore without constraints would not: imitated
    # by switching the constraint off for this connection (PostgreSQL: as a superuser).
    legs = [("Assets:Bank:Relief", 5), ("Income:Allocations:Region", -5)]
    if backend == "postgres":
        with db.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            wrong = _raw_entry(conn, "raw.orphan", legs, reverses_id=987_654)
    else:
        raw = db.raw_connection()  # autocommit (store.db): the pragma works only outside a transaction
        try:
            raw.execute("PRAGMA foreign_keys = OFF")
            cursor = raw.execute("INSERT INTO journal_entries (event, ref, memo, booked_on, reverses_id, created_at) "
                                 "VALUES ('raw.orphan', 'raw', '', ?, 987654, ?) RETURNING id",
                                 (f"{YEAR}-01-01", "2026-01-01 00:00:00.000000"))
            wrong = cursor.fetchone()[0]
            raw.executemany("INSERT INTO postings (entry_id, account, amount) VALUES (?, ?, ?)",
                            [(wrong, a, fen) for a, fen in legs])
            raw.execute("PRAGMA foreign_keys = ON")
        finally:
            raw.close()

    assert _problems(db) == [f"ledger entry {wrong} reverses entry 987654, which does not exist"]
