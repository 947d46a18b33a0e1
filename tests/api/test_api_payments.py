"""Paying members (funds.md §3): payee accounts, payment runs, the bank's files, recoveries, the ledger.

The cast: finance (R) makes runs over the region's tree, finance_checker (another
person of R) approves them; M1 and M2 are in U1 (under L1), M3 in U2 (under L2).
Claims are made through the API builders: a bill with B = 1,000.00 for ten days
approves MA_IP and MA_DA.
"""

from __future__ import annotations

import pytest

import codecs
import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.money import format_fen, parse_yuan
from service import consistency, ledger, payments
from service.auth import CLI
from store import models
from tests.api.builders import YEAR, auth, claim_for

ACCOUNTS = {"M1": "6222021234567890123", "M2": "6222029876543210987", "M3": "6217001111222233334"}


def put_account(client: TestClient, key: str, member: str, *, number: str | None = None, holder: str = "王秀英",
                bank: str = "中国工商银行呼和浩特分行", expect: int = 200) -> dict:
    answer = client.put(f"/v1/members/{member}/payee-account", headers=auth(key),
                        json={"holder_name": holder, "bank_name": bank, "account_no": number or ACCOUNTS[member]})
    assert answer.status_code == expect, answer.text
    return answer.json()


def build(client: TestClient, key: str, expect: int = 201, **body) -> dict:
    answer = client.post("/v1/payment-runs", json=body, headers=auth(key))
    assert answer.status_code == expect, answer.text
    return answer.json()


def approve(client: TestClient, key: str, run_id: int, expect: int = 200) -> dict:
    answer = client.post(f"/v1/payment-runs/{run_id}/approve", headers=auth(key))
    assert answer.status_code == expect, answer.text
    return answer.json()


def bank_rows(client: TestClient, key: str, run_id: int, encoding: str = "utf-8") -> list[dict]:
    answer = client.get(f"/v1/payment-runs/{run_id}/bank-file", params={"encoding": encoding}, headers=auth(key))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == f"text/csv; charset={encoding}"
    if encoding == "utf-8":
        assert answer.content.startswith(codecs.BOM_UTF8)
        text = answer.content.decode("utf-8-sig")
    else:
        text = answer.content.decode("gb18030")
    return list(csv.DictReader(io.StringIO(text)))


def returns(client: TestClient, key: str, run_id: int, rows: list[tuple], expect: int = 200, encoding: str = "utf-8"):
    text = "reference,status,reason,bank_ref,date\r\n" + "".join(",".join(map(str, r)) + "\r\n" for r in rows)
    answer = client.post(f"/v1/payment-runs/{run_id}/returns", content=text.encode(encoding),
                         headers={**auth(key), "Content-Type": "text/csv"})
    assert answer.status_code == expect, answer.text
    return answer.json()


def run_detail(client: TestClient, key: str, run_id: int) -> dict:
    answer = client.get(f"/v1/payment-runs/{run_id}", headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer.json()


def approved_total(claim: dict) -> int:
    return sum(parse_yuan(ln["amount"]) for ln in claim["lines"] if ln["status"] == "approved")


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def exported_run(client: TestClient, cast, members=("M1",)) -> tuple[dict, dict[str, dict]]:
    """Claims for the members, accounts, a run made by finance, approved by finance_checker, exported."""
    made = {m: claim_for(client, cast.admin, m) for m in members}
    for m in members:
        put_account(client, cast.admin, m)
    run = build(client, cast.finance)
    approve(client, cast.finance_checker, run["id"])
    bank_rows(client, cast.finance, run["id"])
    return run_detail(client, cast.finance, run["id"]), made


# ----------------------------------------------------------------------------- payee accounts


def test_a_payee_account_is_masked_in_every_answer_and_in_the_audit_log(client, cast, session) -> None:
    put = put_account(client, cast.member, "M1")
    assert put["account_no"] == "****0123" and put["active"]
    for key in (cast.member, cast.officer, cast.officer_league, cast.finance, cast.finance_league, cast.admin):
        read = client.get("/v1/members/M1/payee-account", headers=auth(key))
        assert read.status_code == 200 and read.json()["account_no"] == "****0123", read.text
    logged = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "payee_account.changed")).all()
    assert len(logged) == 1 and logged[0].details["account_no"] == "****0123"
    assert ACCOUNTS["M1"] not in str([e.details for e in session.scalars(select(models.AuditEntry))])


