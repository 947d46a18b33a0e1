"""Retrying is safe: an ``Idempotency-Key`` gets the first answer back, never a second claim."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store import models
from tests.api.builders import auth, codes, line, post_settlement, received_on, settlement

KEY = "3f1c2a9e-6b1d-4f0e-9a57-0c4f6f2d8b11"


def count(session: Session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def stored(session: Session) -> tuple[int, ...]:
    return tuple(count(session, m) for m in (
        models.Settlement, models.Claim, models.AuditEntry, models.Accumulator, models.IdempotentRequest))


def with_key(api_key: str, idempotency_key: str = KEY) -> dict[str, str]:
    return {**auth(api_key), "Idempotency-Key": idempotency_key}


def claim_body(settlement_id: int, member_id: str = "M1") -> dict:
    return {"member_id": member_id, "settlement_id": settlement_id, **received_on()}


# Each creating POST, as the caller who may make it: (path, key attribute of the cast, body).
def _claim(client, cast) -> tuple[str, str, dict]:
    return "/v1/claims", "officer", claim_body(post_settlement(client, cast.hospital)["id"])


def _batch(client, cast) -> tuple[str, str, dict]:
    ids = [post_settlement(client, cast.hospital, patient=m)["id"] for m in ("M1", "M2")]
    return "/v1/claims/batch", "officer", {"claims": [claim_body(ids[0]), claim_body(ids[1], "M2")]}


def _settlement(client, cast) -> tuple[str, str, dict]:
    return "/v1/settlements", "hospital", settlement()


POSTS = pytest.mark.parametrize("make", [_claim, _batch, _settlement], ids=["claim", "batch", "settlement"])


@POSTS
def test_a_retry_with_the_same_key_gets_the_first_answer_and_makes_nothing_twice(client, cast, session, make) -> None:
    path, who, body = make(client, cast)
    before = stored(session)

    first = client.post(path, json=body, headers=with_key(getattr(cast, who)))
    after_first = stored(session)
    again = client.post(path, json=body, headers=with_key(getattr(cast, who)))

    assert first.status_code == 201, first.text
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert after_first != before and stored(session) == after_first  # one claim (or settlement), one audit entry...
    assert count(session, models.IdempotentRequest) == 1


def test_a_client_whose_connection_dropped_gets_its_decision_not_a_duplicate_denial(client, cast, session) -> None:
    path, who, body = _claim(client, cast)
    first = client.post(path, json=body, headers=with_key(cast.officer)).json()

    again = client.post(path, json=body, headers=with_key(cast.officer))

    assert again.status_code == 201 and again.json() == first
    assert (first["status"], codes(line(first, "MA_IP"))) == ("approved", [])
    assert count(session, models.Claim) == 1
    assert count(session, models.AuditEntry, models.AuditEntry.action == "claim.adjudicated",
                 models.AuditEntry.entity_id == str(first["id"])) == 1
    # Without the key the same request is a new claim: the bill is then a duplicate.
    without = client.post(path, json=body, headers=auth(cast.officer)).json()
    assert codes(line(without, "MA_IP")) == ["DUPLICATE_BILL"]


@POSTS
def test_the_same_key_with_another_body_is_refused_naming_the_header(client, cast, session, make) -> None:
    path, who, body = make(client, cast)
    assert client.post(path, json=body, headers=with_key(getattr(cast, who))).status_code == 201
    _, _, other = make(client, cast)  # another bill (or bills) to claim, or another settlement
    before = stored(session)

    answer = client.post(path, json=other, headers=with_key(getattr(cast, who)))

    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["Idempotency-Key"]
    assert stored(session) == before


def test_keys_belong_to_their_api_key(client, cast, session) -> None:
    """The officer's key and the administrator's key may use the same text for different requests."""
    _, _, mine = _claim(client, cast)
    _, _, theirs = _claim(client, cast)

    officer = client.post("/v1/claims", json=mine, headers=with_key(cast.officer))
    admin = client.post("/v1/claims", json=theirs, headers=with_key(cast.admin))

    assert (officer.status_code, admin.status_code) == (201, 201)
    assert officer.json()["id"] != admin.json()["id"]
    assert admin.json()["settlement_id"] == theirs["settlement_id"]
    assert count(session, models.Claim) == 2 and count(session, models.IdempotentRequest) == 2


def test_a_key_older_than_a_day_is_new_again(client, cast, session) -> None:
    _, _, body = _claim(client, cast)
    first = client.post("/v1/claims", json=body, headers=with_key(cast.officer)).json()
    day_and_more = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=24, minutes=1)
    session.execute(update(models.IdempotentRequest).values(created_at=day_and_more))

    again = client.post("/v1/claims", json=body, headers=with_key(cast.officer))

    assert again.status_code == 201, again.text
    assert again.json()["id"] != first["id"] and codes(line(again.json(), "MA_IP")) == ["DUPLICATE_BILL"]
    assert count(session, models.Claim) == 2
    (kept,) = session.scalars(select(models.IdempotentRequest)).all()  # the old row replaced
    assert kept.response == again.json()
    # And so another request may use it now.
    _, _, other = _claim(client, cast)
    session.execute(update(models.IdempotentRequest).values(created_at=day_and_more))
    assert client.post("/v1/claims", json=other, headers=with_key(cast.officer)).status_code == 201


def test_an_error_is_not_remembered_so_a_retry_is_validated_again(client, cast, session) -> None:
    """Claimed before the hospital posted the bill: 404; once posted, the same request succeeds."""
    body = {"member_id": "M1", "fixmedins_code": "H1", "setl_id": "S-LATER", **received_on()}
    early = client.post("/v1/claims", json=body, headers=with_key(cast.officer))
    assert early.status_code == 404, early.text
    assert count(session, models.IdempotentRequest) == 0

    post_settlement(client, cast.hospital, setl_id="S-LATER")
    later = client.post("/v1/claims", json=body, headers=with_key(cast.officer))

    assert later.status_code == 201, later.text
    assert count(session, models.Claim) == 1


def test_a_request_that_failed_after_its_work_leaves_no_key_behind(app, client, cast, session, monkeypatch) -> None:
    _, _, body = _claim(client, cast)
    monkeypatch.setattr("service.claims.audit.record_entries", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("down")))
    with TestClient(app, raise_server_exceptions=False) as failing:
        assert failing.post("/v1/claims", json=body, headers=with_key(cast.officer)).status_code == 500
    assert (count(session, models.Claim), count(session, models.IdempotentRequest)) == (0, 0)

    monkeypatch.undo()
    retried = client.post("/v1/claims", json=body, headers=with_key(cast.officer))
    assert retried.status_code == 201 and retried.json()["status"] == "approved"


@pytest.mark.parametrize("value", ["", "x" * 256, "clé".encode(), b"tab\there"], ids=["empty", "256", "utf8", "control"])
def test_a_malformed_key_is_refused_naming_the_header(client, cast, session, value) -> None:
    _, _, body = _claim(client, cast)
    before = stored(session)

    answer = client.post("/v1/claims", json=body, headers={**auth(cast.officer), "Idempotency-Key": value})

    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["Idempotency-Key"]
    assert stored(session) == before


def test_two_requests_with_one_key_at_once_make_one_claim(app, client, cast, session) -> None:
    """Both get the first answer (the second waited for the first's commit), or the second a 409."""
    _, _, body = _claim(client, cast)
    barrier = threading.Barrier(2)
    answers: list = [None, None]

    def submit(i: int) -> None:
        with TestClient(app) as own:
            barrier.wait()
            answers[i] = own.post("/v1/claims", json=body, headers=with_key(cast.officer))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert count(session, models.Claim) == 1
    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([201, 201], [201, 409]), [a.text for a in answers]
    made = next(a for a in answers if a.status_code == 201)
    assert all(a.content == made.content for a in answers if a.status_code == 201)
    assert made.json()["status"] == "approved"


def test_the_three_creating_operations_document_the_header(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/settlements", "/v1/claims", "/v1/claims/batch"):
        parameters = paths[path]["post"].get("parameters", [])
        header = next(p for p in parameters if p["name"] == "Idempotency-Key")
        assert header["in"] == "header" and not header.get("required", False)
        assert "24 hours" in header["description"]
        assert "409" in paths[path]["post"]["responses"]
