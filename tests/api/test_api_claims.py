"""The claims API: a claim is decided when it is submitted, and read back as decided."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.reasons import REASON_TEXTS, Reason
from store import models
from tests.api.builders import (
    HIGH_B,
    SUBMITTED,
    YEAR,
    auth,
    claim_for,
    codes,
    line,
    post_settlement,
    received_on,
    settlement,
    submit_claim,
)


def accumulators(session: Session, member_id: str) -> dict[tuple[str, str, str], int]:
    rows = session.execute(select(models.Accumulator).where(models.Accumulator.member_id == member_id)).scalars()
    return {(a.benefit, a.measure, a.scope): a.value for a in rows if a.value}


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_claim_is_decided_at_once_with_its_lines_reasons_in_chinese_and_english_and_its_trace(client, cast) -> None:
    posted = post_settlement(client, cast.hospital, setl_id="S-FIRST")

    # The officer records the paper claim's receipt date: on time, whatever day the suite runs.
    answer = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": posted["id"], **received_on()},
                         headers=auth(cast.officer))

    assert answer.status_code == 201, answer.text
    claim = answer.json()
    assert {k: claim[k] for k in ("member_id", "settlement_id", "fixmedins_code", "setl_id", "submitted_on")} == {
        "member_id": "M1", "settlement_id": posted["id"], "fixmedins_code": "H1", "setl_id": "S-FIRST",
        "submitted_on": SUBMITTED}
    # B = 1,000.00 in the 40% band; 10 days at 20.00 in the second membership year.
    assert (claim["status"], claim["total"]) == ("approved", "600.00")
    assert claim["plan_version"].startswith("default-2026@")
    assert [(ln["benefit"], ln["status"], ln["amount"], codes(ln)) for ln in claim["lines"]] == [
        ("MA_IP", "approved", "400.00", []),
        ("MA_DA", "approved", "200.00", []),
        ("MA_CI", "not_applicable", "0.00", ["DISEASE_NOT_IN_CATALOG"]),
        ("CIR", "not_applicable", "0.00", ["NOT_HARDSHIP_REGISTERED"]),
    ]
    assert line(claim, "MA_CI")["reasons"] == [{
        "code": "DISEASE_NOT_IN_CATALOG", "zh": "主要诊断不在病种目录内",
        "en": "The main diagnosis is not in the disease catalog"}]
    ma_ip = next(t for t in claim["trace"] if t["rule"] == "MA_IP.amount")
    assert ma_ip["numbers"]["base"] == "1000.00" and ma_ip["outcome"] == "approved: 400.00"
    assert {t["rule"] for t in claim["trace"]} >= {"MA_IP.amount", "MA_DA.amount", "MA_CI.disease", "CIR.not_registered"}

    assert client.get(f"/v1/claims/{claim['id']}", headers=auth(cast.member)).json() == claim


def test_every_reason_on_a_decision_carries_its_chinese_and_english_text(client, cast) -> None:
    """Reasons on approved lines too: B = 300.00 pays the 200.00 minimum, not 40%."""
    claim = claim_for(client, cast.admin, "M1", b="300.00")
    assert codes(line(claim, "MA_IP")) == ["MINIMUM_PAYOUT_APPLIED"]
    for ln in claim["lines"]:
        for reason in ln["reasons"]:
            text = REASON_TEXTS[Reason(reason["code"])]
            assert (reason["zh"], reason["en"]) == (text.zh, text.en)
            assert reason["zh"] != reason["en"]


def test_a_claim_may_name_its_settlement_by_hospital_and_settlement_id(client, cast) -> None:
    post_settlement(client, cast.hospital, setl_id="S-BY-CODE")
    answer = client.post("/v1/claims", json={"member_id": "M1", "fixmedins_code": "H1", "setl_id": "S-BY-CODE",
                                             **received_on()}, headers=auth(cast.officer))
    assert answer.status_code == 201, answer.text
    assert answer.json()["setl_id"] == "S-BY-CODE"


def test_the_same_bill_claimed_again_is_denied_as_a_duplicate_and_counts_nothing(
    client, cast, session
) -> None:
    # (Before bills carried the patient's certno, a colleague could claim it too and be
    # denied as a duplicate; now only M1 can claim M1's bill at all: test_api_identity.)
    posted = post_settlement(client, cast.hospital)
    first = submit_claim(client, cast.officer, "M1", posted["id"])

    second = submit_claim(client, cast.member, "M1", posted["id"], submitted_on=None)
    third = submit_claim(client, cast.officer, "M1", posted["id"])

    assert first["status"] == "approved"
    for again in (second, third):
        assert (again["status"], again["total"]) == ("denied", "0.00")
        assert [(ln["status"], ln["amount"], codes(ln)) for ln in again["lines"]] == [
            ("denied", "0.00", ["DUPLICATE_BILL"])] * 4
    assert sum(v for (b, m, _), v in accumulators(session, "M1").items() if (b, m) == ("MA_IP", "paid")) == 40000


def test_a_member_s_bands_continue_from_the_first_claim_into_the_second(client, cast) -> None:
    """B = 8,000 pays 40% (3,200.00); then B = 4,000 from a cumulative 8,000 pays
    2,000 x 40% + 2,000 x 50% = 1,800.00: together what B = 12,000 in one claim pays."""
    first = claim_for(client, cast.admin, "M1", b="8000.00", begndate=f"{YEAR}-03-01", enddate=f"{YEAR}-03-05")
    second = claim_for(client, cast.admin, "M1", b="4000.00", begndate=f"{YEAR}-05-01", enddate=f"{YEAR}-05-05")
    alone = claim_for(client, cast.admin, "M2", b="12000.00")

    assert line(first, "MA_IP")["amount"] == "3200.00"
    assert line(second, "MA_IP")["amount"] == "1800.00"
    assert line(alone, "MA_IP")["amount"] == "5000.00"
    numbers = next(t for t in second["trace"] if t["rule"] == "MA_IP.amount")["numbers"]
    assert numbers["cumulative_before"] == "8000.00"


def test_the_accumulators_in_the_database_are_the_sum_of_the_decisions_line_changes(client, cast, session) -> None:
    claim_for(client, cast.admin, "M1", b="8000.00")
    claim_for(client, cast.admin, "M1", b="4000.00", diag_code="C34.900")
    pended = claim_for(client, cast.admin, "M2", b=HIGH_B)
    denied_later = claim_for(client, cast.admin, "M1", b=HIGH_B)
    duplicate = post_settlement(client, cast.admin, patient="M3")
    submit_claim(client, cast.admin, "M3", duplicate["id"])
    submit_claim(client, cast.admin, "M3", duplicate["id"])
    client.post(f"/v1/claims/{pended['id']}/review", headers=auth(cast.admin), json={"lines": [
        {"benefit": "MA_IP", "action": "adjust", "amount": "90000.00", "note": "部分费用不合规"}]})
    client.post(f"/v1/claims/{denied_later['id']}/review", headers=auth(cast.admin), json={"lines": [
        {"benefit": "MA_IP", "action": "deny", "note": "材料不全"}, {"benefit": "MA_DA", "action": "approve", "note": "核实"}]})

    expected: Counter = Counter()
    for claim in session.scalars(select(models.Claim)):
        for ln in session.scalars(select(models.DecisionLine).where(models.DecisionLine.claim_id == claim.id)):
            for c in ln.changes:
                expected[(claim.member_id, c["benefit"], c["measure"], c["scope"])] += c["delta"]
    stored = {(a.member_id, a.benefit, a.measure, a.scope): a.value for a in session.scalars(select(models.Accumulator))}

    assert {k: v for k, v in stored.items() if v} == {k: v for k, v in expected.items() if v}
    assert len([v for v in stored.values() if v]) >= 8  # MA_IP base and paid, MA_DA days, MA_CI disease...


def test_a_failure_after_the_decision_stores_neither_the_decision_nor_its_accumulators(
    app, client, cast, session, monkeypatch
) -> None:
    """The decision, its lines, the accumulators, the bill's key and the audit entry are one transaction."""
    posted = post_settlement(client, cast.hospital)

    def broken(*args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr("service.claims.audit.record_entries", broken)
    with TestClient(app, raise_server_exceptions=False) as failing:
        answer = failing.post("/v1/claims", json={"member_id": "M1", "settlement_id": posted["id"],
                                                  **received_on()}, headers=auth(cast.admin))
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "the audit log is unavailable" not in answer.text  # no internals leak
    assert (count(session, models.Claim), count(session, models.DecisionLine)) == (0, 0)
    assert (count(session, models.Accumulator), count(session, models.AdjudicatedBill)) == (0, 0)

    monkeypatch.undo()
    retried = submit_claim(client, cast.admin, "M1", posted["id"])
    assert retried["status"] == "approved"  # not a duplicate: the failed attempt left nothing


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"member_id": "M1", "settlement_id": 999999}, 404, None),
        ({"member_id": "M404", "settlement_id": 1}, 404, None),
        ({"member_id": "M1", "fixmedins_code": "H1", "setl_id": "NOPE"}, 404, None),
        ({"member_id": "M1", "settlement_id": 1, **received_on("2999-01-01")}, 422, "submitted_on"),
        ({"member_id": "M1", "settlement_id": 1, "setl_id": "S1", "fixmedins_code": "H1"}, 422, "body"),
        ({"member_id": "M1", "setl_id": "S1"}, 422, "body"),
        ({"member_id": "M1"}, 422, "body"),
        ({"member_id": "M1", "settlement_id": 0}, 422, "settlement_id"),
        ({"member_id": "M1", "settlement_id": 1, "extra": 1}, 422, "extra"),
    ],
)
def test_a_claim_that_names_nothing_claimable_is_refused(client, cast, session, body, status, field) -> None:
    posted = post_settlement(client, cast.hospital)
    if body.get("settlement_id") == 1:
        body = {**body, "settlement_id": posted["id"]}
    answer = client.post("/v1/claims", json=body, headers=auth(cast.admin))
    assert answer.status_code == status, answer.text
    if field:
        assert field in [e["field"] for e in answer.json()["errors"]]
    assert count(session, models.Claim) == 0