def test_a_new_account_deactivates_the_old_one_which_is_kept(client, cast, session) -> None:
    first = put_account(client, cast.officer, "M1")
    second = put_account(client, cast.officer, "M1", number="6222020000000000001")
    again = put_account(client, cast.officer, "M1", number="6222020000000000001")  # the same: nothing changes
    assert second["id"] != first["id"] and again["id"] == second["id"]
    rows = session.scalars(select(models.PayeeAccount).where(models.PayeeAccount.member_id == "M1")
                           .order_by(models.PayeeAccount.id)).all()
    assert [(r.account_no, r.active) for r in rows] == [(ACCOUNTS["M1"], False), ("6222020000000000001", True)]
    changes = select(func.count()).select_from(models.AuditEntry).where(models.AuditEntry.action == "payee_account.changed")
    assert session.scalar(changes) == 2
    # The database itself holds one active account a member.
    try:
        session.execute(insert(models.PayeeAccount).values(member_id="M1", holder_name="x", bank_name="x",
                                                           account_no="1234567890", active=True, created_by="test"))
    except IntegrityError:
        pass
    else:
        raise AssertionError("a second active account was stored")


def test_a_bad_account_number_is_refused_with_the_field_named_and_nothing_stored(client, cast, session) -> None:
    for number in ("62220212345678A", "123456789", "1" * 31, "6222 0212 3456 7890", "６２２２０２１２３４５６７８９０"):
        answer = client.put("/v1/members/M1/payee-account", headers=auth(cast.admin),
                            json={"holder_name": "王秀英", "bank_name": "工行", "account_no": number})
        assert answer.status_code == 422, number
        assert any("account_no" in str(e) for e in answer.json()["errors"]), answer.text
    assert count(session, models.PayeeAccount) == 0


def test_who_may_change_and_read_a_payee_account(client, cast) -> None:
    put_account(client, cast.admin, "M1")
    # Finance reads, never writes; other unions' officers and finance, and colleagues, see no such member.
    assert client.put("/v1/members/M1/payee-account", headers=auth(cast.finance),
                      json={"holder_name": "x", "bank_name": "y", "account_no": "1234567890"}).status_code == 403
    for key in (cast.officer_other, cast.officer_county, cast.member_other, cast.finance_other):
        answer = client.get("/v1/members/M1/payee-account", headers=auth(key))
        assert answer.status_code == 404 and answer.json()["detail"] == "no member M1", key
    assert client.get("/v1/members/M1/payee-account", headers=auth(cast.hospital)).status_code == 403


def test_an_account_does_not_change_while_an_item_is_with_the_bank(client, cast, session) -> None:
    run, _ = exported_run(client, cast)
    before = count(session, models.PayeeAccount)
    put_account(client, cast.member, "M1", number="6222020000000000009", expect=409)
    assert count(session, models.PayeeAccount) == before
    item = run["payment_items"][0]
    returns(client, cast.finance, run["id"], [(item["id"], "paid", "", "B1", "2026-01-05")])
    put_account(client, cast.member, "M1", number="6222020000000000009")  # settled: it may change now


# ----------------------------------------------------------------------------- a run from draft to closed


