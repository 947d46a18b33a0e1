"""Reviews stand, and re-adjudication is exact (both databases).

The story: M1 (renewing, near-dibao hardship, verified) is treated for lung cancer with
an in-policy self-pay B of 150,000.00. Under the default plan MA_IP pays 103,500.00,
MA_DA 10 days x 20.00 = 200.00, MA_CI 10,000.00, and CIR 70% of what MA_IP left
(150,000 - 103,500 = 46,500) = 32,550.00; the claim is above 50,000.00, so every
paying line is pended for review.
"""

from __future__ import annotations

from sqlalchemy import func, select

from service import audit, consistency
from store import models
from tests.api import builders as b


def _pended_cancer_claim(client, cast) -> dict:
    b.register_hardship(client, cast.officer, "M1", category="near_dibao")
    claim = b.claim_for(client, cast.admin, "M1", b=b.HIGH_B, diag_code=b.LUNG_CANCER)
    assert [(ln["benefit"], ln["status"], ln["amount"]) for ln in claim["lines"]] == [
        ("MA_IP", "pended", "103500.00"), ("MA_DA", "pended", "200.00"), ("MA_CI", "pended", "10000.00"),
        ("CIR", "pended", "32550.00")]
    return claim


def _total(session, member: str, benefit: str, measure: str = "paid") -> int:
    return sum(session.scalars(select(models.Accumulator.value).where(
        models.Accumulator.member_id == member, models.Accumulator.benefit == benefit,
        models.Accumulator.measure == measure)))


def _sound(session) -> None:
    assert consistency.check(session) == []
    assert audit.verify(session) == []


def test_denying_the_mutual_aid_decides_the_relief_again_from_the_whole_base(client, cast, session):
    claim = _pended_cancer_claim(client, cast)
    reviewed = b.review(client, cast.officer, claim["id"],
                        {"benefit": "MA_IP", "action": "deny", "note": "非本人就医记录"})
    cir = b.line(reviewed, "CIR")
    # 70% of the whole 150,000.00 is 105,000.00, cut to the near-dibao cap of 40,000.00;
    # the claim (200 + 10,000 + 40,000) is still above 50,000.00, so it stays pended.
    assert (cir["status"], cir["amount"]) == ("pended", "40000.00")
    assert "CAP_APPLIED" in b.codes(cir) and not cir["reviewed"]
    assert b.line(reviewed, "MA_IP")["reviewed"] is True
    assert _total(session, "M1", "CIR") == 4_000_000
    assert _total(session, "M1", "MA_IP") == 0
    assert reviewed["total"] == "50200.00"
    _sound(session)
    entry = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "claim.reviewed")).one()
    assert entry.details["redecided"] == [{"benefit": "CIR", "from_status": "pended", "from_amount": "32550.00",
                                           "to_status": "pended", "to_amount": "40000.00"}]


def test_cutting_the_mutual_aid_gives_the_relief_its_share_of_what_is_left(client, cast, session):
    claim = _pended_cancer_claim(client, cast)
    reviewed = b.review(client, cast.officer, claim["id"],
                        {"benefit": "MA_IP", "action": "adjust", "amount": "93500.00", "note": "扣除重复收费"})
    # 150,000 - 93,500 = 56,500 left; 70% = 39,550.00, under the cap.
    assert b.line(reviewed, "CIR")["amount"] == "39550.00"
    assert _total(session, "M1", "CIR") == 3_955_000
    assert _total(session, "M1", "MA_IP") == 9_350_000
    _sound(session)


def test_a_relief_line_the_reviewer_decided_is_not_decided_again_when_the_mutual_aid_is_denied(client, cast, session):
    b.fund_relief(client, cast.admin)
    claim = _pended_cancer_claim(client, cast)
    b.review(client, cast.officer, claim["id"], {"benefit": "CIR", "action": "approve", "note": "入户核查属实"})
    reviewed = b.review(client, cast.officer, claim["id"], {"benefit": "MA_IP", "action": "deny", "note": "重复报销"})
    assert (b.line(reviewed, "CIR")["status"], b.line(reviewed, "CIR")["amount"]) == ("approved", "32550.00")
    assert _total(session, "M1", "CIR") == 3_255_000
    _sound(session)


def test_re_adjudication_keeps_a_reviewers_denial_and_lists_it_as_skipped(client, cast, session):
    claim = _pended_cancer_claim(client, cast)
    b.review(client, cast.officer, claim["id"], {"benefit": "CIR", "action": "deny", "note": "不符合救助条件"})
    assert _total(session, "M1", "CIR") == 0
    report = client.post("/v1/readjudications", json={"include_pended": True}, headers=b.auth(cast.admin)).json()
    assert {"claim_id": claim["id"], "benefit": "CIR", "why": "decided by a reviewer"} in report["skipped"]
    after = client.get(f"/v1/claims/{claim['id']}", headers=b.auth(cast.admin)).json()
    cir = b.line(after, "CIR")
    assert (cir["status"], cir["amount"], cir["reviewed"]) == ("denied", "0.00", True)
    assert _total(session, "M1", "CIR") == 0  # not the 32,550.00 the line would pay undecided
    _sound(session)


