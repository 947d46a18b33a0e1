"""API keys: listed, revoked, expiring, issued by officers for their own union's members;
refused keys rate-limited per client address (in memory, and once in Redis).

Both databases (the ``client`` fixture); the limiter's counts start afresh in each test.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import fields

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.auth import SignInLimiter
from store import models
from tests.api.builders import auth

BAD_KEY = "ck_0123456789ab_this-key-was-never-issued-by-the-service-000000"


def _count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _issue(client: TestClient, key: str, expect: int = 201, **body) -> dict:
    answer = client.post("/v1/keys", json=body, headers=auth(key))
    assert answer.status_code == expect, answer.text
    return answer.json()


def _future(**delta) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(**delta)).isoformat()


def test_keys_are_listed_paginated_without_secret_or_hash(client: TestClient, cast) -> None:
    made = _issue(client, cast.admin, role="member", member_id="M3", label="前台", expires_at=_future(days=30))
    page = client.get("/v1/keys", params={"page_size": 3}, headers=auth(cast.admin)).json()
    assert set(page) == {"items", "total", "page", "page_size"}
    # The cast's keys (one a field of Cast) and the one just made.
    assert (page["total"], page["page"], page["page_size"], len(page["items"])) == (len(fields(cast)) + 1, 1, 3, 3)
    newest = page["items"][0]
    assert newest["id"] == made["id"] and newest["member_id"] == "M3" and newest["label"] == "前台"
    assert newest["status"] == "active" and newest["expires_at"] is not None
    assert made["key"].split("_")[1] == newest["prefix"]
    secret = made["key"].split("_", 2)[2]
    listed = client.get("/v1/keys", params={"page_size": 200}, headers=auth(cast.admin))
    assert secret not in listed.text and "hash" not in listed.text
    assert {k["role"] for k in listed.json()["items"]} == {"admin", "officer", "finance", "hospital", "member"}
    members = client.get("/v1/keys", params={"role": "member"}, headers=auth(cast.admin)).json()
    assert members["total"] == 3


def test_a_revoked_key_is_refused_at_once_and_the_revocation_audited(client: TestClient, cast, session: Session) -> None:
    made = _issue(client, cast.admin, role="hospital", hospital_code="H2")
    assert client.get("/v1/settlements", headers=auth(made["key"])).status_code == 200
    before = _count(session, models.AuditEntry)
    assert client.delete(f"/v1/keys/{made['id']}", headers=auth(cast.admin)).status_code == 204
    refused = client.get("/v1/settlements", headers=auth(made["key"]))
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    entry = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.position.desc())).first()
    assert (entry.action, entity_id := entry.entity_id) == ("key.revoked", str(made["id"]))
    assert _count(session, models.AuditEntry) == before + 1
    # Again: nothing changes, nothing more is audited.
    assert client.delete(f"/v1/keys/{made['id']}", headers=auth(cast.admin)).status_code == 204
    assert _count(session, models.AuditEntry) == before + 1
    listed = client.get("/v1/keys", params={"active": "false"}, headers=auth(cast.admin)).json()
    assert [(k["id"], k["status"]) for k in listed["items"]] == [(int(entity_id), "revoked")]
    assert client.delete("/v1/keys/999999", headers=auth(cast.admin)).status_code == 404


def test_an_expired_key_is_refused(client: TestClient, cast, session: Session, db) -> None:
    made = _issue(client, cast.admin, role="member", member_id="M1", expires_at=_future(hours=1))
    assert client.get("/v1/claims", headers=auth(made["key"])).status_code == 200
    with Session(db) as s:  # an hour later
        s.get(models.ApiKey, made["id"]).expires_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        s.commit()
    refused = client.get("/v1/claims", headers=auth(made["key"]))
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    status = {k["id"]: k["status"] for k in client.get("/v1/keys", headers=auth(cast.admin)).json()["items"]}
    assert status[made["id"]] == "expired"


@pytest.mark.parametrize("expires_at, says", [
    ("2020-01-01T00:00:00+08:00", "is not in the future"),
    ("2999-01-01T00:00:00", "give a time zone"),
    # Unix times pydantic's lax datetimes read: one spelling, ISO 8601 with its zone
    (1767225600, "is a time written YYYY-MM-DDTHH:MM:SS"),
    ("1767225600", "is a time written YYYY-MM-DDTHH:MM:SS"),
])
def test_an_expiry_in_the_past_or_without_zone_is_refused_and_no_key_stored(
        client: TestClient, cast, session: Session, expires_at: str, says: str) -> None:
    before = _count(session, models.ApiKey)
    answer = client.post("/v1/keys", json={"role": "member", "member_id": "M1", "expires_at": expires_at},
                         headers=auth(cast.admin))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "expires_at" and says in answer.json()["errors"][0]["message"]
    assert _count(session, models.ApiKey) == before


def test_an_officer_issues_member_keys_for_their_own_union_only(client: TestClient, cast, session: Session) -> None:
    made = _issue(client, cast.officer, role="member", member_id="M2")
    assert client.get("/v1/claims", headers=auth(made["key"])).status_code == 200
    before = _count(session, models.ApiKey)
    # Another union's member is answered exactly as a member that does not exist.
    other = client.post("/v1/keys", json={"role": "member", "member_id": "M3"}, headers=auth(cast.officer))
    unknown = client.post("/v1/keys", json={"role": "member", "member_id": "M3"[:1] + "X"}, headers=auth(cast.officer))
    assert other.status_code == unknown.status_code == 404
    assert other.json()["title"] == unknown.json()["title"] and "M3" in other.json()["detail"]
    assert other.json()["detail"].replace("M3", "MX") == unknown.json()["detail"]
    for body in ({"role": "officer", "union_id": "U1"}, {"role": "hospital", "hospital_code": "H1"},
                 {"role": "admin"}):
        assert client.post("/v1/keys", json=body, headers=auth(cast.officer)).status_code == 403
    assert _count(session, models.ApiKey) == before


def test_an_officer_lists_and_revokes_their_union_members_keys_only(client: TestClient, cast) -> None:
    mine = _issue(client, cast.officer, role="member", member_id="M2")
    theirs = _issue(client, cast.admin, role="member", member_id="M3")
    listed = client.get("/v1/keys", headers=auth(cast.officer)).json()
    # The cast's member keys of U1 (M1, M2) and the one just issued; no officer, hospital or U2 key.
    assert {k["member_id"] for k in listed["items"]} == {"M1", "M2"} and listed["total"] == 3
    assert {k["role"] for k in listed["items"]} == {"member"}
    gone = client.delete(f"/v1/keys/{theirs['id']}", headers=auth(cast.officer))
    unknown = client.delete("/v1/keys/999999", headers=auth(cast.officer))
    assert gone.status_code == unknown.status_code == 404
    assert client.get("/v1/claims", headers=auth(theirs["key"])).status_code == 200
    assert client.delete(f"/v1/keys/{mine['id']}", headers=auth(cast.officer)).status_code == 204
    assert client.get("/v1/claims", headers=auth(mine["key"])).status_code == 401
    for key in (cast.member, cast.hospital):
        assert client.get("/v1/keys", headers=auth(key)).status_code == 403


def _hammer(client: TestClient, member_key: str) -> None:
    answers = [client.get("/v1/claims", headers=auth(BAD_KEY)) for _ in range(25)]
    codes = [a.status_code for a in answers]
    assert codes[:20] == [401] * 20 and codes[20:] == [429] * 5, codes
    limited = answers[-1]
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["status"] == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # A valid key from the same address is still served.
    assert client.get("/v1/claims", headers=auth(member_key)).status_code == 200
    # No key at all guesses nothing: it is a plain 401.
    assert client.get("/v1/claims").status_code == 401


def test_refused_keys_past_the_limit_get_429_while_valid_keys_work(client: TestClient, cast) -> None:
    _hammer(client, cast.member)


def test_the_limit_is_kept_in_redis_when_configured(client: TestClient, cast, monkeypatch: pytest.MonkeyPatch) -> None:
    # Redis runs at 127.0.0.1:6379 (scripts/ensure-redis.sh); if it is down this fails, it does not skip.
    limiter = SignInLimiter("20/minute", "redis://127.0.0.1:6379", key_prefix=f"claims-test-{uuid.uuid4().hex}")
    assert limiter.storage.check(), "Redis at 127.0.0.1:6379 is not reachable (scripts/ensure-redis.sh)"
    monkeypatch.setitem(client.app.state._state, "sign_in_limiter", limiter)
    try:
        _hammer(client, cast.member)
        # Counted in Redis: a second limiter on the same storage (another worker) sees the address blocked.
        other = SignInLimiter("20/minute", "redis://127.0.0.1:6379", key_prefix=limiter.prefix)
        assert not other.limiter.test(other.item, "testclient")
    finally:
        limiter.reset()


@pytest.mark.parametrize("expires_at", [None, "2030-01-01T00:00:00.123456789Z", "2030-01-01t00:00:00z",
                                        "2030-01-01 00:00:00+08:00", "2030-01-01T00:00:00+0800"])
def test_an_expiry_as_null_or_in_any_rfc3339_spelling_makes_a_key(client: TestClient, cast, expires_at) -> None:
    """Null is "never" (the OpenAPI document says so); Java's and Go's clients write nine-digit fractions."""
    answer = client.post("/v1/keys", json={"role": "member", "member_id": "M1", "expires_at": expires_at},
                         headers=auth(cast.admin))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["expires_at"] is None) == (expires_at is None)