def test_a_run_pays_each_member_their_lines_once_through_the_bank_files(client, cast, session) -> None:
    c1, c3 = claim_for(client, cast.admin, "M1"), claim_for(client, cast.admin, "M3")
    claim_for(client, cast.admin, "M2")  # M2 has no payee account: left out
    put_account(client, cast.member, "M1")
    put_account(client, cast.officer_other, "M3")
    run = build(client, cast.finance)
    assert run["status"] == "draft" and run["item_count"] == 2
    assert [(x["member_id"], x["why"]) for x in run["left_out"]] == [("M2", "no_payee_account")]
    assert parse_yuan(run["total"]) == approved_total(c1) + approved_total(c3)
    detail = run_detail(client, cast.finance, run["id"])
    items = {i["member_id"]: i for i in detail["payment_items"]}
    assert parse_yuan(items["M1"]["amount"]) == approved_total(c1) and items["M1"]["account_no"] == "****0123"
    assert {ln["claim_id"] for ln in items["M1"]["lines"]} == {c1["id"]}
    assert client.get(f"/v1/claims/{c1['id']}", headers=auth(cast.member)).json()["payment_status"] == "in_run"

    # Nothing is left to pay but M2's, who has no account: a second run makes no item.
    assert "M2 (no_payee_account)" in build(client, cast.finance, expect=409)["detail"]

    # The bank file waits for the checker's approval.
    assert client.get(f"/v1/payment-runs/{run['id']}/bank-file", headers=auth(cast.finance)).status_code == 409
    refused = approve(client, cast.finance, run["id"], expect=403)
    assert "maker" in refused["detail"]
    assert approve(client, cast.finance_checker, run["id"])["status"] == "approved"
    approve(client, cast.finance_checker, run["id"], expect=409)  # twice: it is no draft any more

    rows = bank_rows(client, cast.finance, run["id"])
    assert list(rows[0]) == list(payments.BANK_FILE_COLUMNS)
    by_ref = {int(r["reference"]): r for r in rows}
    assert by_ref[items["M1"]["id"]]["account_no"] == ACCOUNTS["M1"]  # whole only here
    assert by_ref[items["M1"]["id"]]["amount"] == items["M1"]["amount"] and rows[0]["currency"] == "CNY"
    assert [r["seq"] for r in rows] == ["1", "2"]
    assert run_detail(client, cast.finance, run["id"])["status"] == "exported"
    gb = bank_rows(client, cast.finance, run["id"], encoding="gb18030")  # again, in GB18030
    assert gb == rows
    # Exported: no longer cancelled.
    assert client.post(f"/v1/payment-runs/{run['id']}/cancel", headers=auth(cast.finance)).status_code == 409

    file = [(items["M1"]["id"], "paid", "", "BK001", "2026-01-05"),
            (items["M3"]["id"], "returned", "账户已销户", "BK002", "2026/1/5")]
    entries = count(session, models.JournalEntry)
    assert returns(client, cast.finance, run["id"], file) == {"paid": 1, "returned": 1, "unchanged": 0,
                                                               "run_status": "closed"}
    assert count(session, models.JournalEntry) == entries + 1  # M1's payment; M3 was never paid
    audit_before = count(session, models.AuditEntry)
    again = returns(client, cast.finance, run["id"], file)  # the same file twice changes nothing
    assert again == {"paid": 0, "returned": 0, "unchanged": 2, "run_status": "closed"}
    assert count(session, models.JournalEntry) == entries + 1 and count(session, models.AuditEntry) == audit_before

    settled = {i["member_id"]: i for i in run_detail(client, cast.finance, run["id"])["payment_items"]}
    assert settled["M3"]["status"] == "returned" and settled["M3"]["reason"] == "账户已销户"
    assert client.get(f"/v1/claims/{c1['id']}", headers=auth(cast.member)).json()["payment_status"] == "paid"
    assert client.get(f"/v1/claims/{c3['id']}", headers=auth(cast.admin)).json()["payment_status"] == "returned"
    listed = client.get("/v1/claims", headers=auth(cast.admin)).json()["items"]
    assert {c["id"]: c["payment_status"] for c in listed}[c1["id"]] == "paid"

    # The ledger: per line, debit payable and credit the line's bank account, with member, claim and line.
    paid = session.scalars(select(models.Posting).join(models.JournalEntry)
                           .where(models.JournalEntry.event == payments.PAID)).all()
    assert sum(p.amount for p in paid) == 0
    payable = [p for p in paid if p.account == ledger.PAYABLE_MEMBERS]
    assert sum(p.amount for p in payable) == approved_total(c1)
    assert {(p.member_id, p.claim_id) for p in payable} == {("M1", c1["id"])}
    assert all(p.line_id for p in paid) and {p.account for p in paid} == {ledger.PAYABLE_MEMBERS, ledger.BANK_MUTUAL_AID}

    # M3's returned lines are payable again: the next run pays them (a new account first).
    put_account(client, cast.admin, "M3", number="6217009999888877776")
    rerun = build(client, cast.finance_checker)
    assert [i["member_id"] for i in run_detail(client, cast.admin, rerun["id"])["payment_items"]] == ["M3"]
    assert parse_yuan(rerun["total"]) == approved_total(c3)
    assert [p for p in consistency.check(session) if "line" in p or "payable" in p] == []


