"""Review: officers approve, deny or adjust (down) pended lines; every action is in the audit log."""

from __future__ import annotations

import copy

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service import audit
from store import models
from tests.api.builders import HIGH_B, YEAR, auth, claim_for, codes, line, post_settlement, review, submit_claim


def totals(session: Session, member_id: str) -> dict[tuple[str, str], int]:
    """A member's accumulators by (benefit, measure), zeros left out."""
    rows = session.scalars(select(models.Accumulator).where(models.Accumulator.member_id == member_id))
    return {(a.benefit, a.measure): a.value for a in rows if a.value}


def approve(benefit: str, note: str = "核实无误") -> dict:
    return {"benefit": benefit, "action": "approve", "note": note}


def deny(benefit: str, note: str = "材料不全，不予给付") -> dict:
    return {"benefit": benefit, "action": "deny", "note": note}


def adjust(benefit: str, amount: str, note: str = "部分费用不合规") -> dict:
    return {"benefit": benefit, "action": "adjust", "amount": amount, "note": note}


def test_a_high_amount_claim_is_pended_line_by_line(client, cast) -> None:
    claim = claim_for(client, cast.admin, "M1", b=HIGH_B)
    assert (claim["status"], claim["total"]) == ("pended", "103700.00")
    assert [(ln["status"], ln["amount"], codes(ln)) for ln in claim["lines"][:2]] == [
        ("pended", "103500.00", ["HIGH_AMOUNT_REVIEW"]), ("pended", "200.00", ["HIGH_AMOUNT_REVIEW"])]


def test_pended_claims_wait_in_the_review_queue_of_their_union_oldest_first(client, cast) -> None:
    first = claim_for(client, cast.admin, "M1", b=HIGH_B)
    claim_for(client, cast.admin, "M2", b="1000.00")  # approved: not in the queue
    other_union = claim_for(client, cast.admin, "M3", b=HIGH_B)
    second = claim_for(client, cast.admin, "M2", b=HIGH_B)

    def queue(key: str) -> list[int]:
        answer = client.get("/v1/review-queue", headers=auth(key))
        assert answer.status_code == 200, answer.text
        return [c["id"] for c in answer.json()["items"]]

    assert queue(cast.admin) == [first["id"], other_union["id"], second["id"]]
    assert queue(cast.officer) == [first["id"], second["id"]]
    assert queue(cast.officer_other) == [other_union["id"]]

    review(client, cast.officer, first["id"], approve("MA_IP"), approve("MA_DA"))
    assert queue(cast.officer) == [second["id"]]


def test_approving_the_pended_lines_pays_them_as_decided(client, cast, session) -> None:
    claim = claim_for(client, cast.admin, "M1", b=HIGH_B)
    before = totals(session, "M1")

    reviewed = review(client, cast.officer, claim["id"], approve("MA_IP", "入院记录齐全"), approve("MA_DA"))

    assert (reviewed["status"], reviewed["total"]) == ("approved", "103700.00")
    ma_ip = line(reviewed, "MA_IP")
    assert (ma_ip["status"], ma_ip["amount"], ma_ip["review_note"]) == ("approved", "103500.00", "入院记录齐全")
    assert line(reviewed, "MA_DA")["status"] == "approved"
    assert totals(session, "M1") == before
    assert client.get(f"/v1/claims/{claim['id']}", headers=auth(cast.member)).json() == reviewed


def test_a_review_of_some_lines_leaves_the_claim_pended_for_the_others(client, cast) -> None:
    claim = claim_for(client, cast.admin, "M1", b=HIGH_B)
    reviewed = review(client, cast.officer, claim["id"], approve("MA_IP"))
    assert reviewed["status"] == "pended"
    assert (line(reviewed, "MA_IP")["status"], line(reviewed, "MA_DA")["status"]) == ("approved", "pended")


