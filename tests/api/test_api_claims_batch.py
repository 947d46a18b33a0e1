"""Claims in a batch: decided in order exactly as one by one, all stored or none."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import audit, consistency
from service.schemas import MAX_CLAIMS_PER_BATCH
from store import models
from tests.api.builders import LUNG_CANCER, YEAR, auth, post_settlement, received_on, submit_claim

# Near the caps: MA_IP base piles up over the year, a lung cancer draws the one-off
# critical-illness grant once, and one bill comes twice.
STORY = [
    {"b": "8000.00"},
    {"b": "30000.00", "diag_code": LUNG_CANCER},
    {"b": "45000.00", "diag_code": LUNG_CANCER, "begndate": f"{YEAR}-07-02", "enddate": f"{YEAR}-07-20"},
    {"b": "12000.00", "begndate": f"{YEAR}-09-02", "enddate": f"{YEAR}-09-09"},
    {"b": "150000.00", "begndate": f"{YEAR}-10-02", "enddate": f"{YEAR}-10-30"},
]
STORY_RECEIVED = f"{YEAR}-11-30"  # after the last discharge, within the period's 90 days


def _count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _outcome(claim: dict) -> tuple:
    return (claim["status"], claim["total"], claim["plan_version"],
            [(ln["benefit"], ln["status"], ln["amount"], [r["code"] for r in ln["reasons"]]) for ln in claim["lines"]])


def _post_story(client, key, patient: str) -> list[int]:
    ids = [post_settlement(client, key, patient=patient, **bill)["id"] for bill in STORY]
    return ids + [ids[1]]  # the lung-cancer bill claimed again: a duplicate


def test_a_batch_decides_each_claim_as_if_submitted_alone_in_its_order(client, cast, session) -> None:
    one_by_one = [submit_claim(client, cast.admin, "M1", sid, submitted_on=STORY_RECEIVED)
                  for sid in _post_story(client, cast.hospital, "M1")]

    answer = client.post("/v1/claims/batch", headers=auth(cast.officer), json={"claims": [
        {"member_id": "M2", "settlement_id": sid, **received_on(STORY_RECEIVED)}
        for sid in _post_story(client, cast.hospital, "M2")]})

    assert answer.status_code == 201, answer.text
    batch = answer.json()["claims"]
    assert [_outcome(c) for c in batch] == [_outcome(c) for c in one_by_one]
    # The story reaches what it is meant to: a grant paid once, a duplicate, a pended high amount.
    assert [c["status"] for c in batch][-2:] == ["pended", "denied"]
    assert "DUPLICATE_BILL" in [r["code"] for r in batch[-1]["lines"][0]["reasons"]]
    # Stored as answered, each with its own audit entry, totals equal to the lines behind them.
    for claim in batch:
        stored = client.get(f"/v1/claims/{claim['id']}", headers=auth(cast.admin)).json()
        assert _outcome(stored) == _outcome(claim) and stored["trace"] == claim["trace"]
    accumulators = {m: {(a.benefit, a.measure, a.scope): a.value for a in session.scalars(
        select(models.Accumulator).where(models.Accumulator.member_id == m))} for m in ("M1", "M2")}
    assert accumulators["M1"] == accumulators["M2"] and accumulators["M1"]
    assert consistency.check(session) == []
    assert audit.verify(session) == []
    entries = session.scalars(select(models.AuditEntry.entity_id).where(
        models.AuditEntry.action == "claim.adjudicated", models.AuditEntry.actor.like("%(officer)"))).all()
    assert entries == [str(c["id"]) for c in batch]


def test_one_refused_item_refuses_the_batch_and_names_it(client, cast, session) -> None:
    good = post_settlement(client, cast.hospital)["id"]
    cases = [
        ({"member_id": "M1", "settlement_id": 999999}, 404, "claims[1].settlement_id"),
        ({"member_id": "M1", "fixmedins_code": "H1", "setl_id": "NOPE"}, 404, "claims[1].setl_id"),
        ({"member_id": "M404", "settlement_id": good}, 404, "claims[1].member_id"),
        ({"member_id": "M1", "settlement_id": good, **received_on("2999-01-01")}, 422, "claims[1].submitted_on"),
        ({"member_id": "M1"}, 422, "claims[1]"),
    ]
    before = (_count(session, models.Claim), _count(session, models.AuditEntry), _count(session, models.Accumulator))
    for item, status, field in cases:
        answer = client.post("/v1/claims/batch", headers=auth(cast.admin), json={"claims": [
            {"member_id": "M1", "settlement_id": good, **received_on()}, item]})
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert any(e["field"].startswith(field) for e in answer.json()["errors"]), (field, answer.json())
    after = (_count(session, models.Claim), _count(session, models.AuditEntry), _count(session, models.Accumulator))
    assert after == before == (0, before[1], 0)
    # Nothing was half-written: the good item is still claimable, and not a duplicate.
    assert submit_claim(client, cast.admin, "M1", good)["status"] == "approved"


def test_an_officer_cannot_slip_another_unions_member_into_a_batch(client, cast, session) -> None:
    ids = [post_settlement(client, cast.hospital)["id"] for _ in range(2)]
    answer = client.post("/v1/claims/batch", headers=auth(cast.officer), json={"claims": [
        {"member_id": "M1", "settlement_id": ids[0], **received_on()},
        {"member_id": "M3", "settlement_id": ids[1], **received_on()}]})  # M3 is in U2
    assert answer.status_code == 404, answer.text  # as an unknown member, naming the item
    assert answer.json()["errors"] == [{"field": "claims[1].member_id", "message": "no such member"}]
    assert _count(session, models.Claim) == 0


def test_a_batch_is_bounded(client, cast) -> None:
    sid = post_settlement(client, cast.hospital)["id"]
    item = {"member_id": "M1", "settlement_id": sid, **received_on()}
    for claims, field in (([], "claims"), ([item] * (MAX_CLAIMS_PER_BATCH + 1), "claims")):
        answer = client.post("/v1/claims/batch", headers=auth(cast.admin), json={"claims": claims})
        assert answer.status_code == 422, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == [field]