def test_claims_of_one_member_submitted_at_the_same_time_are_decided_one_after_the_other(app, client, cast) -> None:
    """Both see each other's totals: 3,200.00 and then 3,800.00 on a cumulative 8,000,
    never 3,200.00 twice; and one bill claimed twice at once is paid once."""
    ids = [post_settlement(client, cast.admin, b="8000.00")["id"] for _ in range(2)]
    shared = post_settlement(client, cast.admin, b="1000.00", patient="M2")["id"]
    requests = [("M1", ids[0]), ("M1", ids[1]), ("M2", shared), ("M2", shared)]
    barrier = threading.Barrier(len(requests))
    answers: list[dict] = [{}] * len(requests)

    def submit(i: int) -> None:
        member_id, settlement_id = requests[i]
        with TestClient(app) as own:
            barrier.wait()
            answers[i] = own.post("/v1/claims", headers=auth(cast.admin), json={
                "member_id": member_id, "settlement_id": settlement_id, **received_on()}).json()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(line(a, "MA_IP")["amount"] for a in answers[:2]) == ["3200.00", "3800.00"]
    assert sorted(a["status"] for a in answers[2:]) == ["approved", "denied"]
    assert sorted(codes(line(a, "MA_IP")) for a in answers[2:]) == [[], ["DUPLICATE_BILL"]]


