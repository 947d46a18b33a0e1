"""Corrections: a member's name and resident identity number, an enrollment's end, a draft plan.

Each correction leaves an audit entry with the values before and after; a refused one
changes nothing and adds no entry. An officer corrects their own union's members only:
any other is answered as an unknown id. Settlements are never edited.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import models
from tests.builders import certno_for
from tests.api.builders import YEAR, auth, claim_for, post_settlement, submit_claim

UNKNOWN_ID = 2**31 - 1


def _audit(session: Session) -> list[models.AuditEntry]:
    return list(session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id)))


def _entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(models.AuditEntry))


def _member(session: Session, member_id: str) -> tuple[str, str | None]:
    row = session.get(models.Member, member_id)
    return row.name, row.certno


def _enrollments(client, key: str, member_id: str) -> dict[int, dict]:
    """The member's enrollments by the year they start."""
    detail = client.get(f"/v1/members/{member_id}", headers=auth(key)).json()
    return {int(e["period_start"][:4]): e for e in detail["enrollments"]}


def _claim_in(client, cast, month: str) -> dict:
    """M1's claim for a stay from the 2nd to the 12th of ``month`` of YEAR, received on the 20th."""
    posted = post_settlement(client, cast.admin, begndate=f"{YEAR}-{month}-02", enddate=f"{YEAR}-{month}-12")
    return submit_claim(client, cast.admin, "M1", posted["id"], submitted_on=f"{YEAR}-{month}-20")


def _patch_end(client, key: str, enrollment_id: int, period_end: str):
    return client.patch(f"/v1/enrollments/{enrollment_id}", json={"period_end": period_end}, headers=auth(key))


# ----------------------------------------------------------------------------- members


def test_an_officer_corrects_a_members_name_and_certno_and_the_audit_keeps_both_values(client, cast, session) -> None:
    true_number = certno_for("M1-corrected")
    # Written with a lower-case x and full-width digits where it has them: stored as parse_certno reads it.
    answer = client.patch("/v1/members/M1", json={"name": "王秀英", "certno": true_number.lower()},
                          headers=auth(cast.officer))

    assert answer.status_code == 200, answer.text
    assert (answer.json()["name"], answer.json()["certno"]) == ("王秀英", true_number)
    assert _member(session, "M1") == ("王秀英", true_number)
    entry = _audit(session)[-1]
    assert (entry.action, entry.entity, entry.entity_id) == ("member.corrected", "member", "M1")
    assert entry.details == {"before": {"name": "", "certno": certno_for("M1")},
                             "after": {"name": "王秀英", "certno": true_number}}

    # Only what differs is corrected; the same values again change nothing and add no entry.
    before = _entries(session)
    again = client.patch("/v1/members/M1", json={"name": "王秀英"}, headers=auth(cast.officer))
    assert again.status_code == 200 and _entries(session) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [({"certno": "150102197903140022"}, "certno"),  # a wrong check digit
     ({"certno": "15010219790314002"}, "certno"),
     ({"name": None}, "name"),
     ({"certno": None}, "certno"),
     ({"name": "王\u200b秀英"}, "name"),
     ({"name": "王秀英", "union_id": "U2"}, "union_id"),  # a member does not move union by a correction
     ({}, "body")],
)
def test_a_bad_correction_is_422_naming_the_field_and_changes_nothing(client, cast, session, body, field) -> None:
    before = (_member(session, "M1"), _entries(session))
    answer = client.patch("/v1/members/M1", json=body, headers=auth(cast.officer))
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert (_member(session, "M1"), _entries(session)) == before


def test_a_certno_registered_to_another_member_is_409_without_naming_them(client, cast, session) -> None:
    before = (_member(session, "M1"), _entries(session))
    for holder in ("M2", "M3"):  # of the same union, and of another
        answer = client.patch("/v1/members/M1", json={"certno": certno_for(holder)}, headers=auth(cast.officer))
        assert answer.status_code == 409, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == ["certno"]
        assert holder not in answer.text
    assert (_member(session, "M1"), _entries(session)) == before