def test_a_paid_item_the_bank_returns_later_is_reversed_in_the_ledger(client, cast, session) -> None:
    run, made = exported_run(client, cast)
    item = run["payment_items"][0]
    returns(client, cast.finance, run["id"], [(item["id"], "paid", "", "B1", "2026-01-05")])
    answer = returns(client, cast.finance, run["id"], [(item["id"], "returned", "户名不符", "B1", "2026-01-09")])
    assert answer["returned"] == 1
    balance = session.scalar(select(func.sum(models.Posting.amount)).where(
        models.Posting.account == ledger.PAYABLE_MEMBERS, models.Posting.member_id == "M1"))
    # Paid, then reversed: the member is owed again what the approval booked (funds' line.charged).
    assert balance == -approved_total(made["M1"]) != 0
    reversal = session.scalar(select(models.JournalEntry).where(models.JournalEntry.event == payments.PAID_RETURNED))
    assert reversal is not None and reversal.reverses_id == item_entry(session, item["id"])
    # A returned item is not paid again by a file: its lines go in a new run.
    refused = returns(client, cast.finance, run["id"], [(item["id"], "paid", "", "B1", "2026-01-10")], expect=422)
    assert refused["errors"][0]["field"] == "row 2.status"
    assert build(client, cast.finance)["item_count"] == 1
    assert payments.check(session) == []


def item_entry(session: Session, item_id: int) -> int:
    return session.scalar(select(models.PaymentItem.entry_id).where(models.PaymentItem.id == item_id))


def test_cancelling_a_run_frees_its_lines(client, cast, session) -> None:
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    run = build(client, cast.finance)
    approve(client, cast.admin, run["id"])  # an administrator is a checker too
    cancelled = client.post(f"/v1/payment-runs/{run['id']}/cancel", headers=auth(cast.finance))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/v1/payment-runs/{run['id']}/cancel", headers=auth(cast.finance)).status_code == 409
    assert count(session, models.LiveLineClaim) == 0
    again = build(client, cast.finance)
    assert again["total"] == run["total"]
    assert client.get(f"/v1/payment-runs/{run['id']}/bank-file", headers=auth(cast.finance)).status_code == 409


def test_a_line_is_never_held_by_two_live_items_the_database_refuses_it(client, cast, session) -> None:
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    run = build(client, cast.finance)
    held = session.execute(select(models.LiveLineClaim)).scalars().first()
    try:
        session.execute(insert(models.LiveLineClaim).values(line_id=held.line_id, item_id=held.item_id, run_id=run["id"]))
    except IntegrityError:
        pass
    else:
        raise AssertionError("a line was claimed twice")


def test_a_run_is_built_for_a_union_and_a_window_of_decision_dates(client, cast) -> None:
    claim_for(client, cast.admin, "M1")
    claim_for(client, cast.admin, "M3")
    put_account(client, cast.admin, "M1")
    put_account(client, cast.admin, "M3")
    assert build(client, cast.finance, decided_to="2000-01-01", expect=409)
    bad = build(client, cast.finance, decided_from="2026-02-01", decided_to="2026-01-01", expect=422)
    assert bad["errors"][0]["field"] == "decided_to"
    league = build(client, cast.finance_league)  # L1's tree: U1 only
    assert [i["member_id"] for i in run_detail(client, cast.finance_league, league["id"])["payment_items"]] == ["M1"]
    assert build(client, cast.admin, expect=422)["errors"][0]["field"] == "union_id"
    assert build(client, cast.admin, union_id="U2")["item_count"] == 1


# ----------------------------------------------------------------------------- attackers