def test_denying_a_pended_line_releases_what_it_reserved_so_the_next_claim_finds_the_cap_free(
    client, cast, session
) -> None:
    """B = 554,000 pays exactly the 500,000.00 MA_IP cap (146,000 up to 200,000, then 100%),
    pended. While it is pended the cap is taken; once it is denied, the cap and the
    cumulative base are free again and the next claim starts in the 40% band."""
    big = claim_for(client, cast.admin, "M1", b="554000.00", begndate=f"{YEAR}-02-01", enddate=f"{YEAR}-02-11")
    assert (line(big, "MA_IP")["status"], line(big, "MA_IP")["amount"]) == ("pended", "500000.00")
    while_pended = claim_for(client, cast.admin, "M1", b="10000.00", begndate=f"{YEAR}-03-01", enddate=f"{YEAR}-03-11")
    assert codes(line(while_pended, "MA_IP")) == ["ANNUAL_CAP_REACHED"]

    reviewed = review(client, cast.officer, big["id"], deny("MA_IP"), deny("MA_DA"))

    assert (reviewed["status"], reviewed["total"]) == ("denied", "0.00")
    ma_ip = line(reviewed, "MA_IP")
    assert (ma_ip["status"], ma_ip["amount"], ma_ip["review_note"]) == ("denied", "0.00", "材料不全，不予给付")
    assert ma_ip["reasons"] == [{"code": "REVIEW_DENIED", "zh": "经人工复核不予给付", "en": "Denied at manual review"}]
    assert ("MA_IP", "paid") not in totals(session, "M1") and ("MA_IP", "base") not in totals(session, "M1")
    after = claim_for(client, cast.admin, "M1", b="10000.00", begndate=f"{YEAR}-04-01", enddate=f"{YEAR}-04-11")
    assert (line(after, "MA_IP")["status"], line(after, "MA_IP")["amount"]) == ("approved", "4000.00")
    # Days: the denied claim's 10 are released, the two others' 20 remain.
    assert totals(session, "M1")[("MA_DA", "days")] == 20


def test_adjusting_a_pended_line_down_pays_the_new_amount_and_releases_the_difference(client, cast, session) -> None:
    claim = claim_for(client, cast.admin, "M1", b=HIGH_B)
    before = totals(session, "M1")
    assert before[("MA_IP", "paid")] == 10_350_000

    reviewed = review(client, cast.officer, claim["id"], adjust("MA_IP", "90000.00"))

    ma_ip = line(reviewed, "MA_IP")
    assert (ma_ip["status"], ma_ip["amount"]) == ("approved", "90000.00")
    assert codes(ma_ip) == ["HIGH_AMOUNT_REVIEW", "REVIEW_ADJUSTED"]
    assert (reviewed["status"], reviewed["total"]) == ("pended", "90200.00")  # MA_DA still waits
    after = totals(session, "M1")
    assert after[("MA_IP", "paid")] == 9_000_000
    assert after[("MA_IP", "base")] == before[("MA_IP", "base")]  # what was spent stays spent


def test_a_line_cannot_be_adjusted_up_or_to_nothing_and_a_refused_review_changes_nothing(client, cast, session) -> None:
    claim = claim_for(client, cast.admin, "M1", b=HIGH_B)
    before = totals(session, "M1")
    refusals = [
        ([adjust("MA_IP", "103500.01")], "lines[0].amount"),
        ([adjust("MA_IP", "0.00")], "lines[0].amount"),
        ([adjust("MA_IP", "12.345")], "lines[0].amount"),
        ([adjust("MA_IP", "-1")], "lines[0].amount"),
        ([{"benefit": "MA_IP", "action": "adjust", "note": "no amount"}], "lines[0].amount"),
        ([{**approve("MA_IP"), "amount": "1.00"}], "lines[0].amount"),
        ([approve("MA_DA"), adjust("MA_IP", "200000.00")], "lines[1].amount"),
        ([approve("MA_XX")], "lines[0].benefit"),
        ([approve("MA_IP"), deny("MA_IP")], "lines[1].benefit"),
        ([{"benefit": "MA_IP", "action": "approve"}], "lines[0].note"),
        ([{"benefit": "MA_IP", "action": "pay", "note": "?"}], "lines[0].action"),
        ([], "lines"),
    ]
    for lines, field in refusals:
        answer = client.post(f"/v1/claims/{claim['id']}/review", json={"lines": lines}, headers=auth(cast.officer))
        assert answer.status_code == 422, (lines, answer.text)
        assert field in [e["field"] for e in answer.json()["errors"]], (lines, answer.json())

    unchanged = client.get(f"/v1/claims/{claim['id']}", headers=auth(cast.officer)).json()
    assert unchanged == claim
    assert totals(session, "M1") == before