def test_another_unions_member_is_corrected_by_nobody_but_their_officers(client, cast, session) -> None:
    before = (_member(session, "M3"), _entries(session))
    theirs = client.patch("/v1/members/M3", json={"name": "改名"}, headers=auth(cast.officer))
    unknown = client.patch("/v1/members/NO-SUCH-ID", json={"name": "改名"}, headers=auth(cast.officer))
    assert (theirs.status_code, theirs.json()["detail"]) == (404, "no member M3")
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "no member NO-SUCH-ID")
    assert client.patch("/v1/members/M1", json={"name": "改名"}, headers=auth(cast.member)).status_code == 403
    assert (_member(session, "M3"), _entries(session)) == before


# ----------------------------------------------------------------------------- enrollments


def test_an_enrollment_without_claims_ends_earlier_and_the_audit_keeps_both_ends(client, cast, session) -> None:
    current = _enrollments(client, cast.officer, "M1")[YEAR]

    answer = _patch_end(client, cast.officer, current["id"], f"{YEAR}-06-30")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {**current, "period_end": f"{YEAR}-06-30"}
    entry = _audit(session)[-1]
    assert (entry.action, entry.entity, entry.entity_id) == ("enrollment.corrected", "enrollment", str(current["id"]))
    assert entry.details == {"member_id": "M1", "before": {"period_end": f"{YEAR}-12-31"},
                             "after": {"period_end": f"{YEAR}-06-30"}}
    # Ending earlier, the member is no longer covered after it: a claim for a stay in July is denied.
    assert _claim_in(client, cast, "09")["status"] == "denied"


def test_an_enrollment_end_before_its_start_or_overlapping_the_next_is_422_at_period_end(client, cast, session) -> None:
    periods = _enrollments(client, cast.officer, "M1")
    before = (_enrollments(client, cast.officer, "M1"), _entries(session))
    for end in (f"{YEAR - 2}-12-31", f"{YEAR}-01-01"):
        answer = _patch_end(client, cast.officer, periods[YEAR - 1]["id"], end)
        assert answer.status_code == 422, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == ["period_end"]
    assert (_enrollments(client, cast.officer, "M1"), _entries(session)) == before


def test_an_enrollment_a_claim_was_decided_under_keeps_its_end_409_with_the_count(client, cast, session) -> None:
    claim_for(client, cast.admin, "M1")  # admitted YEAR-05-02
    _claim_in(client, cast, "09")
    periods = _enrollments(client, cast.officer, "M1")
    before = (_enrollments(client, cast.officer, "M1"), _entries(session))

    for end in (f"{YEAR}-08-31", f"{YEAR}-12-30", f"{YEAR + 1}-03-31"):  # before the claims, after them, longer
        answer = _patch_end(client, cast.officer, periods[YEAR]["id"], end)
        assert answer.status_code == 409, answer.text
        assert "2 claim(s)" in answer.json()["detail"]
    # The period before has no claim of its own, but ending it a day earlier would part it
    # from this one: the claims above were decided for a renewing member.
    parted = _patch_end(client, cast.officer, periods[YEAR - 1]["id"], f"{YEAR - 1}-12-30")
    assert parted.status_code == 409, parted.text
    assert "2 claim(s)" in parted.json()["detail"]
    assert (_enrollments(client, cast.officer, "M1"), _entries(session)) == before

    # M2 has no claim: the same change is made.
    of_m2 = _enrollments(client, cast.officer, "M2")[YEAR - 1]
    assert _patch_end(client, cast.officer, of_m2["id"], f"{YEAR - 1}-12-30").status_code == 200


