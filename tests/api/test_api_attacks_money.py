"""An attacker's pass over the money routes (funds, payment runs, the bank's files), both databases.

Each finding is refused with the field named, nothing is stored, and ``claims check``
stays clean: allocations of ten quadrillion yuan overflowed a pool's 64-bit total (a
500 on SQLite); a payment run's window ending 9999-12-31 or starting 0001-01-01 had
no midnight (a 500); a return file's reference in superscript digits passed
``isdigit`` and not ``int`` (a 500); and a bank could settle an item in year 1 or
9999, a day a report then counts as the payment's date; allocations could be booked
in year 1.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import consistency
from store import models
from tests.api.builders import YEAR, auth, claim_for
from tests.api.test_api_identity import refused
from tests.api.test_api_payments import exported_run, put_account, run_detail

MONEY = (models.ReliefAllocation, models.FundPool, models.JournalEntry, models.Posting, models.PaymentRun,
         models.PaymentItem, models.Recovery, models.AuditEntry)


def stored(session: Session) -> dict[str, int]:
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in MONEY}


def allocate(client, key: str, **fields):
    body = {"source": "central", "year": YEAR, "amount": "100.00", "reference": "CZ-1",
            "received_on": f"{YEAR}-01-02", **fields}
    return client.post("/v1/funds/allocations", json=body, headers=auth(key))


# ----------------------------------------------------------------------------- allocations


def test_an_allocation_too_large_for_any_fund_is_refused_naming_amount(client, cast, session) -> None:
    before = stored(session)
    refused(allocate(client, cast.finance, amount="9999999999999999.99"), 422, "amount")
    assert stored(session) == before


def test_allocations_that_would_overflow_a_pool_are_refused_naming_amount(client, cast, session) -> None:
    """Each below the cap, together beyond what a pool can hold: the one that would overflow is refused."""
    answers = [allocate(client, cast.finance, amount="100000000000.00", reference=f"CZ-{i}") for i in range(101)]
    assert all(a.status_code == 201 for a in answers[:100]), [a.text for a in answers if a.status_code != 201][:1]
    before = stored(session)
    refused(answers[100], 422, "amount")
    refused(allocate(client, cast.finance, amount="0.01", reference="CZ-X"), 422, "amount")
    assert stored(session) == before
    assert allocate(client, cast.finance, amount="0.01", reference="CZ-Y", year=YEAR - 1).status_code == 201
    assert consistency.check(session) == []


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31"])
def test_an_allocation_received_before_2000_is_refused_naming_received_on(client, cast, session, day) -> None:
    before = stored(session)
    refused(allocate(client, cast.finance, received_on=day), 422, "received_on")
    assert stored(session) == before


# ----------------------------------------------------------------------------- payment runs


@pytest.mark.parametrize(("window", "field"), [
    ({"decided_to": "9999-12-31"}, "decided_to"),
    ({"decided_from": "0001-01-01"}, "decided_from"),
    ({"decided_from": "0001-01-01", "decided_to": "9999-12-31"}, ["decided_from", "decided_to"]),
    ({"decided_from": "1999-12-31"}, "decided_from"),
    ({"decided_to": "2101-01-01"}, "decided_to"),
])
def test_a_run_window_beyond_any_plan_is_refused_naming_the_day(client, cast, session, window, field) -> None:
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    before = stored(session)
    answer = client.post("/v1/payment-runs", json=window, headers=auth(cast.finance))
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == (field if isinstance(field, list) else [field])
    assert stored(session) == before


def test_a_run_window_to_the_end_of_the_month_is_built(client, cast) -> None:
    """A window reaching past today (a finance officer types the month's end) is fine."""
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    answer = client.post("/v1/payment-runs", json={"decided_from": "2000-01-01", "decided_to": "2100-12-31"},
                         headers=auth(cast.finance))
    assert answer.status_code == 201, answer.text


# ----------------------------------------------------------------------------- the bank's return file


def post_returns(client, key: str, run_id: int, text: str):
    return client.post(f"/v1/payment-runs/{run_id}/returns", content=text.encode(),
                       headers={**auth(key), "Content-Type": "text/csv"})


@pytest.mark.parametrize("reference", ["²", "¹²", "①"])
def test_a_reference_in_digits_that_are_not_0_to_9_is_an_unknown_item_not_a_500(client, cast, session,
                                                                                  reference) -> None:
    run, _ = exported_run(client, cast)
    before = stored(session)
    refused(post_returns(client, cast.finance, run["id"],
                         f"reference,status,reason,bank_ref,date\r\n{reference},paid,,B1,2026-01-05\r\n"),
            422, "row 2.reference")
    assert stored(session) == before
    assert {i["status"] for i in run_detail(client, cast.finance, run["id"])["payment_items"]} == {"pending"}


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "9999-12-31", "2100-01-01"])
def test_a_bank_date_before_2000_or_in_the_future_is_refused_naming_the_row(client, cast, session, day) -> None:
    run, _ = exported_run(client, cast)
    item = run["payment_items"][0]["id"]
    before = stored(session)
    refused(post_returns(client, cast.finance, run["id"],
                         f"reference,status,reason,bank_ref,date\r\n{item},paid,,B1,{day}\r\n"), 422, "row 2.date")
    assert stored(session) == before
    assert run_detail(client, cast.finance, run["id"])["status"] == "exported"
    assert consistency.check(session) == []


