"""The hardship register: one active registration per member, verification after registration, the list.

A registration is active from ``registered_on`` until its ``revoked_on`` (open while not
revoked). A member holds one at a time: a change of category is a revocation, then a
registration from that day. Every refused request stores nothing and leaves the audit
chain as it was.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from claims.members import HardshipCategory
from service import audit, registry
from service.auth import CLI
from service.errors import Conflict
from service.schemas import HardshipCreate
from store import models
from store.db import session_factory
from tests.api.builders import YEAR, auth, create_member, register_hardship


def _stored(session: Session) -> tuple[int, int, str | None]:
    """Registrations, audit entries and the chain's head: what a refused request must leave as it was."""
    head = session.scalar(select(models.AuditEntry.entry_hash).order_by(models.AuditEntry.id.desc()).limit(1))
    return (session.scalar(select(func.count()).select_from(models.HardshipRegistration)),
            session.scalar(select(func.count()).select_from(models.AuditEntry)), head)


def _verify(client, key: str, registration_id: int, verified_on: str):
    return client.post(f"/v1/hardship/{registration_id}/verify", json={"verified_on": verified_on}, headers=auth(key))


def _revoke(client, key: str, registration_id: int, revoked_on: str) -> dict:
    answer = client.post(f"/v1/hardship/{registration_id}/revoke", json={"revoked_on": revoked_on}, headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_second_registration_while_one_is_active_is_409_naming_the_active_one(client, cast, session) -> None:
    first = register_hardship(client, cast.officer, "M1", category="near_dibao", registered_on=f"{YEAR}-01-10")
    before = _stored(session)

    second = register_hardship(client, cast.officer, "M1", category="dibao", registered_on=f"{YEAR}-03-01", expect=409)

    assert second["status"] == 409
    assert f"registration {first['id']} (near_dibao, registered on {YEAR}-01-10)" in second["detail"]
    assert "revoke it first" in second["detail"]
    assert _stored(session) == before
    assert audit.verify(session) == []


def test_a_change_of_category_is_a_revocation_then_a_registration_from_that_day(client, cast, session) -> None:
    first = register_hardship(client, cast.officer, "M1", category="near_dibao", registered_on=f"{YEAR}-01-10")
    _revoke(client, cast.officer, first["id"], f"{YEAR}-04-01")
    before = _stored(session)

    # Still active until 04-01: a registration from an earlier day would overlap it.
    early = register_hardship(client, cast.officer, "M1", category="dibao", registered_on=f"{YEAR}-03-31", expect=409)
    assert f"revoked on {YEAR}-04-01; register from that day on" in early["detail"]
    assert _stored(session) == before

    second = register_hardship(client, cast.officer, "M1", category="dibao", registered_on=f"{YEAR}-04-01")

    def active_on(day: str) -> list[int]:
        page = client.get("/v1/hardship", params={"member_id": "M1", "active_on": day}, headers=auth(cast.officer))
        return [r["id"] for r in page.json()["items"]]

    assert (active_on(f"{YEAR}-03-31"), active_on(f"{YEAR}-04-01")) == ([first["id"]], [second["id"]])


def test_a_registration_verified_before_it_was_registered_is_refused_at_verified_on(client, cast, session) -> None:
    before = _stored(session)
    refused = register_hardship(client, cast.officer, "M1", registered_on=f"{YEAR}-02-01",
                                verified_on=f"{YEAR}-01-31", expect=422)
    assert [e["field"] for e in refused["errors"]] == ["verified_on"]
    assert _stored(session) == before

    same_day = register_hardship(client, cast.officer, "M1", registered_on=f"{YEAR}-02-01", verified=False)
    before = _stored(session)
    late = _verify(client, cast.officer, same_day["id"], f"{YEAR}-01-31")
    assert late.status_code == 422, late.text
    assert [e["field"] for e in late.json()["errors"]] == ["verified_on"]
    assert _stored(session) == before
    stored = session.get(models.HardshipRegistration, same_day["id"])
    assert (stored.verified, stored.verified_on) == (False, None)
    assert _verify(client, cast.officer, same_day["id"], f"{YEAR}-02-01").json()["verified_on"] == f"{YEAR}-02-01"


def test_another_unions_registration_is_answered_as_an_unknown_one(client, cast, session) -> None:
    theirs = register_hardship(client, cast.officer_other, "M3", verified=False)
    before = _stored(session)

    for action, body in (("verify", {"verified_on": f"{YEAR}-02-01"}), ("revoke", {"revoked_on": f"{YEAR}-02-01"})):
        answer = client.post(f"/v1/hardship/{theirs['id']}/{action}", json=body, headers=auth(cast.officer))
        unknown = client.post(f"/v1/hardship/2147483647/{action}", json=body, headers=auth(cast.officer))
        assert (answer.status_code, unknown.status_code) == (404, 404)
        assert answer.json()["detail"] == f"no hardship registration {theirs['id']}"
        assert unknown.json()["detail"] == "no hardship registration 2147483647"
        assert "M3" not in answer.text
    assert register_hardship(client, cast.officer, "M3", expect=404)["detail"] == "no member M3"
    assert _stored(session) == before


def test_the_register_lists_an_officers_union_with_filters_and_counts_by_category(client, cast) -> None:
    for member in ("M4", "M5"):
        create_member(client, cast.officer, member)
    dibao = register_hardship(client, cast.officer, "M1", category="dibao", registered_on=f"{YEAR}-01-01")
    near = register_hardship(client, cast.officer, "M2", category="near_dibao", verified=False,
                             registered_on=f"{YEAR}-02-01")
    revoked = register_hardship(client, cast.officer, "M4", category="dibao", registered_on=f"{YEAR}-01-01")
    _revoke(client, cast.officer, revoked["id"], f"{YEAR}-06-01")
    accident = register_hardship(client, cast.officer, "M5", category="accident", registered_on=f"{YEAR}-07-01")
    elsewhere = register_hardship(client, cast.officer_other, "M3", category="dibao", registered_on=f"{YEAR}-01-01")

    def listed(key: str, **params) -> dict:
        answer = client.get("/v1/hardship", params=params, headers=auth(key))
        assert answer.status_code == 200, answer.text
        return answer.json()

    def ids(page: dict) -> list[int]:
        return [r["id"] for r in page["items"]]

    everything = listed(cast.officer)
    assert ids(everything) == [dibao["id"], near["id"], revoked["id"], accident["id"]]
    assert (everything["total"], everything["page"], everything["page_size"]) == (4, 1, 50)
    assert everything["counts"] == {
        "dibao": {"registrations": 2, "verified": 2}, "dibao_unenrolled": {"registrations": 0, "verified": 0},
        "near_dibao": {"registrations": 1, "verified": 0}, "accident": {"registrations": 1, "verified": 1}}
    assert set(everything["counts"]) == {c.value for c in HardshipCategory}
    # A union filter does not widen an officer's view (it narrows within their subtree: another union's is
    # empty); an administrator's sees the union named, or all.
    assert ids(listed(cast.officer, union_id="U2")) == []
    assert ids(listed(cast.officer, union_id="U1")) == ids(everything)
    assert ids(listed(cast.admin, union_id="U2")) == [elsewhere["id"]]
    assert listed(cast.admin)["total"] == 5

    assert ids(listed(cast.officer, category="dibao")) == [dibao["id"], revoked["id"]]
    assert ids(listed(cast.officer, verified="false")) == [near["id"]]
    on_first_of_march = listed(cast.officer, active_on=f"{YEAR}-03-01")
    assert ids(on_first_of_march) == [dibao["id"], near["id"], revoked["id"]]
    assert on_first_of_march["counts"]["dibao"] == {"registrations": 2, "verified": 2}
    on_first_of_august = listed(cast.officer, active_on=f"{YEAR}-08-01")
    assert ids(on_first_of_august) == [dibao["id"], near["id"], accident["id"]]
    assert on_first_of_august["counts"]["dibao"] == {"registrations": 1, "verified": 1}
    assert ids(listed(cast.officer, member_id="M2")) == [near["id"]]
    assert ids(listed(cast.officer, member_id="M3")) == []  # another union's member: nothing, as for an unknown one
    second_page = listed(cast.officer, page=2, page_size=3)
    assert (ids(second_page), second_page["total"], second_page["counts"]) == (
        [accident["id"]], 4, everything["counts"])


@pytest.mark.parametrize("params", [{"category": "poor"}, {"active_on": "2025-02-30"}, {"verified": "maybe"}])
def test_a_bad_filter_is_422_naming_it(client, cast, params) -> None:
    answer = client.get("/v1/hardship", params=params, headers=auth(cast.officer))
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [next(iter(params))]


def test_members_and_hospitals_do_not_read_the_register(client, cast) -> None:
    for key in (cast.member, cast.hospital):
        assert client.get("/v1/hardship", headers=auth(key)).status_code == 403


def test_two_registrations_for_one_member_at_once_do_not_both_succeed(client, cast, db: Engine, session) -> None:
    """The second waits for the member's row the first holds, then sees the first's registration.

    Without the lock, on PostgreSQL the second would read the register before the first
    commits and store a second active registration.
    """
    sessions = session_factory(db)
    holding, second_done = threading.Event(), threading.Event()
    outcome: list[object] = []

    def second() -> None:
        holding.wait(10)
        with sessions() as s:
            try:
                registry.register_hardship(s, CLI, "M1", HardshipCreate(category="dibao", registered_on=f"{YEAR}-02-01"))
                s.commit()
                outcome.append("stored")
            except Conflict as err:
                outcome.append(err)
        second_done.set()

    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    with sessions() as s:
        first = registry.register_hardship(s, CLI, "M1", HardshipCreate(category="near_dibao",
                                                                        registered_on=f"{YEAR}-01-01"))
        holding.set()
        time.sleep(0.5)
        assert not second_done.is_set(), "the second registration did not wait for the member the first holds"
        s.commit()
    thread.join(30)

    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert f"registration {first.id} (near_dibao" in outcome[0].detail
    rows = session.scalars(select(models.HardshipRegistration.id).where(models.HardshipRegistration.member_id == "M1"))
    assert list(rows) == [first.id]
    assert audit.verify(session) == []
