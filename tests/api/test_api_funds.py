"""Relief funds: allocations, the charge of each approved line by source, exhaustion and re-decision.

The cast's M1 and M2 are members of U1, under the league L1. With a verified dibao
registration and a lung-cancer bill of B = 1,000.05 yuan, MA_IP pays 40% of B = 400.02
and CIR 90% of what is left (600.03) = 540.03: split 50/30/20 it is 270.015 -> 270.02,
162.009 -> 162.01 and 108.006 -> 108.01, one fen too many, which the first source
(central) gives back: 270.01 + 162.01 + 108.01 = 540.03.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.money import format_fen, parse_yuan
from service import consistency, ledger
from store import models
from tests.api import builders as b

B = "1000.05"
CIR = 54003  # fen, as above
SHARES = {"central": 27001, "region": 16201, "league": 10801}


def _hardship(client, cast, *members: str, verified: bool = True) -> None:
    for member in members:
        b.register_hardship(client, cast.officer, member, category="dibao", verified=verified)


def _cancer_claim(client, cast, member: str = "M1", submitted_on: str = b.SUBMITTED, **bill) -> dict:
    posted = b.post_settlement(client, cast.admin, patient=member, **{"b": B, "diag_code": b.LUNG_CANCER, **bill})
    return b.submit_claim(client, cast.admin, member, posted["id"], submitted_on=submitted_on)


def _charges(session: Session, claim_id: int) -> dict[tuple[str, str | None], int]:
    c = models.LineCharge
    rows = session.execute(select(c.benefit, c.source, func.sum(c.amount)).where(c.claim_id == claim_id)
                           .group_by(c.benefit, c.source))
    return {(benefit, source): int(fen) for benefit, source, fen in rows if fen}


def _pool(session: Session, source: str, league: str = "") -> tuple[int, int]:
    p = models.FundPool
    row = session.execute(select(p.allocated, p.charged).where(p.source == source, p.fund_year == b.YEAR,
                                                                 p.league_id == league)).first()
    return (row[0], row[1]) if row else (0, 0)


def _balanced(session: Session) -> None:
    """Every journal entry adds up to zero, and claims check finds nothing wrong."""
    p = models.Posting
    assert session.execute(select(p.entry_id).group_by(p.entry_id).having(func.sum(p.amount) != 0)).all() == []
    assert consistency.check(session) == []


def _counts(session: Session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (
        models.ReliefAllocation, models.FundPool, models.JournalEntry, models.Posting, models.AuditEntry))


def _all_sources(client, cast, amount: str = "100000.00") -> None:
    for source in ("central", "region", "charity"):
        b.allocate(client, cast.finance, source, amount)
    b.allocate(client, cast.finance, "league", amount, league_id="L1")


# ----------------------------------------------------------------------------- the split


def test_a_relief_line_is_split_by_source_to_the_fen_the_remainder_to_the_first_source(client, cast, session):
    _hardship(client, cast, "M1")
    _all_sources(client, cast)
    claim = _cancer_claim(client, cast)
    cir = b.line(claim, "CIR")
    assert (cir["status"], cir["amount"]) == ("approved", "540.03")
    charges = _charges(session, claim["id"])
    assert {s: fen for (benefit, s), fen in charges.items() if benefit == "CIR"} == SHARES
    assert charges[("MA_IP", None)] == 40002  # mutual aid: one pool, the whole line
    assert _pool(session, "central") == (10_000_000, 27001)
    assert _pool(session, "league", "L1") == (10_000_000, 10801)

    # The ledger: the line's expense per source with its fund dimensions, owed to the member.
    line_id = session.scalar(select(models.DecisionLine.id).where(models.DecisionLine.claim_id == claim["id"],
                                                                  models.DecisionLine.benefit == "CIR"))
    # One entry for the claim's lines; each leg names its line.
    entry = session.scalars(select(models.JournalEntry).where(models.JournalEntry.ref == f"claim:{claim['id']}")).one()
    assert entry.event == "line.charged"
    legs = {(p.account, p.amount, p.fund_source, p.fund_year, p.league_id, p.member_id, p.claim_id, p.line_id)
            for p in session.scalars(select(models.Posting).where(models.Posting.entry_id == entry.id,
                                                                  models.Posting.line_id == line_id))}
    assert legs == {
        ("Expenses:Benefits:CIR:Central", 27001, "central", b.YEAR, None, None, claim["id"], line_id),
        ("Expenses:Benefits:CIR:Region", 16201, "region", b.YEAR, None, None, claim["id"], line_id),
        ("Expenses:Benefits:CIR:League", 10801, "league", b.YEAR, "L1", None, claim["id"], line_id),
        (ledger.PAYABLE_MEMBERS, -CIR, None, None, None, "M1", claim["id"], line_id),
    }
    _balanced(session)


def test_a_source_that_cannot_cover_its_share_passes_the_rest_to_charity(client, cast, session):
    _hardship(client, cast, "M1")
    b.allocate(client, cast.finance, "central", "100000.00")
    b.allocate(client, cast.finance, "region", "100.00")  # 162.01 due: 62.01 passes on
    b.allocate(client, cast.finance, "charity", "170.02")  # 62.01 + L1's 108.01 (no league money)
    claim = _cancer_claim(client, cast)
    assert b.line(claim, "CIR")["status"] == "approved"
    charges = _charges(session, claim["id"])
    assert {s: fen for (benefit, s), fen in charges.items() if benefit == "CIR"} == {
        "central": 27001, "region": 10000, "charity": 6201 + 10801}
    assert _pool(session, "charity") == (17002, 17002)
    assert _pool(session, "region") == (10000, 10000)
    _balanced(session)


# ----------------------------------------------------------------------------- exhaustion


def test_when_charity_cannot_cover_either_the_line_waits_and_reserves_nothing(client, cast, session):
    _hardship(client, cast, "M1")
    b.allocate(client, cast.finance, "central", "100000.00")
    b.allocate(client, cast.finance, "charity", "270.01")  # one fen short of region + league
    claim = _cancer_claim(client, cast)
    cir = b.line(claim, "CIR")
    assert (claim["status"], cir["status"], cir["amount"], b.codes(cir)) == ("pended", "pended", "540.03",
                                                                             ["FUND_EXHAUSTED"])
    assert cir["reasons"][0]["zh"] == "资金额度不足，待拨付后支付"
    assert "funds are allocated" in cir["explanation_en"]
    assert b.line(claim, "MA_IP")["status"] == "approved"  # mutual aid never waits
    assert ("CIR", "central") not in _charges(session, claim["id"])
    assert _pool(session, "central") == (10_000_000, 0) and _pool(session, "charity") == (27001, 0)
    # Pended for funds, it still holds its share of the member's yearly relief cap.
    held = session.scalar(select(models.Accumulator.value).where(models.Accumulator.member_id == "M1",
                                                                 models.Accumulator.benefit == "CIR"))
    assert held == CIR
    _balanced(session)


def test_an_allocation_pays_the_waiting_lines_in_the_order_received_as_far_as_the_money_goes(client, cast, session):
    _hardship(client, cast, "M1", "M2")
    # M1's claim is made first, but M2's paper claim reached the union office earlier.
    later = _cancer_claim(client, cast, "M1", submitted_on=f"{b.YEAR}-07-10")
    earlier = _cancer_claim(client, cast, "M2", submitted_on=f"{b.YEAR}-07-01")
    elsewhere = _cancer_claim(client, cast, "M2", begndate=f"{b.YEAR - 1}-05-02", enddate=f"{b.YEAR - 1}-05-12",
                              submitted_on=f"{b.YEAR - 1}-06-30")  # a year the allocation is not for
    for claim in (later, earlier):
        assert (claim["status"], b.line(claim, "CIR")["status"]) == ("pended", "pended")

    # Charity money for one line and a fen: every share passes to charity, the oldest is paid.
    made = b.allocate(client, cast.finance, "charity", "540.04")
    assert made["redecided_claims"] == [earlier["id"]]
    paid = client.get(f"/v1/claims/{earlier['id']}", headers=b.auth(cast.admin)).json()
    waiting = client.get(f"/v1/claims/{later['id']}", headers=b.auth(cast.admin)).json()
    assert (paid["status"], b.line(paid, "CIR")["status"], b.codes(b.line(paid, "CIR"))) == ("approved", "approved", [])
    assert (waiting["status"], b.codes(b.line(waiting, "CIR"))) == ("pended", ["FUND_EXHAUSTED"])
    assert _pool(session, "charity") == (54004, CIR)
    entry = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "claim.funded")).one()
    assert (entry.entity_id, entry.details["paid"]) == (str(earlier["id"]), ["CIR"])
    _balanced(session)

    # The next allocation pays the one left (the fen left over counts), and nothing of another year.
    made = b.allocate(client, cast.finance, "central", "270.01")
    assert made["redecided_claims"] == []  # central alone cannot pay all of a line, and charity has 0.01
    made = b.allocate(client, cast.finance, "charity", "270.01")
    assert made["redecided_claims"] == [later["id"]]
    assert _charges(session, later["id"])[("CIR", "central")] == 27001
    assert _charges(session, later["id"])[("CIR", "charity")] == 16201 + 10801
    other = client.get(f"/v1/claims/{elsewhere['id']}", headers=b.auth(cast.admin)).json()
    assert other["status"] == "pended"
    _balanced(session)


def test_a_reviewer_approving_a_line_its_fund_cannot_pay_leaves_it_waiting_for_funds(client, cast, session):
    _hardship(client, cast, "M1", verified=False)
    claim = _cancer_claim(client, cast)
    assert b.codes(b.line(claim, "CIR")) == ["HARDSHIP_UNVERIFIED"]
    reviewed = b.review(client, cast.officer, claim["id"], {"benefit": "CIR", "action": "approve", "note": "入户核查属实"})
    cir = b.line(reviewed, "CIR")
    assert (reviewed["status"], cir["status"], b.codes(cir)) == ("pended", "pended", ["HARDSHIP_UNVERIFIED",
                                                                                    "FUND_EXHAUSTED"])
    _balanced(session)
    _all_sources(client, cast)
    after = client.get(f"/v1/claims/{claim['id']}", headers=b.auth(cast.admin)).json()
    assert (after["status"], b.line(after, "CIR")["status"]) == ("approved", "approved")
    assert b.codes(b.line(after, "CIR")) == ["HARDSHIP_UNVERIFIED"]
    _balanced(session)


def test_a_reviewer_s_approval_is_charged_when_the_fund_can_pay(client, cast, session):
    _hardship(client, cast, "M1", verified=False)
    _all_sources(client, cast)
    claim = _cancer_claim(client, cast)
    assert _charges(session, claim["id"]).get(("CIR", "central")) is None  # pended: nothing reserved
    b.review(client, cast.officer, claim["id"], {"benefit": "CIR", "action": "adjust", "amount": "500.00",
                                                 "note": "扣除自费药品"})
    assert {s: fen for (benefit, s), fen in _charges(session, claim["id"]).items() if benefit == "CIR"} == {
        "central": 25000, "region": 15000, "league": 10000}
    _balanced(session)


# ----------------------------------------------------------------------------- reductions


def test_a_re_adjudication_paying_less_gives_back_the_difference_and_posts_the_opposite_entry(client, cast, session):
    _hardship(client, cast, "M1")
    b.allocate(client, cast.finance, "central", "100000.00")
    b.allocate(client, cast.finance, "region", "100000.00")
    b.allocate(client, cast.finance, "charity", "50.00")  # pays 50.00 of L1's share
    b.allocate(client, cast.finance, "league", "58.01", league_id="L1")
    claim = _cancer_claim(client, cast)
    assert _charges(session, claim["id"])[("CIR", "charity")] == 5000
    default = client.get("/v1/plans", headers=b.auth(cast.admin)).json()["items"][0]
    draft = client.post(f"/v1/plans/{default['id']}/derive", headers=b.auth(cast.admin), json={
        "patch": [{"op": "replace", "path": "/benefits/3/amount/by_hardship_category/dibao/rate", "value": "0.80"}]})
    assert draft.status_code == 201, draft.text
    published = client.post(f"/v1/plans/{draft.json()['id']}/publish", json={"effective_from": f"{b.YEAR}-01-01"},
                            headers=b.auth(cast.admin))
    assert published.status_code == 200, published.text
    report = client.post("/v1/readjudications", json={"submitted_from": f"{b.YEAR}-01-01"}, headers=b.auth(cast.admin))
    assert report.status_code == 200, report.text
    # 80% of 600.03 = 480.02: 60.01 less, given back by charity (50.00) first, then the league (10.01).
    assert report.json()["adjustments"] == 1
    assert {s: fen for (benefit, s), fen in _charges(session, claim["id"]).items() if benefit == "CIR"} == {
        "central": 27001, "region": 16201, "league": 5801 - 1001}
    assert _pool(session, "charity") == (5000, 0) and _pool(session, "league", "L1") == (5801, 4800)
    released = session.scalars(select(models.JournalEntry).where(models.JournalEntry.event == "line.released")).one()
    legs = {(p.account, p.amount, p.member_id) for p in
            session.scalars(select(models.Posting).where(models.Posting.entry_id == released.id))}
    assert legs == {("Expenses:Benefits:CIR:Charity", -5000, None), ("Expenses:Benefits:CIR:League", -1001, None),
                    (ledger.PAYABLE_MEMBERS, 6001, "M1")}
    _balanced(session)
    # Run again: nothing more is given back.
    again = client.post("/v1/readjudications", json={"submitted_from": f"{b.YEAR}-01-01"}, headers=b.auth(cast.admin))
    assert again.json()["adjustments"] == 0
    assert session.scalar(select(func.count()).where(models.JournalEntry.event == "line.released")) == 1
    _balanced(session)


# ----------------------------------------------------------------------------- allocations


def test_an_allocation_posts_the_bank_and_the_source_s_income_with_its_dimensions(client, cast, session):
    made = b.allocate(client, cast.finance_league, "league", "1234.56", league_id="L1", reference="内工发〔2026〕12号")
    assert (made["source"], made["league_id"], made["amount"], made["reference"]) == (
        "league", "L1", "1234.56", "内工发〔2026〕12号")
    entry = session.scalars(select(models.JournalEntry).where(models.JournalEntry.ref == f"allocation:{made['id']}")).one()
    legs = {(p.account, p.amount, p.fund_source, p.fund_year, p.league_id)
            for p in session.scalars(select(models.Posting).where(models.Posting.entry_id == entry.id))}
    assert legs == {(ledger.BANK_RELIEF, 123456, "league", b.YEAR, "L1"),
                    ("Income:Allocations:League:L1", -123456, "league", b.YEAR, "L1")}
    pools = client.get("/v1/funds/pools", params={"year": b.YEAR}, headers=b.auth(cast.finance)).json()
    assert {"fund": "relief", "source": "league", "year": b.YEAR, "league_id": "L1", "allocated": "1234.56",
            "charged": "0.00", "available": "1234.56"} in pools["items"]
    _balanced(session)


def test_bad_allocations_are_refused_naming_the_field_and_store_nothing(client, cast, session):
    b.allocate(client, cast.finance, "central", "100.00", reference="REF-1")
    before = _counts(session)
    good = {"source": "central", "year": b.YEAR, "amount": "100.00", "reference": "REF-2",
            "received_on": f"{b.YEAR}-01-15"}
    cases = [
        ({"amount": "-1.00"}, 422, "amount"),
        ({"amount": "0.00"}, 422, "amount"),
        ({"amount": "1.001"}, 422, "amount"),
        ({"amount": 100.5}, 422, "amount"),
        ({"source": "lottery"}, 422, "source"),
        ({"year": 1999}, 422, "year"),
        ({"received_on": "2999-01-01"}, 422, "received_on"),
        ({"reference": ""}, 422, "reference"),
        ({"reference": "REF\u200b-3"}, 422, "reference"),
        ({"league_id": "L1"}, 422, "league_id"),  # central money is not kept per league
        ({"source": "league"}, 422, "league_id"),  # league money names its league
        ({"source": "league", "league_id": "C2"}, 422, "league_id"),  # a county, not a league
        ({"source": "league", "league_id": "NOPE"}, 404, "league_id"),
        ({"reference": "REF-1"}, 409, "reference"),  # the same transfer twice
    ]
    for change, status, field in cases:
        answer = client.post("/v1/funds/allocations", json={**good, **change}, headers=b.auth(cast.finance))
        assert answer.status_code == status, (change, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert field in [e.get("field", e.get("loc", [""])[-1]) for e in answer.json().get("errors", [])] or \
            field in answer.json()["detail"], (change, answer.json())
        assert _counts(session) == before, change
    # The same reference is another transfer for another source or year.
    b.allocate(client, cast.finance, "region", "100.00", reference="REF-1")
    b.allocate(client, cast.finance, "central", "100.00", reference="REF-1", year=b.YEAR - 1)


def test_finance_officers_record_and_see_the_money_of_their_own_unions(client, cast, session):
    # The region's finance officers record any source; a league's only its own league's money.
    b.allocate(client, cast.finance, "central", "100.00")
    b.allocate(client, cast.finance, "league", "200.00", league_id="L2")
    b.allocate(client, cast.finance_league, "league", "300.00", league_id="L1")
    b.allocate(client, cast.finance_league, "central", "1.00", expect=403)
    b.allocate(client, cast.finance_league, "league", "1.00", league_id="L2", expect=404)  # as if no L2
    b.allocate(client, cast.finance_other, "league", "1.00", league_id="L1", expect=404)
    b.allocate(client, cast.officer_region, "central", "1.00", expect=403)
    b.allocate(client, cast.member, "central", "1.00", expect=403)

    def listed(key: str, path: str = "/v1/funds/allocations") -> list[tuple]:
        answer = client.get(path, params={"year": b.YEAR}, headers=b.auth(key))
        assert answer.status_code == 200, answer.text
        return sorted(((i["source"], i["league_id"], i.get("amount") or i["allocated"]) for i in answer.json()["items"]),
                      key=lambda row: tuple("" if v is None else v for v in row))

    assert listed(cast.finance) == [("central", None, "100.00"), ("league", "L1", "300.00"), ("league", "L2", "200.00")]
    assert listed(cast.finance_league) == [("league", "L1", "300.00")]
    assert listed(cast.finance_other) == [("league", "L2", "200.00")]
    assert listed(cast.finance_league, "/v1/funds/pools") == [("league", "L1", "300.00")]
    assert ("central", None, "100.00") in listed(cast.finance, "/v1/funds/pools")
    for key in (cast.officer, cast.officer_region, cast.member, cast.hospital):
        assert client.get("/v1/funds/pools", headers=b.auth(key)).status_code == 403

    # One allocation: its Location reads it; another league's is unknown to a league's finance officer.
    made = client.post("/v1/funds/allocations", headers=b.auth(cast.finance_league), json={
        "source": "league", "year": b.YEAR, "league_id": "L1", "amount": "5.00", "reference": "L1-5",
        "received_on": f"{b.YEAR}-02-01"})
    assert made.status_code == 201
    assert client.get(made.headers["location"], headers=b.auth(cast.finance_league)).json()["reference"] == "L1-5"
    assert client.get(made.headers["location"], headers=b.auth(cast.finance)).status_code == 200
    hidden = client.get(made.headers["location"], headers=b.auth(cast.finance_other))
    unknown = client.get("/v1/funds/allocations/2147483647", headers=b.auth(cast.finance_other))
    assert (hidden.status_code, unknown.status_code) == (404, 404)
    assert hidden.json()["detail"].replace(str(made.json()["id"]), "N") == unknown.json()["detail"].replace(
        "2147483647", "N")


def test_the_pools_show_what_is_charged_and_available_per_source(client, cast, session):
    _hardship(client, cast, "M1")
    _all_sources(client, cast, "1000.00")
    _cancer_claim(client, cast)
    items = client.get("/v1/funds/pools", params={"year": b.YEAR}, headers=b.auth(cast.admin)).json()["items"]
    by = {(i["fund"], i["source"], i["league_id"]): (i["allocated"], i["charged"], i["available"]) for i in items}
    assert by[("relief", "central", None)] == ("1000.00", "270.01", "729.99")
    assert by[("relief", "league", "L1")] == ("1000.00", "108.01", "891.99")
    assert by[("relief", "charity", None)] == ("1000.00", "0.00", "1000.00")
    # The mutual-aid pool: the cast's contributions of the year (M1, M2, M3: 90.00 + 10.00 each) less its charges.
    allocated, charged, available = by[("mutual_aid", None, None)]
    assert allocated == "300.00"
    assert available == format_fen(30000 - parse_yuan(charged))  # format_fen signs an overdrawn pool itself


def test_charges_count_one_source_per_pool_and_never_past_its_allocation(client, cast, session):
    """Many lines against a small pool: as many as it pays are charged, the rest wait."""
    members = [f"MF{i}" for i in range(6)]
    for m in members:
        b.create_member(client, cast.admin, m, union_id="U1")
        b.enroll_renewing(client, cast.admin, m)
    _hardship(client, cast, *members)
    b.allocate(client, cast.finance, "charity", "1100.00")  # two lines of 540.03, not three
    claims = [_cancer_claim(client, cast, m) for m in members]
    assert [b.line(c, "CIR")["status"] for c in claims] == ["approved"] * 2 + ["pended"] * 4
    assert _pool(session, "charity") == (110000, 2 * CIR)
    _balanced(session)

    grouped: dict[str, int] = defaultdict(int)
    for c in claims:
        for (benefit, _source), fen in _charges(session, c["id"]).items():
            grouped[benefit] += fen
    assert grouped["CIR"] == 2 * CIR


def test_claims_of_one_batch_are_charged_in_order_against_the_same_pools(client, cast, session):
    _hardship(client, cast, "M1", "M2")
    b.allocate(client, cast.finance, "charity", "540.03")  # one line exactly
    posted = [b.post_settlement(client, cast.admin, patient=m, b=B, diag_code=b.LUNG_CANCER)["id"] for m in ("M1", "M2")]
    answer = client.post("/v1/claims/batch", headers=b.auth(cast.admin), json={"claims": [
        {"member_id": m, "settlement_id": sid, **b.received_on()} for m, sid in zip(("M1", "M2"), posted)]})
    assert answer.status_code == 201, answer.text
    first, second = answer.json()["claims"]
    assert (first["status"], b.line(first, "CIR")["status"]) == ("approved", "approved")
    assert (second["status"], b.codes(b.line(second, "CIR"))) == ("pended", ["FUND_EXHAUSTED"])
    assert _pool(session, "charity") == (CIR, CIR)
    _balanced(session)


def test_a_pended_claim_decided_again_under_a_new_version_is_charged_as_it_now_stands(client, cast, session):
    _hardship(client, cast, "M1", verified=False)
    claim = _cancer_claim(client, cast)  # CIR waits for the home visit; MA_IP 400.02 is paid
    assert (claim["status"], _charges(session, claim["id"])[("MA_IP", None)]) == ("pended", 40002)
    default = client.get("/v1/plans", headers=b.auth(cast.admin)).json()["items"][0]
    draft = client.post(f"/v1/plans/{default['id']}/derive", headers=b.auth(cast.admin), json={
        "patch": [{"op": "replace", "path": "/benefits/0/amount/bands/0/rate", "value": "0.30"}]}).json()
    client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": f"{b.YEAR}-01-01"},
                headers=b.auth(cast.admin)).raise_for_status()
    report = client.post("/v1/readjudications", json={"include_pended": True}, headers=b.auth(cast.admin))
    assert report.status_code == 200 and report.json()["pended_redecided"] == 1
    # 30% of 1,000.05 = 300.02 (300.015 half-up): 100.00 given back to the mutual-aid pool.
    after = client.get(f"/v1/claims/{claim['id']}", headers=b.auth(cast.admin)).json()
    assert b.line(after, "MA_IP")["amount"] == "300.02"
    assert _charges(session, claim["id"])[("MA_IP", None)] == 30002
    assert ("CIR", "central") not in _charges(session, claim["id"])  # still pended: nothing reserved
    assert session.scalar(select(func.count()).where(models.JournalEntry.event == "line.released")) == 1
    _balanced(session)


def test_claims_check_finds_a_pool_or_a_charge_changed_behind_the_service(client, cast, session):
    from sqlalchemy import update

    _hardship(client, cast, "M1")
    _all_sources(client, cast)
    claim = _cancer_claim(client, cast)
    _balanced(session)
    session.execute(update(models.FundPool).where(models.FundPool.source == "central").values(charged=0))
    assert consistency.check(session) == [
        f"pool central {b.YEAR}: charged 0.00, its line charges add up to 270.01"]
    session.execute(update(models.FundPool).where(models.FundPool.source == "central").values(charged=27001))
    session.execute(update(models.LineCharge).where(models.LineCharge.claim_id == claim["id"],
                                                    models.LineCharge.source == "region").values(amount=16200))
    problems = consistency.check(session)
    assert any(p.startswith("line ") and "charged 540.02, should be 540.03" in p for p in problems)
    assert f"pool region {b.YEAR}: charged 162.01, its line charges add up to 162.00" in problems
    assert any(p.startswith(f"region {b.YEAR}: line charges 162.00, ledger expenses 162.01") for p in problems)


def test_funds_left_shows_an_officer_the_pools_that_pay_their_unions_claims(client, cast, session):
    # console3: the officer's dashboard. Every relief source (0.00 before money came), the league
    # money of the leagues above or within the officer's subtree only, and the mutual-aid pool.
    import pytest

    from service import funds
    from service.auth import Role, principal_for
    from service.errors import Forbidden

    b.allocate(client, cast.finance, "region", "500.00")
    b.allocate(client, cast.finance, "league", "200.00", league_id="L1")
    b.allocate(client, cast.finance, "league", "300.00", league_id="L2")

    def left(role: Role, union_id: str | None, year: int = b.YEAR) -> dict[tuple, str]:
        who = principal_for(session, None, role, union_id=union_id)
        return {(r["fund"], r["source"], r["league_id"]): r["available"] for r in funds.funds_left(session, who, year)}

    u1 = left(Role.OFFICER, "U1")  # under L1
    assert u1 == {("mutual_aid", None, None): u1[("mutual_aid", None, None)], ("relief", "central", None): "0.00",
                  ("relief", "region", None): "500.00", ("relief", "league", "L1"): "200.00",
                  ("relief", "charity", None): "0.00"}
    assert ("relief", "league", "L2") in left(Role.OFFICER, "C2") and ("relief", "league", "L1") not in left(
        Role.OFFICER, "C2")  # a county under L2 sees L2's money, not L1's
    region = left(Role.OFFICER, "R")
    assert region[("relief", "league", "L1")] == "200.00" and region[("relief", "league", "L2")] == "300.00"
    assert left(Role.OFFICER, "U1", b.YEAR - 5)[("relief", "region", None)] == "0.00"  # another year's pools
    before = session.scalar(select(func.count()).select_from(models.FundPool))
    left(Role.OFFICER, "U1", b.YEAR + 1)
    assert session.scalar(select(func.count()).select_from(models.FundPool)) == before  # read-only: no pool made
    for role in (Role.MEMBER, Role.HOSPITAL):
        with pytest.raises(Forbidden):
            left(role, None)
