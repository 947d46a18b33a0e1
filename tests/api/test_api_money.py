"""The money events as one system (funds.md §2-4): a cancellation reverses a claim's money,
a cut after payment is recovered, and a whole story leaves ``claims check`` clean.

The cast's M1 and M2 are in U1 (under L1), M3 in U2 (under L2). A dibao worker's lung
cancer bill with B = 1,000.05 approves MA_IP, MA_DA, MA_CI and CIR (540.03, shared by
central, region and L1's league money).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.money import parse_yuan
from cli.main import app as cli_app
from service import consistency, ledger, payments
from service.ledger_reports import trial_balance
from store import models
from tests.api import builders as b
from tests.api.test_api_funds import _cancer_claim, _charges, _hardship, _pool
from tests.api.test_api_payments import (approve, approved_total, balance, bank_rows, build, pay,
                                         pay_less_from_now_on, put_account, returns, run_detail)

BEAN_CHECK = Path(sys.executable).with_name("bean-check")


def cancel(client, key: str, settlement_id: int, expect: int = 200) -> dict:
    answer = client.post(f"/v1/settlements/{settlement_id}/cancel", json={"reason": "收费员录入错误"},
                         headers=b.auth(key))
    assert answer.status_code == expect, answer.text
    return answer.json()


def relief(client, cast) -> None:
    """Every relief source funded for the year, L1's league money too."""
    for source in ("central", "region", "charity"):
        b.allocate(client, cast.finance, source, "100000.00")
    b.allocate(client, cast.finance, "league", "100000.00", league_id="L1")


def pools(session: Session) -> dict[tuple, tuple[int, int]]:
    return {(p.source, p.league_id): (p.allocated, p.charged) for p in session.scalars(select(models.FundPool))}


def clean(session: Session) -> None:
    """Every entry balances, the trial balance is zero, and claims check finds nothing."""
    p = models.Posting
    assert session.execute(select(p.entry_id).group_by(p.entry_id).having(func.sum(p.amount) != 0)).all() == []
    assert trial_balance(session).total == 0
    assert consistency.check(session) == []


# ----------------------------------------------------------------------------- cancellation


def test_cancelling_an_unpaid_approved_claim_gives_its_money_back(client, cast, session) -> None:
    _hardship(client, cast, "M1")
    relief(client, cast)
    before = pools(session)
    claim = _cancer_claim(client, cast)
    assert claim["status"] == "approved" and b.line(claim, "CIR")["status"] == "approved"
    assert pools(session) != before
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == -approved_total(claim)

    done = cancel(client, cast.admin, claim["settlement_id"])
    assert (done["status"], done["payment_status"], done["paid_out"]) == ("cancelled", "unpaid", "0.00")
    assert _charges(session, claim["id"]) == {}  # every line gives back all it held
    negative = session.scalars(select(models.LineCharge).where(models.LineCharge.claim_id == claim["id"],
                                                               models.LineCharge.amount < 0)).all()
    assert {c.source for c in negative} == {None, "central", "region", "league"}
    assert pools(session) == before  # the relief pools have their money back
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0
    assert session.scalar(select(func.count()).select_from(models.Recovery)) == 0  # nothing was paid
    clean(session)
    # Nothing of it is paid by a run.
    put_account(client, cast.admin, "M1")
    assert "no approved line" in build(client, cast.finance, expect=409)["detail"]