def test_re_adjudication_run_twice_for_the_same_version_adds_nothing(client, cast, session):
    first = b.claim_for(client, cast.admin, "M1", b="20000.00")  # MA_IP 4,000 + 5,000 = 9,000.00
    second = b.claim_for(client, cast.admin, "M1", b="20000.00", begndate=f"{b.YEAR}-06-01",
                         enddate=f"{b.YEAR}-06-05")  # on 20,000..40,000: 5,000 + 6,000 = 11,000.00
    assert (b.line(first, "MA_IP")["amount"], b.line(second, "MA_IP")["amount"]) == ("9000.00", "11000.00")
    default = client.get("/v1/plans", headers=b.auth(cast.admin)).json()["items"][0]
    draft = client.post(f"/v1/plans/{default['id']}/derive", headers=b.auth(cast.admin), json={
        "patch": [{"op": "replace", "path": "/benefits/0/amount/bands/1/rate", "value": "0.55"}]}).json()
    published = client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": f"{b.YEAR}-01-01"},
                            headers=b.auth(cast.admin)).json()
    window = {"include_pended": False, "submitted_from": f"{b.YEAR}-01-01", "submitted_to": f"{b.YEAR}-12-31"}

    report = client.post("/v1/readjudications", json=window, headers=b.auth(cast.admin)).json()
    # Band 2 (10,000..30,000) at 55%: the first claim gains 500.00, the second 500.00.
    assert (report["adjustments"], report["total_delta"]) == (2, "1000.00")
    assert _total(session, "M1", "MA_IP") == 2_100_000
    _sound(session)
    audit_rows = session.scalar(select(func.count()).select_from(models.AuditEntry))

    again = client.post("/v1/readjudications", json=window, headers=b.auth(cast.admin)).json()
    assert (again["adjustments"], again["total_delta"], again["changes"]) == (0, "0.00", [])
    assert _total(session, "M1", "MA_IP") == 2_100_000
    assert session.scalar(select(func.count()).select_from(models.Adjustment)) == 2
    assert session.scalar(select(func.count()).select_from(models.AuditEntry)) == audit_rows
    _sound(session)

    # Adjustments are readable: on the claim, and listed by claim, member and version.
    on_claim = client.get(f"/v1/claims/{first['id']}", headers=b.auth(cast.member)).json()["adjustments"]
    assert [(a["total_delta"], a["to_version"]) for a in on_claim] == [("500.00", published["version"])]
    assert on_claim[0]["lines"][0]["from_amount"] == "9000.00" and on_claim[0]["lines"][0]["to_amount"] == "9500.00"
    listed = client.get("/v1/adjustments", params={"plan_version": published["version"]}, headers=b.auth(cast.officer)).json()
    assert listed["total"] == 2 and {a["claim_id"] for a in listed["items"]} == {first["id"], second["id"]}
    by_claim = client.get("/v1/adjustments", params={"claim_id": second["id"]}, headers=b.auth(cast.admin)).json()
    assert [a["claim_id"] for a in by_claim["items"]] == [second["id"]]
    assert client.get("/v1/adjustments", params={"member_id": "M1"}, headers=b.auth(cast.admin)).json()["total"] == 2
    # Another union's officer and a colleague see none of M1's.
    assert client.get("/v1/adjustments", headers=b.auth(cast.officer_other)).json()["total"] == 0
    assert client.get("/v1/adjustments", headers=b.auth(cast.member_other)).json()["total"] == 0


def test_re_adjudication_reserves_nothing_a_reviewer_would_have_to_decide_on_a_decided_claim(client, cast, session):
    claim = b.claim_for(client, cast.admin, "M1", b="20000.00", diag_code=b.LUNG_CANCER)
    assert (claim["status"], b.line(claim, "CIR")["status"]) == ("approved", "not_applicable")
    # Registered later, unverified, with a date before the stay: CIR would now apply, pended.
    b.register_hardship(client, cast.officer, "M1", category="near_dibao", verified=False)
    default = client.get("/v1/plans", headers=b.auth(cast.admin)).json()["items"][0]
    draft = client.post(f"/v1/plans/{default['id']}/derive", headers=b.auth(cast.admin), json={
        "patch": [{"op": "replace", "path": "/benefits/0/amount/bands/1/rate", "value": "0.55"}]}).json()
    client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": f"{b.YEAR}-01-01"}, headers=b.auth(cast.admin))
    window = {"include_pended": False, "submitted_from": f"{b.YEAR}-01-01", "submitted_to": f"{b.YEAR}-12-31"}

    report = client.post("/v1/readjudications", json=window, headers=b.auth(cast.admin)).json()
    assert report["held_for_review"] == [{"claim_id": claim["id"], "benefit": "CIR",
                                          "why": "the version in force would pend it for review; it stays as decided"}]
    # Only what needs no review moved: MA_IP's band 2 at 55% (+500.00).
    assert [ln["benefit"] for ch in report["changes"] for ln in ch["lines"]] == ["MA_IP"]
    assert report["total_delta"] == "500.00"
    assert _total(session, "M1", "CIR") == 0
    _sound(session)
    again = client.post("/v1/readjudications", json=window, headers=b.auth(cast.admin)).json()
    assert (again["adjustments"], again["total_delta"]) == (0, "0.00")