def test_another_unions_finance_cannot_see_or_touch_a_run(client, cast, session) -> None:
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    run = build(client, cast.finance_league)  # L1's run
    for method, path in (("GET", ""), ("POST", "/approve"), ("POST", "/cancel"), ("GET", "/bank-file"),
                         ("POST", "/returns")):
        answer = client.request(method, f"/v1/payment-runs/{run['id']}{path}", headers=auth(cast.finance_other),
                                content=b"reference,status,reason,bank_ref,date\r\n")
        assert answer.status_code == 404 and answer.json()["detail"] == f"no payment run {run['id']}", (path, answer.text)
    assert client.get("/v1/payment-runs", headers=auth(cast.finance_other)).json()["total"] == 0
    # Nor build one over another tree.
    assert build(client, cast.finance_league, union_id="U2", expect=404)["detail"] == "no union U2"
    for key in (cast.officer, cast.member, cast.hospital):
        assert client.get(f"/v1/payment-runs/{run['id']}", headers=auth(key)).status_code == 403
    assert run_detail(client, cast.finance_league, run["id"])["status"] == "draft"


def test_a_return_file_naming_an_item_of_another_run_is_refused_and_stores_nothing(client, cast, session) -> None:
    first, _ = exported_run(client, cast, members=("M1",))
    second, _ = exported_run(client, cast, members=("M3",))
    other = second["payment_items"][0]["id"]
    mine = first["payment_items"][0]["id"]
    entries = count(session, models.JournalEntry)  # the members' contributions are already in the ledger
    refused = returns(client, cast.finance, first["id"], [(mine, "paid", "", "B1", "2026-01-05"),
                                                          (other, "paid", "", "B2", "2026-01-05"),
                                                          (mine, "paid", "", "B1", "2026-01-05"),
                                                          ("", "lost", "", "", "yesterday")], expect=422)
    assert [e["field"] for e in refused["errors"]] == ["row 3.reference", "row 4.reference", "row 5.reference"]
    assert {i.status for i in session.scalars(select(models.PaymentItem))} == {"pending"}
    assert count(session, models.JournalEntry) == entries
    bad = returns(client, cast.finance, first["id"], [(mine, "lost", "", "", "2026-01-05")], expect=422)
    assert bad["errors"][0]["field"] == "row 2.status"
    bad = returns(client, cast.finance, first["id"], [(mine, "returned", "", "", "2026-01-05")], expect=422)
    assert bad["errors"][0]["field"] == "row 2.reason"
    bad = returns(client, cast.finance, first["id"], [(mine, "paid", "", "", "2026-13-05")], expect=422)
    assert bad["errors"][0]["field"] == "row 2.date"
    header = client.post(f"/v1/payment-runs/{first['id']}/returns", content=b"ref,state\r\n1,paid\r\n",
                         headers={**auth(cast.finance), "Content-Type": "text/csv"})
    assert header.status_code == 422 and header.json()["errors"][0]["field"] == "header"


@pytest.mark.parametrize("spelled", ["0{id}", "00{id}", "{id}.0", "+{id}", "٠{id}"])
def test_a_return_row_naming_an_item_otherwise_than_the_bank_file_did_is_refused(client, cast, session,
                                                                                 spelled) -> None:
    """The reference is the item's id as the bank file wrote it: 07 is not item 7 (one spelling, store.row_ids)."""
    run, _ = exported_run(client, cast, members=("M1",))
    item = run["payment_items"][0]["id"]
    entries = count(session, models.JournalEntry)
    refused = returns(client, cast.finance, run["id"], [(spelled.format(id=item), "paid", "", "B1", "2026-01-05")],
                      expect=422)
    assert [e["field"] for e in refused["errors"]] == ["row 2.reference"]
    assert {i.status for i in session.scalars(select(models.PaymentItem))} == {"pending"}
    assert count(session, models.JournalEntry) == entries
    day = returns(client, cast.finance, run["id"], [(item, "paid", "", "B1", "٢٠٢٦-01-05")], expect=422)
    assert [e["field"] for e in day["errors"]] == ["row 2.date"]
    assert returns(client, cast.finance, run["id"], [(item, "paid", "", "B1", "2026-01-05")])["paid"] == 1


def test_a_return_file_saved_by_excel_in_gbk_is_read(client, cast) -> None:
    run, _ = exported_run(client, cast)
    item = run["payment_items"][0]["id"]
    answer = returns(client, cast.finance, run["id"], [(item, "returned", "账户冻结", "BK9", "2026-01-05")],
                     encoding="gbk")
    assert answer["returned"] == 1
    assert run_detail(client, cast.finance, run["id"])["payment_items"][0]["reason"] == "账户冻结"