def test_cancelling_a_paid_claim_leaves_a_recovery_netted_in_the_next_run(client, cast, session) -> None:
    claim = b.claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    item = pay(client, cast)
    assert parse(item["amount"]) == approved_total(claim)
    decision = client.get(f"/v1/settlements/{claim['settlement_id']}/decision", headers=b.auth(cast.hospital)).json()
    assert (decision["payment_status"], decision["paid_out"]) == ("paid", item["amount"])

    done = cancel(client, cast.hospital, claim["settlement_id"])
    assert (done["status"], done["paid_out"]) == ("cancelled", item["amount"])
    recoveries = session.scalars(select(models.Recovery).order_by(models.Recovery.line_id)).all()
    assert {(r.member_id, r.claim_id, r.line_id, r.amount) for r in recoveries} == {
        ("M1", claim["id"], ln["line_id"], parse_yuan(ln["amount"])) for ln in item["lines"]}
    assert balance(session, ledger.RECOVERIES) == approved_total(claim)
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0
    logged = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "claim.cancelled")).one()
    assert sum(parse_yuan(r["amount"]) for r in logged.details["recoveries"]) == approved_total(claim)
    clean(session)

    # A larger next claim: the run nets what M1 owes first and the bank pays the rest.
    bigger = b.claim_for(client, cast.admin, "M1", b="3000.00")
    run = build(client, cast.finance)
    [nets] = run_detail(client, cast.finance, run["id"])["payment_items"]
    assert (parse(nets["gross"]), parse(nets["netted"])) == (approved_total(bigger), approved_total(claim))
    approve(client, cast.finance_checker, run["id"])
    bank_rows(client, cast.finance, run["id"])
    returns(client, cast.finance, run["id"], [(nets["id"], "paid", "", "B2", "2026-01-06")])
    assert balance(session, ledger.RECOVERIES) == 0 and balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0
    clean(session)


def test_cancelling_a_claim_pended_for_funds_moves_no_money_and_no_allocation_pays_it(client, cast, session) -> None:
    _hardship(client, cast, "M1")
    claim = _cancer_claim(client, cast)  # no relief money yet: CIR waits
    assert b.codes(b.line(claim, "CIR")) == ["FUND_EXHAUSTED"]
    held = {k: v for k, v in _charges(session, claim["id"]).items()}
    assert all(source is None for _, source in held)  # only mutual aid is charged
    relief_before = {k: v for k, v in pools(session).items()}

    cancel(client, cast.admin, claim["settlement_id"])
    assert _charges(session, claim["id"]) == {}
    assert pools(session) == relief_before
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0
    clean(session)
    # The money arrives: the cancelled claim's line is no longer waiting for it.
    made = b.allocate(client, cast.finance, "charity", "100000.00")
    assert made["redecided_claims"] == []
    assert _pool(session, "charity") == (10_000_000, 0)
    line = session.scalar(select(models.DecisionLine).where(models.DecisionLine.claim_id == claim["id"],
                                                            models.DecisionLine.benefit == "CIR"))
    assert line.status == "pended"
    clean(session)


def test_a_cancellation_is_refused_while_a_line_is_in_a_draft_or_approved_run(client, cast, session) -> None:
    claim = b.claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    run = build(client, cast.finance)
    entries = session.scalar(select(func.count()).select_from(models.JournalEntry))
    for step in ("draft", "approved"):
        refused = cancel(client, cast.hospital, claim["settlement_id"], expect=409)
        assert f"payment run {run['id']} ({step})" in refused["detail"], refused
        assert refused["errors"][0]["field"] == "settlement_id"
        if step == "draft":
            approve(client, cast.finance_checker, run["id"])
    # Nothing was stored: the claim stands, its money is where it was.
    assert client.get(f"/v1/claims/{claim['id']}", headers=b.auth(cast.admin)).json()["status"] == "approved"
    assert session.scalar(select(func.count()).select_from(models.JournalEntry)) == entries
    assert session.scalar(select(func.count()).select_from(models.SettlementCancellation)) == 0
    # Finance calls the run off; the desk cancels then.
    assert client.post(f"/v1/payment-runs/{run['id']}/cancel", headers=b.auth(cast.finance)).status_code == 200
    cancel(client, cast.hospital, claim["settlement_id"])
    clean(session)