def test_another_unions_enrollment_is_answered_as_an_unknown_one(client, cast, session) -> None:
    theirs = _enrollments(client, cast.admin, "M3")[YEAR]
    before = _entries(session)
    answer = _patch_end(client, cast.officer, theirs["id"], f"{YEAR}-06-30")
    unknown = _patch_end(client, cast.officer, UNKNOWN_ID, f"{YEAR}-06-30")
    assert (answer.status_code, answer.json()["detail"]) == (404, f"no enrollment {theirs['id']}")
    assert (unknown.status_code, unknown.json()["detail"]) == (404, f"no enrollment {UNKNOWN_ID}")
    assert "M3" not in answer.text
    assert _patch_end(client, cast.member, theirs["id"], f"{YEAR}-06-30").status_code == 403
    assert _enrollments(client, cast.admin, "M3")[YEAR] == theirs and _entries(session) == before


# ----------------------------------------------------------------------------- plans


def _draft(client, cast, **based) -> dict:
    plans = client.get("/v1/plans", headers=auth(cast.admin)).json()["items"]
    published = next(p for p in plans if p["status"] == "published")
    document = client.get(f"/v1/plans/{published['id']}", headers=auth(cast.admin)).json()["document"]
    made = client.post("/v1/plans", json=document, headers=auth(cast.admin))
    assert made.status_code == 201, made.text
    return made.json()


def test_a_draft_is_deleted_and_the_audit_keeps_its_document(client, cast, session) -> None:
    draft = _draft(client, cast)

    answer = client.delete(f"/v1/plans/{draft['id']}", headers=auth(cast.admin))

    assert (answer.status_code, answer.content) == (204, b"")
    assert client.get(f"/v1/plans/{draft['id']}", headers=auth(cast.admin)).status_code == 404
    entry = _audit(session)[-1]
    assert (entry.action, entry.entity_id, entry.details["after"]) == ("plan.deleted", str(draft["id"]), None)
    assert entry.details["before"]["document"] == draft["document"]
    assert entry.details["before"]["status"] == "draft"
    assert client.delete(f"/v1/plans/{draft['id']}", headers=auth(cast.admin)).status_code == 404


def test_published_retired_and_derived_from_versions_are_not_deleted(client, cast, session, monkeypatch) -> None:
    monkeypatch.setattr("service.simulation.launch", lambda job_id, db_url: None)  # the job stays queued
    plans = client.get("/v1/plans", headers=auth(cast.admin)).json()["items"]
    published = next(p for p in plans if p["status"] == "published")
    retired = _draft(client, cast)
    for step, body in (("publish", {"effective_from": "2100-01-01"}), ("retire", None)):
        assert client.post(f"/v1/plans/{retired['id']}/{step}", json=body, headers=auth(cast.admin)).status_code == 200
    base = _draft(client, cast)
    derived = client.post(f"/v1/plans/{base['id']}/derive", headers=auth(cast.admin), json={
        "patch": [{"op": "replace", "path": "/title_en", "value": "derived"}]}).json()
    simulated = _draft(client, cast)
    job = client.post(f"/v1/plans/{simulated['id']}/simulate", json={}, headers=auth(cast.admin)).json()
    before = (client.get("/v1/plans", headers=auth(cast.admin)).json(), _entries(session))

    for plan_id, says in ((published["id"], "is published"), (retired["id"], "is retired"),
                          (base["id"], f"base of version(s) {derived['id']}"), (simulated["id"], f"job(s) {job['id']}")):
        answer = client.delete(f"/v1/plans/{plan_id}", headers=auth(cast.admin))
        assert answer.status_code == 409, answer.text
        assert says in answer.json()["detail"]
    assert client.delete(f"/v1/plans/{UNKNOWN_ID}", headers=auth(cast.admin)).status_code == 404
    assert client.delete(f"/v1/plans/{base['id']}", headers=auth(cast.officer)).status_code == 403
    assert (client.get("/v1/plans", headers=auth(cast.admin)).json(), _entries(session)) == before


# ----------------------------------------------------------------------------- settlements


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_settlement_is_never_edited(client, cast, session, method) -> None:
    posted = post_settlement(client, cast.hospital)
    answer = client.request(method, f"/v1/settlements/{posted['id']}", json={"medfee_sumamt": "1.00"},
                            headers=auth(cast.admin))
    assert answer.status_code == 405, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert session.get(models.Settlement, posted["id"]).record == posted["record"]