# ----------------------------------------------------------------------------- payee accounts


@pytest.mark.parametrize(("fields", "field"), [
    ({"holder_name": " "}, "holder_name"),
    ({"holder_name": "\u3000"}, "holder_name"),  # the ideographic space: a blank payee in the bank file
    ({"bank_name": "  \u3000 "}, "bank_name"),
])
def test_a_blank_payee_or_bank_name_is_refused_and_nothing_stored(client, cast, session, fields, field) -> None:
    body = {"holder_name": "王秀英", "bank_name": "中国工商银行", "account_no": "6222021234567890123", **fields}
    before = stored(session), session.scalar(select(func.count()).select_from(models.PayeeAccount))
    refused(client.put("/v1/members/M1/payee-account", json=body, headers=auth(cast.admin)), 422, field)
    assert (stored(session), session.scalar(select(func.count()).select_from(models.PayeeAccount))) == before


def test_a_name_behind_spaces_is_stored_trimmed_so_the_bank_file_neutralises_its_formula(client, cast) -> None:
    """' =1+2' would reach the bank file as a cell no apostrophe guards; trimmed, it starts with '=' and is guarded."""
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1", holder=" =1+2 ", bank="\u3000@SUM(A1)")
    answer = client.get("/v1/members/M1/payee-account", headers=auth(cast.admin)).json()
    assert (answer["holder_name"], answer["bank_name"]) == ("=1+2", "@SUM(A1)")
    run = client.post("/v1/payment-runs", json={}, headers=auth(cast.finance)).json()
    assert client.post(f"/v1/payment-runs/{run['id']}/approve", headers=auth(cast.finance_checker)).status_code == 200
    text = client.get(f"/v1/payment-runs/{run['id']}/bank-file", headers=auth(cast.finance)).content.decode("utf-8-sig")
    row = text.splitlines()[1].split(",")
    assert (row[1], row[3]) == ("'=1+2", "'@SUM(A1)")


# ----------------------------------------------------------------------------- remittance advice


@pytest.mark.parametrize("then", ["draft", "approved", "cancelled"])
def test_no_advice_of_a_payment_the_bank_never_had_it_is_unknown(client, cast, then) -> None:
    """A remittance advice says what a payment paid: one of a draft, approved or cancelled run would be a
    printable paper for money never sent (the member's list already leaves those runs out)."""
    claim_for(client, cast.admin, "M1")
    put_account(client, cast.admin, "M1")
    run = client.post("/v1/payment-runs", json={}, headers=auth(cast.finance)).json()
    item = run_detail(client, cast.finance, run["id"])["payment_items"][0]["id"]
    if then != "draft":
        assert client.post(f"/v1/payment-runs/{run['id']}/approve", headers=auth(cast.finance_checker)).status_code == 200
    if then == "cancelled":
        assert client.post(f"/v1/payment-runs/{run['id']}/cancel", headers=auth(cast.finance)).status_code == 200
    for key in (cast.member, cast.officer, cast.finance, cast.admin):
        for url in (f"/v1/payment-items/{item}/advice", f"/v1/payment-items/{item}/advice.html"):
            answer = client.get(url, headers=auth(key))
            assert answer.status_code == 404, (url, answer.text[:200])


def test_the_advice_of_an_exported_item_is_read(client, cast) -> None:
    run, _ = exported_run(client, cast)
    item = run["payment_items"][0]["id"]
    assert client.get(f"/v1/payment-items/{item}/advice", headers=auth(cast.member)).json()["status"] == "pending"