def test_a_line_cancelled_while_with_the_bank_is_recovered_if_the_bank_pays_it(client, cast, session) -> None:
    paid_claim = b.claim_for(client, cast.admin, "M1")
    returned_claim = b.claim_for(client, cast.admin, "M3")
    put_account(client, cast.admin, "M1")
    put_account(client, cast.admin, "M3")
    run = build(client, cast.finance)
    approve(client, cast.finance_checker, run["id"])
    bank_rows(client, cast.finance, run["id"])  # exported: the items are with the bank
    cancel(client, cast.admin, paid_claim["settlement_id"])
    cancel(client, cast.admin, returned_claim["settlement_id"])
    # Unpaid when cancelled: off payable, no recovery yet.
    assert session.scalar(select(func.count()).select_from(models.Recovery)) == 0
    assert balance(session, ledger.PAYABLE_MEMBERS) == 0
    clean(session)
    items = {i["member_id"]: i for i in run_detail(client, cast.finance, run["id"])["payment_items"]}
    returns(client, cast.finance, run["id"], [(items["M1"]["id"], "paid", "", "B1", "2026-01-05"),
                                              (items["M3"]["id"], "returned", "账户已销户", "B2", "2026-01-05")])
    # The bank paid M1 what is no longer owed: M1 owes it back. M3's came back: nothing is owed either way.
    owed = session.execute(select(models.Recovery.member_id, func.sum(models.Recovery.amount))
                           .group_by(models.Recovery.member_id)).all()
    assert [(m, int(fen)) for m, fen in owed] == [("M1", approved_total(paid_claim))]
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0 and balance(session, ledger.PAYABLE_MEMBERS, "M3") == 0
    assert balance(session, ledger.RECOVERIES) == approved_total(paid_claim)
    clean(session)
    # The same return file again changes nothing: no second recovery.
    returns(client, cast.finance, run["id"], [(items["M1"]["id"], "paid", "", "B1", "2026-01-05"),
                                              (items["M3"]["id"], "returned", "账户已销户", "B2", "2026-01-05")])
    assert session.scalar(select(func.count()).select_from(models.Recovery)) == len(items["M1"]["lines"])


def parse(yuan: str) -> int:
    return parse_yuan(yuan)


# ----------------------------------------------------------------------------- the whole story


