"""GET /v1/members/{id}/benefits: what each benefit has paid and what is left, on a day.

The figures come from the member's stored totals; the tests check them against what
the claims' lines say (another path through the data: the lines as the API answers
them), and a few by hand against default-plan.md.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.dates import china_today
from store import models
from tests.api.builders import (
    allocate,
    HIGH_B,
    LUNG_CANCER,
    YEAR,
    auth,
    claim_for,
    create_member,
    enroll,
    line,
    post_settlement,
    register_hardship,
    review,
    submit_claim,
)

ON = f"{YEAR}-09-01"  # in M1's period YEAR-01-01..YEAR-12-31 and after every admission the tests make
MUTUAL_AID = ("MA_IP", "MA_DA", "MA_CI")


def benefits(client: TestClient, key: str, member_id: str = "M1", on: str | None = ON, expect: int = 200) -> dict:
    answer = client.get(f"/v1/members/{member_id}/benefits", params={"on": on} if on else None, headers=auth(key))
    assert answer.status_code == expect, answer.text
    return answer.json()


def by_benefit(answer: dict) -> dict[str, dict]:
    return {b["benefit"]: b for b in answer["benefits"]}


def yuan(text: str | None) -> Decimal:
    return Decimal(text or "0")


def from_lines(client: TestClient, key: str, claim_ids: list[int], benefit: str, status: str) -> Decimal:
    """The sum of the benefit's lines in this status over these claims, as the API reads them now
    (each line as decided or reviewed, then as the claim's adjustments left it)."""
    total = Decimal(0)
    for claim_id in claim_ids:
        claim = client.get(f"/v1/claims/{claim_id}", headers=auth(key)).json()
        ln = line(claim, benefit)
        now = (ln["status"], ln["amount"])
        for adjustment in claim["adjustments"]:
            for diff in adjustment["lines"]:
                if diff["benefit"] == benefit:
                    now = (diff["to_status"], diff["to_amount"])
        if now[0] == status:
            total += yuan(now[1])
    return total


def assert_figures_match_the_lines(client: TestClient, key: str, claim_ids: list[int], answer: dict) -> None:
    for b in answer["benefits"]:
        paid = from_lines(client, key, claim_ids, b["benefit"], "approved")
        reserved = from_lines(client, key, claim_ids, b["benefit"], "pended")
        assert (yuan(b["paid"]), yuan(b["reserved"])) == (paid, reserved), b
        if b["cap"] is not None:
            assert yuan(b["left"]) == max(Decimal(0), yuan(b["cap"]) - paid - reserved), b


def test_after_claims_each_benefit_shows_what_the_claims_paid_and_what_is_left(client: TestClient, cast) -> None:
    # M1 renews (second membership year): MA_IP 40% of B, MA_DA 20.00 a day, MA_CI 10,000.00 once.
    first = claim_for(client, cast.admin, "M1", b="1000.00", diag_code=LUNG_CANCER)
    register_hardship(client, cast.admin, "M1", category="near_dibao")  # CIR: 70%, 40,000.00 a year
    for source in ("central", "region"):  # the year's relief money (without it a CIR line waits: FUND_EXHAUSTED)
        allocate(client, cast.finance, source, "10000.00")
    allocate(client, cast.finance, "league", "10000.00", league_id="L1")
    second = claim_for(client, cast.admin, "M1", b="2000.00", diag_code=LUNG_CANCER,
                       begndate=f"{YEAR}-06-01", enddate=f"{YEAR}-06-11")
    assert (first["status"], second["status"]) == ("approved", "approved")

    answer = benefits(client, cast.member)
    assert answer["member_id"] == "M1" and answer["on"] == ON and answer["enrolled"] is True
    assert answer["period"] == {"start": f"{YEAR}-01-01", "end": f"{YEAR}-12-31"}
    assert answer["calendar_year"] == YEAR
    assert answer["hardship"] == {"category": "near_dibao", "verified": True, "registered_on": f"{YEAR - 2}-06-01"}
    assert answer["plan_version"].startswith("default-2026@")
    got = by_benefit(answer)
    assert list(got) == ["MA_IP", "MA_DA", "MA_CI", "CIR"]  # the plan's order
    # By hand: MA_IP 400.00 + 800.00 (cumulative B 3,000.00, all in the 40% band), cap 500,000.00.
    assert got["MA_IP"] | {"name_zh": "", "name_en": ""} == {
        "benefit": "MA_IP", "name_zh": "", "name_en": "", "applies": True, "reason": None, "scope": "period",
        "scope_key": f"{YEAR}-01-01..{YEAR}-12-31", "paid": "1200.00", "reserved": "0.00", "cap": "500000.00",
        "left": "498800.00", "base_counted": "3000.00", "next_rate": "0.40", "days_paid": None,
        "days_reserved": None, "max_days": None, "days_left": None, "grants": None, "grants_left": None}
    # MA_DA: 10 days twice at 20.00, 180 days a period.
    assert (got["MA_DA"]["paid"], got["MA_DA"]["days_paid"], got["MA_DA"]["days_reserved"],
            got["MA_DA"]["max_days"], got["MA_DA"]["days_left"]) == ("400.00", 20, 0, 180, 160)
    # MA_CI: lung cancer (CI01) paid once; the second claim was denied, ALREADY_PAID_FOR_DISEASE.
    assert line(second, "MA_CI")["status"] == "denied"
    assert got["MA_CI"]["paid"] == "10000.00" and got["MA_CI"]["cap"] is None
    assert [(g["disease"], g["reserved"]) for g in got["MA_CI"]["grants"]] == [("CI01", False)]
    assert got["MA_CI"]["grants_left"] == 20
    # CIR, by calendar year: only the second claim (registered after the first); (2,000 − 800) × 70% = 840.00.
    assert (got["CIR"]["scope"], got["CIR"]["scope_key"], got["CIR"]["paid"], got["CIR"]["cap"],
            got["CIR"]["left"], got["CIR"]["applies"]) == ("calendar_year", str(YEAR), "840.00", "40000.00",
                                                           "39160.00", True)
    assert_figures_match_the_lines(client, cast.admin, [first["id"], second["id"]], answer)
    # Every reader of M1 gets the same answer.
    for key in (cast.admin, cast.officer, cast.officer_league, cast.officer_region, cast.finance, cast.finance_league):
        assert benefits(client, key) == answer


def test_a_pended_line_shows_as_reserved_and_a_reviewers_denial_releases_it(client: TestClient, cast) -> None:
    first = claim_for(client, cast.admin, "M1", b="1000.00")
    pended = claim_for(client, cast.admin, "M1", b=HIGH_B, begndate=f"{YEAR}-06-01", enddate=f"{YEAR}-06-11")
    assert pended["status"] == "pended"
    held = yuan(line(pended, "MA_IP")["amount"])
    assert held > 0 and line(pended, "MA_DA")["status"] == "pended"

    got = by_benefit(benefits(client, cast.officer))
    # A pended line holds its amount (default-plan.md section 8): not paid, but no longer left either.
    assert (yuan(got["MA_IP"]["paid"]), yuan(got["MA_IP"]["reserved"])) == (Decimal("400.00"), held)
    assert yuan(got["MA_IP"]["left"]) == Decimal("500000.00") - Decimal("400.00") - held
    assert yuan(got["MA_IP"]["base_counted"]) == Decimal("1000.00") + Decimal(HIGH_B)
    assert (got["MA_DA"]["days_paid"], got["MA_DA"]["days_reserved"], got["MA_DA"]["days_left"]) == (10, 10, 160)
    assert_figures_match_the_lines(client, cast.admin, [first["id"], pended["id"]], benefits(client, cast.officer))

    review(client, cast.officer, pended["id"], {"benefit": "MA_IP", "action": "deny", "note": "重复报销"})
    after = benefits(client, cast.officer)
    got = by_benefit(after)
    assert (got["MA_IP"]["paid"], got["MA_IP"]["reserved"], got["MA_IP"]["left"]) == ("400.00", "0.00", "499600.00")
    # The allowance was not reviewed: its days are still held.
    assert (got["MA_DA"]["days_reserved"], got["MA_DA"]["reserved"]) == (10, line(pended, "MA_DA")["amount"])
    assert_figures_match_the_lines(client, cast.admin, [first["id"], pended["id"]], after)

    review(client, cast.officer, pended["id"], {"benefit": "MA_DA", "action": "approve", "note": "核实无误"})
    got = by_benefit(benefits(client, cast.officer))
    assert (got["MA_DA"]["days_paid"], got["MA_DA"]["days_reserved"], got["MA_DA"]["reserved"]) == (20, 0, "0.00")


def test_an_unverified_hardship_registration_reserves_relief_and_a_catalog_grant_pended_is_marked(
        client: TestClient, cast) -> None:
    register_hardship(client, cast.admin, "M1", category="dibao", verified=False)
    claim = claim_for(client, cast.admin, "M1", b="60000.00", diag_code=LUNG_CANCER)
    assert claim["status"] == "pended"  # HIGH_AMOUNT_REVIEW on the mutual aid, HARDSHIP_UNVERIFIED on CIR
    got = by_benefit(benefits(client, cast.member))
    assert got["CIR"]["paid"] == "0.00" and got["CIR"]["reserved"] == line(claim, "CIR")["amount"]
    assert got["CIR"]["cap"] == "60000.00"  # the dibao cap, read from the plan for the member's category
    assert [(g["disease"], g["reserved"]) for g in got["MA_CI"]["grants"]] == [("CI01", True)]
    assert_figures_match_the_lines(client, cast.admin, [claim["id"]], benefits(client, cast.member))


def test_not_enrolled_on_the_day_is_an_answer_and_relief_needs_the_register(client: TestClient, cast) -> None:
    answer = benefits(client, cast.member, on=f"{YEAR + 5}-03-01")
    assert answer["enrolled"] is False and answer["period"] is None and answer["hardship"] is None
    got = by_benefit(answer)
    for code in MUTUAL_AID:
        assert (got[code]["applies"], got[code]["reason"]["code"]) == (False, "NOT_ENROLLED")
        assert got[code]["reason"]["zh"] and got[code]["reason"]["en"]
    assert (got["CIR"]["applies"], got["CIR"]["reason"]["code"], got["CIR"]["cap"], got["CIR"]["left"]) == (
        False, "NOT_HARDSHIP_REGISTERED", None, None)
    # The day defaults to today in China.
    assert benefits(client, cast.member, on=None)["on"] == china_today().isoformat()


def test_a_first_time_member_in_the_waiting_period_is_told_so(client: TestClient, cast) -> None:
    create_member(client, cast.admin, "M9", union_id="U1")
    enroll(client, cast.admin, "M9", YEAR, enrolled_on=f"{YEAR}-03-01")
    got = by_benefit(benefits(client, cast.officer, "M9", on=f"{YEAR}-03-15"))
    assert {c: got[c]["reason"]["code"] for c in MUTUAL_AID} == dict.fromkeys(MUTUAL_AID, "WAITING_PERIOD")
    got = by_benefit(benefits(client, cast.officer, "M9", on=f"{YEAR}-05-01"))  # 61 days: MA_CI still waits (90)
    assert (got["MA_IP"]["applies"], got["MA_DA"]["applies"], got["MA_CI"]["reason"]["code"]) == (
        True, True, "WAITING_PERIOD")


def test_the_caps_are_the_plan_in_force_on_the_day(client: TestClient, cast) -> None:
    plans = client.get("/v1/plans", headers=auth(cast.admin)).json()["items"]
    default = next(p["id"] for p in plans if p["status"] == "published")
    patch = [{"op": "replace", "path": "/benefits/0/amount/cap", "value": "300000.00"},
             {"op": "replace", "path": "/benefits/1/amount/max_days", "value": 90},
             {"op": "replace", "path": "/benefits/3/amount/by_hardship_category/near_dibao/cap", "value": "30000.00"}]
    derived = client.post(f"/v1/plans/{default}/derive", json={"patch": patch}, headers=auth(cast.admin))
    assert derived.status_code == 201, derived.text
    later = YEAR + 3
    published = client.post(f"/v1/plans/{derived.json()['id']}/publish", json={"effective_from": f"{later}-01-01"},
                            headers=auth(cast.admin))
    assert published.status_code == 200, published.text
    enroll(client, cast.admin, "M1", later)
    register_hardship(client, cast.admin, "M1")

    now = by_benefit(benefits(client, cast.member, on=f"{later}-02-01"))
    assert (now["MA_IP"]["cap"], now["MA_DA"]["max_days"], now["MA_DA"]["days_left"], now["CIR"]["cap"]) == (
        "300000.00", 90, 90, "30000.00")
    before = by_benefit(benefits(client, cast.member))
    assert (before["MA_IP"]["cap"], before["MA_DA"]["max_days"], before["CIR"]["cap"]) == ("500000.00", 180, "40000.00")


def test_only_the_member_their_officers_and_finance_read_it_others_as_if_no_such_member(
        client: TestClient, cast, session: Session) -> None:
    claim_for(client, cast.admin, "M1")
    entries = session.scalar(select(func.count()).select_from(models.AuditEntry))
    unknown = {}
    for key in (cast.officer_other, cast.officer_county, cast.finance_other, cast.member_other):
        answer = client.get("/v1/members/M1/benefits", params={"on": ON}, headers=auth(key))
        nobody = client.get("/v1/members/NOBODY/benefits", params={"on": ON}, headers=auth(key))
        assert answer.status_code == nobody.status_code == 404
        assert answer.json()["detail"].replace("M1", "X") == nobody.json()["detail"].replace("NOBODY", "X")
        unknown[key] = answer.json()["detail"]
    assert set(unknown.values()) == {"no member M1"}
    for key in (cast.hospital, cast.hospital_other):
        assert client.get("/v1/members/M1/benefits", headers=auth(key)).status_code == 403
    assert client.get("/v1/members/M1/benefits").status_code == 401
    # A member reads their own only; M3's officers read M3.
    assert benefits(client, cast.officer_county, "M3")["member_id"] == "M3"
    assert session.scalar(select(func.count()).select_from(models.AuditEntry)) == entries


def test_a_bad_day_is_refused_naming_on(client: TestClient, cast) -> None:
    for bad in ("2026-13-01", "yesterday", "2026/01/01", "0000-01-01", "", "2026-02-30T00:00"):
        answer = client.get("/v1/members/M1/benefits", params={"on": bad}, headers=auth(cast.member))
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == ["on"], answer.text


def test_a_day_no_plan_covers_is_a_conflict(client: TestClient, cast) -> None:
    answer = client.get("/v1/members/M1/benefits", params={"on": "1900-01-01"}, headers=auth(cast.member))
    assert answer.status_code == 409 and "no published plan" in answer.json()["detail"]


def test_every_day_of_a_period_reads_its_period_and_year(client: TestClient, cast) -> None:
    posted = post_settlement(client, cast.admin, b="1000.00", begndate=f"{YEAR - 1}-12-30", enddate=f"{YEAR}-01-05")
    assert submit_claim(client, cast.admin, "M1", posted["id"], submitted_on=f"{YEAR}-01-10")["status"] == "approved"
    last = by_benefit(benefits(client, cast.member, on=f"{YEAR - 1}-12-31"))
    first = by_benefit(benefits(client, cast.member, on=f"{YEAR}-01-01"))
    # Admitted in YEAR−1: counted there, not in YEAR.
    assert (last["MA_IP"]["paid"], first["MA_IP"]["paid"]) == ("400.00", "0.00")
    assert (last["MA_IP"]["scope_key"], first["MA_IP"]["scope_key"]) == (
        f"{YEAR - 1}-01-01..{YEAR - 1}-12-31", f"{YEAR}-01-01..{YEAR}-12-31")


def test_after_re_adjudication_the_figures_are_the_lines_as_the_adjustments_left_them(client: TestClient, cast) -> None:
    approved = claim_for(client, cast.admin, "M1", b="1000.00")
    pended = claim_for(client, cast.admin, "M1", b=HIGH_B, begndate=f"{YEAR}-06-01", enddate=f"{YEAR}-06-11")
    plans = client.get("/v1/plans", headers=auth(cast.admin)).json()["items"]
    default = next(p["id"] for p in plans if p["status"] == "published")
    patch = [{"op": "replace", "path": "/benefits/0/amount/bands/0/rate", "value": "0.50"}]
    derived = client.post(f"/v1/plans/{default}/derive", json={"patch": patch}, headers=auth(cast.admin)).json()
    published = client.post(f"/v1/plans/{derived['id']}/publish", json={"effective_from": f"{YEAR}-01-01"},
                            headers=auth(cast.admin))
    assert published.status_code == 200, published.text
    run = client.post("/v1/readjudications", json={"include_pended": True, "submitted_from": f"{YEAR}-01-01"},
                      headers=auth(cast.admin))
    assert run.status_code == 200, run.text
    adjusted = client.get(f"/v1/claims/{approved['id']}", headers=auth(cast.admin)).json()
    assert [d["to_amount"] for a in adjusted["adjustments"] for d in a["lines"] if d["benefit"] == "MA_IP"] == ["500.00"]
    answer = benefits(client, cast.member)
    assert answer["plan_version"] == derived["version"]
    got = by_benefit(answer)
    assert got["MA_IP"]["paid"] == "500.00" and yuan(got["MA_IP"]["reserved"]) > 0
    assert_figures_match_the_lines(client, cast.admin, [approved["id"], pended["id"]], answer)