def test_a_return_file_before_the_export_is_refused(client, cast) -> None:
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    run = build(client, cast.finance)
    assert client.post(f"/v1/payment-runs/{run['id']}/returns", content=b"reference,status,reason,bank_ref,date\r\n",
                       headers={**auth(cast.finance), "Content-Type": "text/csv"}).status_code == 409


def test_no_cell_of_the_bank_file_starts_a_formula(client, cast) -> None:
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1", holder='=HYPERLINK("http://evil.example","点我")', bank="@SUM(A1)")
    run = build(client, cast.finance)
    approve(client, cast.finance_checker, run["id"])
    rows = bank_rows(client, cast.finance, run["id"])
    assert rows[0]["payee_name"] == '\'=HYPERLINK("http://evil.example","点我")' and rows[0]["bank_name"] == "'@SUM(A1)"
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_the_maker_cannot_approve_even_as_an_administrator(client, cast) -> None:
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    run = build(client, cast.admin, union_id="R")
    assert "maker" in approve(client, cast.admin, run["id"], expect=403)["detail"]
    approve(client, cast.finance, run["id"])


# ----------------------------------------------------------------------------- recoveries


def pay_less_from_now_on(client: TestClient, cast) -> dict:
    """Publish a version paying MA_IP's first band at 20% instead of 40% and re-adjudicate this year's claims."""
    default = client.get("/v1/plans", headers=auth(cast.admin)).json()["items"][0]
    draft = client.post(f"/v1/plans/{default['id']}/derive", headers=auth(cast.admin), json={
        "patch": [{"op": "replace", "path": "/benefits/0/amount/bands/0/rate", "value": "0.20"}]})
    assert draft.status_code == 201, draft.text
    published = client.post(f"/v1/plans/{draft.json()['id']}/publish", json={"effective_from": f"{YEAR}-01-01"},
                            headers=auth(cast.admin))
    assert published.status_code == 200, published.text
    report = client.post("/v1/readjudications", json={"submitted_from": f"{YEAR}-01-01"}, headers=auth(cast.admin))
    assert report.status_code == 200, report.text
    return report.json()


def pay(client: TestClient, cast) -> dict:
    """A run over everything payable, approved by the checker, exported and paid by the bank: its item."""
    run = build(client, cast.finance)
    approve(client, cast.finance_checker, run["id"])
    bank_rows(client, cast.finance, run["id"])
    [item] = run_detail(client, cast.finance, run["id"])["payment_items"]
    returns(client, cast.finance, run["id"], [(item["id"], "paid", "", f"B{item['id']}", "2026-01-05")])
    return item


def balance(session: Session, account: str, member: str | None = None) -> int:
    query = select(func.sum(models.Posting.amount)).where(models.Posting.account == account)
    if member:
        query = query.where(models.Posting.member_id == member)
    return session.scalar(query) or 0