def test_a_whole_money_story_leaves_claims_check_clean_and_the_ledger_passes_bean_check(
        client, cast, session, database_url, tmp_path) -> None:
    _hardship(client, cast, "M1")
    relief(client, cast)
    for member in ("M1", "M2", "M3"):
        put_account(client, cast.admin, member)
    cir = _cancer_claim(client, cast)  # M1: mutual aid and CIR
    reviewed = b.claim_for(client, cast.admin, "M2", b=b.HIGH_B)  # pended for review
    assert reviewed["status"] == "pended"
    reviewed = b.review(client, cast.officer, reviewed["id"],
                        {"benefit": "MA_IP", "action": "adjust", "amount": "40000.00", "note": "扣除不合理费用"},
                        {"benefit": "MA_DA", "action": "approve", "note": "住院天数属实"})
    other = b.claim_for(client, cast.admin, "M3")
    cancelled_later = b.claim_for(client, cast.admin, "M2")
    clean(session)

    # A run: M1 and M2 paid, M3's returned by the bank.
    run = build(client, cast.finance)
    approve(client, cast.finance_checker, run["id"])
    bank_rows(client, cast.finance, run["id"])
    items = {i["member_id"]: i for i in run_detail(client, cast.finance, run["id"])["payment_items"]}
    assert parse(items["M2"]["gross"]) == approved_total(reviewed) + approved_total(cancelled_later)
    assert parse(items["M1"]["gross"]) == approved_total(cir)
    returns(client, cast.finance, run["id"], [(items["M1"]["id"], "paid", "", "B1", "2026-01-05"),
                                              (items["M2"]["id"], "paid", "", "B2", "2026-01-05"),
                                              (items["M3"]["id"], "returned", "户名不符", "B3", "2026-01-05")])
    clean(session)
    # Each line is paid from its fund's bank account (the fund its charges went to): CIR from relief.
    paid_from = set(session.execute(
        select(models.DecisionLine.benefit, models.Posting.account).join(models.JournalEntry)
        .join(models.DecisionLine, models.DecisionLine.id == models.Posting.line_id)
        .where(models.JournalEntry.event == payments.PAID, models.Posting.claim_id == cir["id"],
               models.Posting.account != ledger.PAYABLE_MEMBERS)).all())
    assert ("CIR", ledger.BANK_RELIEF) in paid_from and len(paid_from) > 1
    assert all(account == ledger.BANK_MUTUAL_AID for benefit, account in paid_from if benefit != "CIR")

    # Re-adjudication paying less (recoveries of what was paid), then a paid claim cancelled.
    assert pay_less_from_now_on(client, cast)["adjustments"] >= 1
    clean(session)
    cancel(client, cast.admin, cancelled_later["settlement_id"])
    assert {r.member_id for r in session.scalars(select(models.Recovery))} >= {"M1", "M2"}
    clean(session)

    # The next run pays M3 again and nets what the others owe from their new claims.
    b.claim_for(client, cast.admin, "M1", b="20000.00")
    b.claim_for(client, cast.admin, "M2", b="20000.00")
    rerun = build(client, cast.finance)
    approve(client, cast.finance_checker, rerun["id"])
    bank_rows(client, cast.finance, rerun["id"])
    again = run_detail(client, cast.finance, rerun["id"])["payment_items"]
    assert {i["member_id"] for i in again} == {"M1", "M2", "M3"}
    assert all(parse(i["netted"]) > 0 for i in again if i["member_id"] != "M3")
    returns(client, cast.finance, rerun["id"], [(i["id"], "paid", "", f"R{i['id']}", "2026-01-07") for i in again])
    assert balance(session, ledger.RECOVERIES) == 0  # every recovery netted
    assert client.get(f"/v1/claims/{other['id']}", headers=b.auth(cast.admin)).json()["payment_status"] == "paid"
    clean(session)

    path = tmp_path / "ledger.beancount"
    exported = CliRunner().invoke(cli_app, ["ledger", "export", "--format", "beancount", "-o", str(path),
                                            "--db", database_url])
    assert exported.exit_code == 0, exported.output
    assert BEAN_CHECK.exists(), f"bean-check is not installed beside {sys.executable}"
    checked = subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert ledger.RECOVERIES in path.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- cuts


def test_a_line_cut_while_with_the_bank_comes_off_payable_and_is_recovered_when_the_bank_pays(client, cast, session):
    claim = b.claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    run = build(client, cast.finance)
    approve(client, cast.finance_checker, run["id"])
    bank_rows(client, cast.finance, run["id"])
    assert pay_less_from_now_on(client, cast)["adjustments"] == 1
    # With the bank, not paid: the cut comes off payable, nothing is owed back yet.
    cut = -session.scalar(select(func.sum(models.LineCharge.amount)).where(models.LineCharge.amount < 0))
    assert cut > 0 and session.scalar(select(func.count()).select_from(models.Recovery)) == 0
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == -(approved_total(claim) - cut)
    clean(session)
    [item] = run_detail(client, cast.finance, run["id"])["payment_items"]
    returns(client, cast.finance, run["id"], [(item["id"], "paid", "", "B1", "2026-01-05")])
    [recovery] = session.scalars(select(models.Recovery)).all()
    assert (recovery.member_id, recovery.claim_id, recovery.amount) == ("M1", claim["id"], cut)
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0 and balance(session, ledger.RECOVERIES) == cut
    clean(session)


def test_a_reviewer_cannot_cut_an_approved_line(client, cast, session) -> None:
    claim = b.claim_for(client, cast.admin, "M1")
    entries = session.scalar(select(func.count()).select_from(models.JournalEntry))
    refused = b.review(client, cast.officer, claim["id"],
                       {"benefit": "MA_IP", "action": "adjust", "amount": "1.00", "note": "试图减少"}, expect=409)
    assert "not pended" in refused["detail"]
    assert session.scalar(select(func.count()).select_from(models.JournalEntry)) == entries
    assert client.get(f"/v1/claims/{claim['id']}", headers=b.auth(cast.admin)).json()["lines"] == claim["lines"]