def test_reviewing_a_line_that_is_not_pended_is_a_conflict(client, cast, session) -> None:
    approved = claim_for(client, cast.admin, "M1", b="1000.00")
    pended = claim_for(client, cast.admin, "M2", b=HIGH_B)
    before = totals(session, "M2")

    answers = [
        client.post(f"/v1/claims/{approved['id']}/review", json={"lines": [approve("MA_IP")]}, headers=auth(cast.officer)),
        # One line that may be reviewed and one that may not: neither is.
        client.post(f"/v1/claims/{pended['id']}/review", json={"lines": [deny("MA_IP"), approve("MA_CI")]},
                    headers=auth(cast.officer)),
    ]
    assert [a.status_code for a in answers] == [409, 409], [a.text for a in answers]
    assert "MA_CI" in answers[1].json()["detail"]
    assert client.get(f"/v1/claims/{pended['id']}", headers=auth(cast.officer)).json() == pended
    assert totals(session, "M2") == before

    review(client, cast.officer, pended["id"], approve("MA_IP"))
    twice = client.post(f"/v1/claims/{pended['id']}/review", json={"lines": [deny("MA_IP")]}, headers=auth(cast.officer))
    assert twice.status_code == 409


def test_reviewing_an_unknown_claim_is_not_found(client, cast) -> None:
    answer = client.post("/v1/claims/999999/review", json={"lines": [approve("MA_IP")]}, headers=auth(cast.admin))
    assert answer.status_code == 404


def test_every_action_is_in_the_audit_log_and_the_chain_holds(client, cast, session) -> None:
    posted = post_settlement(client, cast.hospital)
    claimed = submit_claim(client, cast.member, "M1", posted["id"], submitted_on=None)
    to_deny = claim_for(client, cast.admin, "M2", b=HIGH_B)
    to_adjust = claim_for(client, cast.admin, "M3", b=HIGH_B)
    review(client, cast.officer, to_deny["id"], deny("MA_IP"), approve("MA_DA"))
    review(client, cast.officer_other, to_adjust["id"], adjust("MA_IP", "50000.00"), deny("MA_DA"))

    entries = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id)).all()
    trail = [(e.action, e.entity, e.entity_id) for e in entries if e.entity in ("settlement", "claim")]
    assert trail[0] == ("settlement.posted", "settlement", str(posted["id"]))
    assert trail[1] == ("claim.adjudicated", "claim", str(claimed["id"]))
    assert trail[-2:] == [("claim.reviewed", "claim", str(to_deny["id"])), ("claim.reviewed", "claim", str(to_adjust["id"]))]
    reviewed = [e for e in entries if e.action == "claim.reviewed"]
    assert [(ln["benefit"], ln["action"], ln["note"]) for ln in reviewed[1].details["lines"]] == [
        ("MA_IP", "adjust", "部分费用不合规"), ("MA_DA", "deny", "材料不全，不予给付")]
    assert reviewed[1].details["lines"][0]["amount"] == "50000.00"
    assert all(e.actor.startswith("key:") and "(officer)" in e.actor for e in reviewed)
    assert entries[0].prev_hash == audit.GENESIS
    assert audit.verify(session) == []


def test_the_audit_chain_names_an_entry_edited_or_deleted_behind_its_back(client, cast, session) -> None:
    claim = claim_for(client, cast.admin, "M1", b=HIGH_B)
    review(client, cast.officer, claim["id"], adjust("MA_IP", "1.00"), approve("MA_DA"))
    entry = session.scalar(select(models.AuditEntry).where(models.AuditEntry.action == "claim.reviewed"))
    entry_id, details = entry.id, copy.deepcopy(entry.details)
    assert audit.verify(session) == []

    forged = {**details, "lines": [{**details["lines"][0], "amount": "103500.00"}, details["lines"][1]]}
    session.execute(update(models.AuditEntry).where(models.AuditEntry.id == entry_id).values(details=forged))
    problems = audit.verify(session)
    assert problems and f"(id {entry_id}, " in problems[0] and "edited" in problems[0]

    session.execute(update(models.AuditEntry).where(models.AuditEntry.id == entry_id).values(details=details))
    assert audit.verify(session) == []
    earlier = session.scalar(select(models.AuditEntry.id).where(models.AuditEntry.action == "claim.adjudicated"))
    session.execute(delete(models.AuditEntry).where(models.AuditEntry.id == earlier))
    assert any("missing" in p for p in audit.verify(session))