def test_a_line_re_adjudicated_lower_after_it_was_paid_is_recovered_and_netted_first(client, cast, session) -> None:
    c1 = claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    paid = pay(client, cast)
    assert parse_yuan(paid["amount"]) == approved_total(c1)
    assert pay_less_from_now_on(client, cast)["adjustments"] == 1
    # The recovery: the paid part of the cut, in the cut's own entry (debit recoveries, credit the expense).
    [recovery] = session.scalars(select(models.Recovery)).all()
    ma_ip = next(ln for ln in paid["lines"] if ln["benefit"] == "MA_IP")
    cut = -session.scalar(select(func.sum(models.LineCharge.amount)).where(
        models.LineCharge.line_id == ma_ip["line_id"], models.LineCharge.amount < 0))
    assert cut > 0 and (recovery.member_id, recovery.claim_id, recovery.line_id, recovery.amount, recovery.item_id) == (
        "M1", c1["id"], ma_ip["line_id"], cut, None)
    released = session.scalars(select(models.JournalEntry).where(models.JournalEntry.event == "line.released")).one()
    legs = {(p.account, p.amount, p.line_id) for p in session.scalars(
        select(models.Posting).where(models.Posting.entry_id == released.id))}
    assert legs == {(ledger.benefit_expense_account("MA_IP"), -cut, ma_ip["line_id"]),
                    (ledger.RECOVERIES, cut, ma_ip["line_id"])}  # nothing off payable: it was all paid
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0 and balance(session, ledger.RECOVERIES) == cut
    assert consistency.check(session) == []
    # The cut line is not paid again, and nothing is left to pay M1 but what they owe.
    assert "no approved line" in build(client, cast.finance, expect=409)["detail"]

    # The member's next claim: the run nets the recovery first and the bank pays the rest.
    c2 = claim_for(client, cast.admin, "M1", begndate=f"{YEAR}-03-01", enddate=f"{YEAR}-03-11")
    run = build(client, cast.finance)
    item = run_detail(client, cast.finance, run["id"])["payment_items"][0]
    assert (parse_yuan(item["gross"]), parse_yuan(item["netted"])) == (approved_total(c2), cut)
    assert parse_yuan(item["amount"]) == approved_total(c2) - cut
    assert session.scalar(select(models.Recovery.item_id)) == item["id"]
    approve(client, cast.finance_checker, run["id"])
    assert bank_rows(client, cast.finance, run["id"])[0]["amount"] == item["amount"]
    returns(client, cast.finance, run["id"], [(item["id"], "paid", "", "B2", "2026-01-05")])
    assert balance(session, ledger.RECOVERIES) == 0  # recorded (+cut), netted (-cut)
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0
    assert consistency.check(session) == []


def test_a_member_owing_more_than_they_are_owed_gets_no_item(client, cast, session, db) -> None:
    c1 = claim_for(client, cast.admin, "M1")
    claim_for(client, cast.admin, "M3")
    put_account(client, cast.admin, "M1")
    put_account(client, cast.admin, "M3")
    from store.db import session_factory

    with session_factory(db)() as s:
        payments.record_recovery(s, CLI, "M1", None, None, approved_total(c1) + 1, "结算撤销")
        s.commit()
    run = build(client, cast.finance)
    assert [(x["member_id"], x["why"]) for x in run["left_out"]] == [("M1", "recoveries_exceed_payable")]
    assert [i["member_id"] for i in run_detail(client, cast.finance, run["id"])["payment_items"]] == ["M3"]
    assert session.scalar(select(models.Recovery.item_id)) is None  # still open


# ----------------------------------------------------------------------------- advice


def test_the_member_reads_their_remittance_advice_in_chinese_and_english(client, cast) -> None:
    run, made = exported_run(client, cast, members=("M1", "M2"))
    items = {i["member_id"]: i for i in run["payment_items"]}
    returns(client, cast.finance, run["id"], [(i["id"], "paid", "", "BK1", "2026-01-05") for i in items.values()])
    advice = client.get(f"/v1/payment-items/{items['M1']['id']}/advice", headers=auth(cast.member))
    assert advice.status_code == 200, advice.text
    body = advice.json()
    assert body["member_id"] == "M1" and body["account_no"] == "****0123" and body["status"] == "paid"
    lines = body["claims"][0]["lines"]
    assert body["claims"][0]["claim_id"] == made["M1"]["id"]
    assert sum(parse_yuan(ln["amount"]) for ln in lines) == approved_total(made["M1"])
    assert all(ln["name_zh"] and ln["name_en"] for ln in lines)
    page = client.get(f"/v1/payment-items/{items['M1']['id']}/advice", params={"format": "html"}, headers=auth(cast.member))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "互助保障金支付通知" in page.text and "Remittance advice" in page.text and "****0123" in page.text
    assert ACCOUNTS["M1"] not in page.text
    assert client.get(f"/v1/payment-items/{items['M1']['id']}/advice.html", headers=auth(cast.officer)).text == page.text
    # A colleague, another union's officer or finance: no such item.
    for key in (cast.member_other, cast.officer_other, cast.finance_other):
        answer = client.get(f"/v1/payment-items/{items['M1']['id']}/advice", headers=auth(key))
        assert answer.status_code == 404 and answer.json()["detail"] == f"no payment item {items['M1']['id']}"
    assert client.get(f"/v1/payment-items/{items['M1']['id']}/advice", headers=auth(cast.finance)).status_code == 200


