"""The desk's unit of work (api.deps.DeskWork): key, work and commit in one trip to a worker thread.

It must keep every promise of the ordinary unit of work (``SessionDep`` with
``CurrentCaller``): a request that fails half-way stores nothing, a 2xx means stored, a
refused key is counted against the client's address, a read gets a read-only session.
Both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import audit
from store import models
from store.models import Base
from tests.api.builders import auth
from tests.api.test_api_desk import bill, desk, direct  # noqa: F401  (desk: the fixture, members enrolled)
from tests.api.test_api_keys import BAD_KEY


def _counts(session: Session) -> dict[str, int]:
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def test_a_settlement_that_fails_after_its_rows_were_written_stores_nothing(
        client: TestClient, desk, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit entries are the last thing a settlement writes: failing there, after the bill,
    the claim, its lines, the totals, the ledger and the report rows went in, rolls them all back."""
    direct(client, desk.hospital, bill("1000.00"))  # the chain has a head and the member has totals
    before = _counts(session)
    head = session.scalar(select(models.AuditHead.position))

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(audit, "record_entries", broken)
    failing = TestClient(client.app, raise_server_exceptions=False)
    answer = failing.post("/v1/settlements/direct", json=bill("2000.00", patient="M2"), headers=auth(desk.hospital))
    assert answer.status_code == 500, answer.text
    assert _counts(session) == before
    assert session.scalar(select(models.AuditHead.position)) == head
    monkeypatch.undo()
    # The same stay posted again is decided as if the failed request had never been.
    again = direct(client, desk.hospital, bill("2000.00", patient="M2"))
    assert again["claim_made"] is True and again["status"] == "approved"
    assert audit.verify(session) == []


def test_a_desk_answer_of_2xx_is_stored_when_it_is_read(client: TestClient, desk, session: Session) -> None:
    made = direct(client, desk.hospital, bill("1000.00"))
    claim = session.get(models.Claim, made["claim_id"])
    assert claim is not None and claim.settlement_id == made["settlement_id"]
    read = client.get(f"/v1/settlements/{made['settlement_id']}/decision", headers=auth(desk.hospital))
    assert read.status_code == 200 and read.json()["claim_id"] == made["claim_id"]


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/settlements/direct"), ("POST", "/v1/settlements/preview"),
    ("POST", "/v1/settlements/1/cancel"), ("GET", "/v1/settlements/1/decision")])
def test_refused_keys_at_the_desk_count_against_the_address_like_anywhere_else(
        client: TestClient, desk, session: Session, method: str, path: str) -> None:
    before = _counts(session)
    body = {"reason": "x"} if path.endswith("cancel") else bill("1000.00")
    codes = [client.request(method, path, json=None if method == "GET" else body, headers=auth(BAD_KEY)).status_code
             for _ in range(22)]
    assert codes[:20] == [401] * 20 and codes[20:] == [429] * 2, codes
    # The limit is the address's, wherever it was reached: the rest of the API refuses it too.
    assert client.get("/v1/claims", headers=auth(BAD_KEY)).status_code == 429
    assert _counts(session) == before


def test_a_desk_read_gets_a_read_only_session(client: TestClient, desk) -> None:
    """A GET's unit of work is the read sessions' (on SQLite a snapshot that holds no write lock)."""
    made = direct(client, desk.hospital, bill("1000.00"))
    seen: list[bool] = []
    sessions = client.app.state.read_sessions

    def spying() -> Session:
        seen.append(True)
        return sessions()

    client.app.state.read_sessions = spying
    try:
        read = client.get(f"/v1/settlements/{made['settlement_id']}/decision", headers=auth(desk.hospital))
    finally:
        client.app.state.read_sessions = sessions
    assert read.status_code == 200 and seen == [True]


@pytest.mark.parametrize("method, path, body, headers", [
    ("POST", "/v1/settlements/1/cancel", {"reason": ""}, {}),  # a body the route refuses
    ("POST", f"/v1/settlements/{2**40}/cancel", {"reason": "x"}, {}),  # an id past the keys' range
    ("GET", f"/v1/settlements/{2**40}/decision", None, {}),
    ("POST", "/v1/settlements/direct", "BILL", {"Idempotency-Key": "k" * 300}),  # a header the route refuses
])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key", "Basic dXNlcjpwYXNz"])
def test_what_cannot_be_a_key_is_refused_before_the_input_is_checked(
        client: TestClient, desk, session: Session, method: str, path: str, body: Any, headers: dict,
        authorization: str | None) -> None:
    """401 first, as on every other route; a header that was sent counts toward the address's limit."""
    before = _counts(session)
    sent = {**headers, **({"Authorization": authorization} if authorization else {})}
    answer = client.request(method, path, json=bill("1000.00") if body == "BILL" else body, headers=sent)
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert _counts(session) == before
    counted = [client.get("/v1/claims", headers=auth(BAD_KEY)).status_code for _ in range(20)]
    assert counted[-1] == (429 if authorization else 401), counted


def test_a_key_that_looks_right_is_read_with_the_work_so_wrong_input_is_a_422_first(
        client: TestClient, desk, session: Session) -> None:
    """The chosen order at the desk: the key is read in the unit of work, after the input was
    validated; the 422 names the field and tells nothing of the key."""
    before = _counts(session)
    for key in (BAD_KEY, desk.hospital):
        answer = client.post("/v1/settlements/1/cancel", json={"reason": ""}, headers=auth(key))
        assert answer.status_code == 422 and [e["field"] for e in answer.json()["errors"]] == ["reason"], answer.text
    assert _counts(session) == before