def test_claims_are_listed_newest_first_a_page_at_a_time(client, cast) -> None:
    made = [claim_for(client, cast.admin, "M1", b=f"{1000 + i}.00")["id"] for i in range(5)]

    pages = [client.get("/v1/claims", params={"page": p, "page_size": 2}, headers=auth(cast.admin)).json()
             for p in (1, 2, 3, 4)]

    assert [p["total"] for p in pages] == [5] * 4
    assert [[c["id"] for c in p["items"]] for p in pages] == [made[4:2:-1], made[2:0:-1], made[:1], []]
    assert (pages[1]["page"], pages[1]["page_size"]) == (2, 2)


def test_claims_are_filtered_by_status_member_hospital_and_submission_dates(client, cast) -> None:
    early = claim_for(client, cast.admin, "M1", b="1000.00")
    pended = claim_for(client, cast.admin, "M1", b=HIGH_B)
    late = submit_claim(client, cast.admin, "M2", post_settlement(
        client, cast.hospital_other, fixmedins_code="H2", patient="M2")["id"], submitted_on=f"{YEAR}-09-30")
    # M3's stay at H2 came before any period M3 was enrolled in: denied.
    duplicate = submit_claim(client, cast.admin, "M3", post_settlement(
        client, cast.hospital_other, fixmedins_code="H2", patient="M3", begndate=f"{YEAR - 3}-05-02",
        enddate=f"{YEAR - 3}-05-12")["id"], submitted_on=f"{YEAR}-10-31")
    assert duplicate["status"] == "denied"

    def ids(key: str, **params) -> list[int]:
        answer = client.get("/v1/claims", params=params, headers=auth(key))
        assert answer.status_code == 200, answer.text
        assert answer.json()["total"] == len(answer.json()["items"])
        return sorted(c["id"] for c in answer.json()["items"])

    assert ids(cast.admin) == sorted([early["id"], pended["id"], late["id"], duplicate["id"]])
    assert ids(cast.admin, status="pended") == [pended["id"]]
    assert ids(cast.admin, status="denied") == [duplicate["id"]]
    assert ids(cast.admin, status="approved") == sorted([early["id"], late["id"]])
    assert ids(cast.admin, member_id="M2") == [late["id"]]
    assert ids(cast.admin, hospital="H2") == sorted([late["id"], duplicate["id"]])
    assert ids(cast.admin, submitted_from=f"{YEAR}-07-01") == sorted([late["id"], duplicate["id"]])
    assert ids(cast.admin, submitted_to=f"{YEAR}-09-30") == sorted([early["id"], pended["id"], late["id"]])
    assert ids(cast.admin, submitted_from=f"{YEAR}-09-01", submitted_to=f"{YEAR}-09-30") == [late["id"]]
    assert ids(cast.admin, hospital="H2", status="approved") == [late["id"]]
    # Each caller sees only what is theirs, whatever the filter says.
    assert ids(cast.officer) == sorted([early["id"], pended["id"], late["id"]])
    assert ids(cast.officer_other) == [duplicate["id"]]
    assert ids(cast.officer_other, member_id="M1") == []
    assert ids(cast.member) == sorted([early["id"], pended["id"]])
    assert ids(cast.member, member_id="M2") == []
    assert ids(cast.member_other) == [late["id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "maybe"}, "status"), ({"page": 0}, "page"), ({"page_size": 201}, "page_size"),
     ({"submitted_from": "yesterday"}, "submitted_from")],
)
def test_a_claim_list_with_a_bad_filter_is_refused_naming_the_parameter(client, cast, params, field) -> None:
    answer = client.get("/v1/claims", params=params, headers=auth(cast.admin))
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]


def test_each_line_of_a_claim_answer_carries_its_benefit_name_and_a_readable_explanation(client, cast) -> None:
    from tests.api.builders import claim_for as _claim_for

    claim = _claim_for(client, cast.admin, "M1")
    read = client.get(f"/v1/claims/{claim['id']}", headers={"Authorization": f"Bearer {cast.member}"}).json()
    for answer in (claim, read):
        line = next(ln for ln in answer["lines"] if ln["benefit"] == "MA_IP")
        assert (line["name_zh"], line["name_en"]) == ("住院及门诊特殊病互助金", "Inpatient and special-outpatient mutual aid")
        # B = 1,000.00 of a renewing member with nothing earlier: the first band, 40%.
        assert line["explanation_zh"] == "给付400.00元；0.00–1,000.00元按40%：400.00元。"
        assert line["explanation_en"] == "Paid 400.00 yuan; 0.00–1,000.00 yuan at 40%: 400.00 yuan."
        relief = next(ln for ln in answer["lines"] if ln["benefit"] == "CIR")
        assert relief["explanation_zh"] == "本项不适用；入院时未在困难职工档案中。"