def test_the_advice_page_escapes_what_people_typed(client, cast) -> None:
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1", holder="<script>alert(1)</script>", bank='工行"><img src=x onerror=alert(2)>')
    run = build(client, cast.finance)
    approve(client, cast.finance_checker, run["id"])
    bank_rows(client, cast.finance, run["id"])  # an advice is of a payment that reached the bank
    item = run_detail(client, cast.finance, run["id"])["payment_items"][0]
    page = client.get(f"/v1/payment-items/{item['id']}/advice.html", headers=auth(cast.member)).text
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page


# ----------------------------------------------------------------------------- claims check


def test_claims_check_finds_a_line_paid_twice_and_a_ledger_that_disagrees(client, cast, session) -> None:
    run, made = exported_run(client, cast)
    item = run["payment_items"][0]
    returns(client, cast.finance, run["id"], [(item["id"], "paid", "", "B1", "2026-01-05")])
    assert payments.check(session) == []
    # Behind the service's back: a second run paying the same line again.
    line = item["lines"][0]
    run_id = session.execute(insert(models.PaymentRun).values(
        union_id="R", status="closed", total=0, item_count=1, made_by="sql").returning(models.PaymentRun.id)).scalar_one()
    account = session.scalar(select(models.PayeeAccount.id))
    twin = session.execute(insert(models.PaymentItem).values(
        run_id=run_id, member_id="M1", payee_account_id=account, gross=parse_yuan(line["amount"]), netted=0,
        amount=parse_yuan(line["amount"]), status="paid", reason="", bank_ref="").returning(models.PaymentItem.id)).scalar_one()
    session.execute(insert(models.PaymentItemLine).values(item_id=twin, line_id=line["line_id"], claim_id=line["claim_id"],
                                                          amount=parse_yuan(line["amount"])))
    found = payments.check(session)
    assert any(f"line {line['line_id']}: paid" in p for p in found), found
    assert any("member M1: the ledger booked" in p for p in found), found


def test_payable_per_the_ledger_is_approved_less_paid_once_approvals_are_booked(client, cast, session) -> None:
    run, made = exported_run(client, cast)
    item = run["payment_items"][0]
    # The approval is booked with the claim (funds' line.charged): the member is owed the approved lines.
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == -approved_total(made["M1"]) != 0
    assert payments.check(session) == []
    returns(client, cast.finance, run["id"], [(item["id"], "paid", "", "B1", "2026-01-05")])
    assert balance(session, ledger.PAYABLE_MEMBERS, "M1") == 0
    assert payments.check(session) == []
    # A payment booked without its item: the ledger and the items disagree.
    with Session(session.get_bind()) as s:
        ledger.post(s, payments.PAID, [ledger.Leg(ledger.PAYABLE_MEMBERS, 100, member_id="M1"),
                                       ledger.Leg(ledger.BANK_MUTUAL_AID, -100, member_id="M1")], ref="forged")
        s.commit()
    found = payments.check(session)
    assert any("member M1: payable per the ledger" in p for p in found), found
    # And an approval booked without its line (payable credited behind the service): found as well.
    with Session(session.get_bind()) as s:
        ledger.post(s, "line.charged", [ledger.Leg(ledger.benefit_expense_account("MA_IP"), 100, member_id="M2"),
                                        ledger.Leg(ledger.PAYABLE_MEMBERS, -100, member_id="M2")], ref="forged")
        s.commit()
    assert any("member M2: payable per the ledger 1.00" in p for p in payments.check(session))


def test_paid_amounts_are_what_paid_items_carry_of_a_line(client, cast, session) -> None:
    run, made = exported_run(client, cast)
    line = run["payment_items"][0]["lines"][0]
    assert payments.paid_amounts(session, [line["line_id"]]) == {}  # with the bank, not paid yet
    returns(client, cast.finance, run["id"], [(run["payment_items"][0]["id"], "paid", "", "B1", "2026-01-05")])
    paid = payments.paid_amounts(session, [line["line_id"]])
    assert paid == {line["line_id"]: parse_yuan(line["amount"])} and type(paid[line["line_id"]]) is int
