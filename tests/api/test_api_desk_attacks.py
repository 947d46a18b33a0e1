"""Attacks on the hospital desk after its turns, async unit of work, grade read with the key and audit head.

Each refusal is checked for its status, the field it names and that nothing was stored
(every table's rows counted before and after); the audit chain verifies and its head
row is the last audit_log entry.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from service import audit
from service.auth import Role
from store import models
from tests.api.builders import auth, settlement
from tests.api.conftest import make_key
from tests.api.test_api_desk import bill, counts, desk, direct  # noqa: F401  (desk: the fixture)

DESK = ("/v1/settlements/direct", "/v1/settlements/preview")


def head_is_last_entry(session: Session) -> tuple[int, str]:
    head = session.execute(select(models.AuditHead.position, models.AuditHead.entry_hash)).one()
    last = session.execute(select(models.AuditEntry.position, models.AuditEntry.entry_hash)
                           .order_by(models.AuditEntry.position.desc()).limit(1)).first()
    if last is not None:
        assert tuple(head) == tuple(last)
    assert audit.verify(session) == []
    return tuple(head)


def fields(answer) -> list[str]:
    return [e["field"] for e in answer.json().get("errors", [])]


def set_grade(db: Engine, code: str, grade: str) -> None:
    with db.begin() as conn:
        conn.execute(update(models.Hospital).where(models.Hospital.code == code).values(grade=grade))


def test_another_hospitals_key_cannot_post_or_preview_a_bill_of_h1(client: TestClient, desk, session: Session) -> None:
    before, head = counts(session), head_is_last_entry(session)
    for path in DESK:
        answer = client.post(path, json=bill(), headers=auth(desk.hospital_other))
        assert answer.status_code == 403, answer.text
    # H2's key and H1's grade changed: the key's own grade must not stand in for H1's.
    answer = client.post(DESK[0], json=bill(hosp_lv="03"), headers=auth(desk.hospital_other))
    assert answer.status_code == 403, answer.text
    assert counts(session) == before and head_is_last_entry(session) == head


def test_a_bill_of_another_grade_is_refused_naming_hosp_lv_also_right_after_the_grade_changes(
        client: TestClient, desk, db: Engine, session: Session) -> None:
    before = counts(session)
    for path in DESK:
        answer = client.post(path, json=bill(hosp_lv="03"), headers=auth(desk.hospital))
        assert answer.status_code == 422 and fields(answer) == ["hosp_lv"], answer.text
    assert client.post(DESK[1], json=bill(), headers=auth(desk.hospital)).status_code == 200
    set_grade(db, "H1", "03")  # no endpoint changes a grade: an administrator's change in the registry
    for path in DESK:
        answer = client.post(path, json=bill(), headers=auth(desk.hospital))  # hosp_lv 02: no longer the grade
        assert answer.status_code == 422 and fields(answer) == ["hosp_lv"], answer.text
        assert "grade 03" in answer.text
    assert counts(session) == before
    got = direct(client, desk.hospital, bill(hosp_lv="03"))  # the new grade applies at once
    assert got["claim_made"] is True
    head_is_last_entry(session)


def test_the_same_settlement_twice_and_twice_at_once_makes_one_claim_and_one_set_of_entries(
        app, client: TestClient, desk, session: Session) -> None:
    record = bill()
    base = counts(session)
    first = direct(client, desk.hospital, record)
    after_first = counts(session)
    per_bill = after_first["audit_log"] - base["audit_log"]
    assert direct(client, desk.hospital, record, expect=200) == first
    assert counts(session) == after_first
    head_is_last_entry(session)

    other = bill()
    barrier = threading.Barrier(4)
    answers: list = [None] * 4

    def send(i: int) -> None:
        with TestClient(app) as own:
            barrier.wait()
            answers[i] = own.post("/v1/settlements/direct", json=other, headers=auth(desk.hospital))

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["claim_id"] for a in answers}) == 1
    now = counts(session)
    assert now["claims"] == after_first["claims"] + 1 and now["settlements"] == after_first["settlements"] + 1
    assert now["audit_log"] - after_first["audit_log"] == per_bill > 0  # one set of entries
    head_is_last_entry(session)


@pytest.mark.parametrize("body, field, status", [
    ({**bill(), "medfee_sumamt": "abc"}, "medfee_sumamt", 422),
    ({**bill(), "setl_id": None}, "setl_id", 422),
    ({**bill(), "begndate": ["2025-01-01"]}, "begndate", 422),
    ({**bill(), "psn_name": "x" * (3 * 1024 * 1024)}, None, 413),
    (json.loads("[" * 200 + "]" * 200), "body", 422),
    ({**bill(), "psn_name": json.loads("{\"a\":" * 100 + "1" + "}" * 100)}, "body", 422),
])
def test_a_malformed_huge_or_deep_body_is_refused_and_nothing_is_stored(
        client: TestClient, desk, session: Session, body, field, status) -> None:
    before, head = counts(session), head_is_last_entry(session)
    for path in DESK:
        answer = client.post(path, json=body, headers=auth(desk.hospital))
        assert answer.status_code == status, answer.text[:300]
        assert answer.headers["content-type"] == "application/problem+json"
        if field is not None:
            assert field in fields(answer), answer.text[:300]
    raw = client.post(DESK[0], content=b'{"setl_id": "S1", ', headers={**auth(desk.hospital),
                                                                     "content-type": "application/json"})
    assert raw.status_code == 422, raw.text
    assert counts(session) == before and head_is_last_entry(session) == head


@pytest.mark.parametrize("number", ["9" * 4301, "9" * 5000 + ".5"])
def test_an_amount_of_more_digits_than_python_reads_is_refused_at_the_body_and_nothing_is_stored(
        client: TestClient, desk, session: Session, number) -> None:
    """A bare JSON number, not a decimal string: json.loads raises ValueError for the integer (once a 500)."""
    before, head = counts(session), head_is_last_entry(session)
    record = json.dumps({**bill(), "overlmt_selfpay": "@"}).replace('"@"', number).encode()
    for path in (*DESK, "/v1/settlements"):
        answer = client.post(path, content=record, headers={**auth(desk.hospital), "content-type": "application/json"})
        assert answer.status_code == 422, answer.text[:300]
        assert fields(answer) in (["body"], ["overlmt_selfpay"]), answer.text[:300]
    assert counts(session) == before and head_is_last_entry(session) == head


def test_a_stay_before_any_plan_is_in_force_stores_nothing_and_leaves_the_audit_head(
        client: TestClient, desk, session: Session) -> None:
    direct(client, desk.hospital, bill())  # an audit head past zero
    before, head = counts(session), head_is_last_entry(session)
    record = settlement(begndate="1999-12-01", enddate="1999-12-10")
    for path in DESK:
        answer = client.post(path, json=record, headers=auth(desk.hospital))
        assert answer.status_code == 422 and "begndate" in fields(answer), answer.text
    assert counts(session) == before and head_is_last_entry(session) == head


def test_member_other_union_and_revoked_keys_are_refused_on_every_desk_route(
        client: TestClient, desk, db: Engine, session: Session) -> None:
    got = direct(client, desk.hospital, bill())
    revoked = make_key(db, Role.HOSPITAL, hospital_code="H1")
    with db.begin() as conn:
        conn.execute(update(models.ApiKey).where(models.ApiKey.hospital_code == "H1",
                                                 models.ApiKey.key_hash.isnot(None))
                     .where(models.ApiKey.prefix == revoked.split("_")[1])
                     .values(revoked_at=dt.datetime.now(dt.timezone.utc)))
    before, head = counts(session), head_is_last_entry(session)
    sid = got["settlement_id"]
    calls = [("post", "/v1/settlements/direct", bill()), ("post", "/v1/settlements/preview", bill()),
             ("post", f"/v1/settlements/{sid}/cancel", {"reason": "收费员录入错误"}),
             ("get", f"/v1/settlements/{sid}/decision", None)]
    for key, expected in ((desk.member, {403, 404}), (desk.officer_other, {403, 404}), (desk.member_other, {403, 404}), (revoked, {401}),
                          ("ck_nope_nope", {401}), (None, {401}), (desk.hospital_other, {403, 404})):
        for method, path, body in calls:
            answer = client.request(method, path, json=body, headers=auth(key))
            assert answer.status_code in expected, (key == revoked, path, answer.status_code, answer.text)
    assert counts(session) == before and head_is_last_entry(session) == head
    assert client.get(f"/v1/settlements/{sid}/decision", headers=auth(desk.hospital)).json()["status"] == "approved"
