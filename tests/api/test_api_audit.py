"""The audit log through the service (both databases): anchors the service appends by
itself, ``GET /v1/audit/anchor``, and the decision digests of reviews that ``claims
check`` compares with the stored lines. (The command line's side, and tampering with
the chain, are in tests/load/test_audit_chain.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.app import create_app
from service import audit, consistency
from service.audit import Anchoring
from store import models
from tests.api import builders as b

KEY = b"a-key-for-the-anchors-of-the-test"


def _union(client: TestClient, key: str, n: int) -> None:
    b.create_union(client, key, f"AU{n}")


def _head(session: Session) -> int:
    return session.scalar(select(func.max(models.AuditEntry.position)))


def test_no_anchor_yet_is_a_404_problem(client: TestClient, cast) -> None:
    answer = client.get("/v1/audit/anchor", headers=b.auth(cast.admin))
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"


def test_the_service_anchors_every_n_entries_and_admins_fetch_the_latest(
        client: TestClient, cast, session: Session, database_url: str, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    app = create_app(database_url, migrate=False, anchoring=Anchoring(anchors, KEY, every=4))
    try:
        with TestClient(app) as own:
            start = _head(session)
            for n in range(9):
                _union(own, cast.admin, n)
            written = [json.loads(line) for line in anchors.read_text().splitlines()]
            # One anchor per commit that moved the head past a multiple of 4, at that commit's head.
            crossings = [p for p in range(start + 1, start + 10) if p % 4 == 0]
            assert [a["position"] for a in written] == crossings
            assert audit.verify_anchors(session, anchors, KEY) == ([], len(crossings))
            latest = own.get("/v1/audit/anchor", headers=b.auth(cast.admin))
            assert latest.status_code == 200 and latest.json() == written[-1]
            assert own.get("/v1/audit/anchor", headers=b.auth(cast.officer)).status_code == 403
    finally:
        app.state.db.dispose()


def test_the_service_anchors_when_the_last_anchor_is_older_than_m_minutes(
        client: TestClient, cast, database_url: str, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    app = create_app(database_url, migrate=False, anchoring=Anchoring(anchors, KEY, minutes=10))
    try:
        with TestClient(app) as own:
            _union(own, cast.admin, 1)  # no anchor yet: one now
            _union(own, cast.admin, 2)  # the last is fresh: none
            assert len(anchors.read_text().splitlines()) == 1
    finally:
        app.state.db.dispose()


def test_an_anchor_that_cannot_be_written_never_fails_the_request(
        client: TestClient, cast, session: Session, database_url: str, tmp_path: Path) -> None:
    app = create_app(database_url, migrate=False,
                     anchoring=Anchoring(tmp_path / "no-such-folder" / "anchors.jsonl", KEY, every=1))
    try:
        with TestClient(app) as own:
            _union(own, cast.admin, 1)
    finally:
        app.state.db.dispose()
    assert session.get(models.Union, "AU1") is not None


def test_a_reviewed_decision_changed_in_the_database_is_reported(client: TestClient, cast, session: Session) -> None:
    claim = b.claim_for(client, cast.admin, "M1", b=b.HIGH_B)
    b.review(client, cast.officer, claim["id"], {"benefit": "MA_IP", "action": "adjust", "amount": "1000.00",
                                                 "note": "扣除重复收费"})
    assert consistency.check(session) == []
    entry = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "claim.reviewed")).one()
    assert len(entry.details["decision"]) == 64
    # Back to what the line was before the review: it adds up, but it is not what was decided.
    session.execute(update(models.DecisionLine).where(models.DecisionLine.claim_id == claim["id"],
                                                      models.DecisionLine.benefit == "MA_IP")
                    .values(amount=models.DecisionLine.amount + 10_000_000))
    session.execute(update(models.Claim).where(models.Claim.id == claim["id"])
                    .values(total=models.Claim.total + 10_000_000))
    line_id = session.scalar(select(models.DecisionLine.id).where(models.DecisionLine.claim_id == claim["id"],
                                                                  models.DecisionLine.benefit == "MA_IP"))
    assert consistency.check(session) == [
        f"claim {claim['id']}: its lines are not the decision recorded in the audit log "
        f"(entry at position {entry.position}): changed outside the service",
        # The payments see it too: the ledger owes the member what was approved, not what the line says now.
        "member M1: payable per the ledger 1000.00, approved lines less paid items plus recoveries give 101000.00",
        # And the funds: the line no longer holds charged what it says it pays.
        f"line {line_id} (claim {claim['id']} MA_IP, approved 101000.00): charged 1000.00, should be 101000.00"]


def test_the_digest_ignores_the_order_of_lines_and_changes_but_not_their_content() -> None:
    change = {"benefit": "MA_IP", "measure": "paid", "scope": "2026", "delta": 100}
    other = {"benefit": "MA_IP", "measure": "base", "scope": "2026", "delta": 500}
    a = {"benefit": "MA_IP", "status": "approved", "amount": 100, "changes": [change, other]}
    c = {"benefit": "MA_DA", "status": "denied", "amount": 0, "changes": []}
    assert audit.decision_digest([a, c]) == audit.decision_digest([c, {**a, "changes": [other, change]}])
    for changed in ({**a, "amount": 101}, {**a, "status": "pended"}, {**a, "benefit": "CIR"},
                    {**a, "changes": [change, {**other, "delta": 501}]}):
        assert audit.decision_digest([changed, c]) != audit.decision_digest([a, c])


def test_a_pended_claim_decided_again_records_the_digest_of_its_new_decision(
        client: TestClient, cast, session: Session) -> None:
    claim = b.claim_for(client, cast.admin, "M1", b=b.HIGH_B)
    assert claim["status"] == "pended"
    default = client.get("/v1/plans", headers=b.auth(cast.admin)).json()["items"][0]
    draft = client.post(f"/v1/plans/{default['id']}/derive", headers=b.auth(cast.admin), json={
        "patch": [{"op": "replace", "path": "/benefits/0/amount/bands/1/rate", "value": "0.55"}]}).json()
    assert client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": f"{b.YEAR}-01-01"},
                       headers=b.auth(cast.admin)).status_code == 200
    report = client.post("/v1/readjudications", json={"include_pended": True}, headers=b.auth(cast.admin)).json()
    assert report["pended_redecided"] == 1
    entry = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "claim.readjudicated")).one()
    lines = session.scalars(select(models.DecisionLine).where(models.DecisionLine.claim_id == claim["id"])).all()
    adjudicated = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "claim.adjudicated")).one()
    assert entry.details["decision"] == audit.decision_digest(lines) != adjudicated.details["decision"]
    assert consistency.check(session) == []


def test_the_head_row_follows_the_chain_entry_by_entry(client: TestClient, cast, session: Session) -> None:
    """Each append takes the head's row (position moved on, locked) and its last entry gives the
    head its hash, whether a request appends one entry or several."""
    def head_row() -> tuple[int, str]:
        session.expire_all()
        row = session.get(models.AuditHead, 1)
        return row.position, row.entry_hash

    def last_entry() -> tuple[int, str]:
        last = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.position.desc()).limit(1)).first()
        return (last.position, last.entry_hash) if last is not None else (0, audit.GENESIS)

    assert head_row() == last_entry()
    before = head_row()[0]
    _union(client, cast.admin, 1)  # one entry
    assert head_row() == last_entry() and head_row()[0] == before + 1
    entry = b.settlement("1200.00")
    answer = client.post("/v1/settlements/direct", json=entry, headers=b.auth(cast.hospital))
    assert answer.status_code == 201, answer.text  # the settlement's and the claim's entries, in one append
    assert head_row() == last_entry() and head_row()[0] == before + 3
    assert audit.verify(session) == []
