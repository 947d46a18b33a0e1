"""Limits on request bodies (api/limits.py): refused with problem+json, nothing stored (both databases)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from api.limits import MIB, LimitsMiddleware, json_depth
from store import models
from tests.api.builders import auth, settlement

PROBLEM = "application/problem+json"


def _counts(session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in
                 (models.Settlement, models.Claim, models.PlanVersion, models.Member, models.AuditEntry))


def test_a_json_body_over_two_mebibytes_is_refused_before_it_is_read_as_a_settlement(client, cast, session):
    before = _counts(session)
    bill = settlement(diagnoses=[{"diag_code": "J18.900", "diag_name": "x" * (2 * MIB), "maindiag_flag": "1"}])
    answer = client.post("/v1/settlements", json=bill, headers=auth(cast.hospital))
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM
    assert answer.json()["status"] == 413 and "2,097,152" in answer.json()["detail"]
    assert _counts(session) == before


def test_a_body_streamed_without_a_length_is_cut_off_at_the_limit(client, cast, session):
    before = _counts(session)

    def chunks():
        yield b'{"member_id": "M1", "settlement_id": 1, "pad": "'
        for _ in range(3):
            yield b"x" * MIB
        yield b'"}'

    answer = client.post("/v1/claims", content=chunks(), headers={**auth(cast.officer), "content-type": "application/json"})
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM
    assert _counts(session) == before


@pytest.mark.parametrize("depth", [65, 100_000])
def test_json_nested_deeper_than_64_levels_is_refused_naming_the_body(client, cast, session, depth):
    before = _counts(session)
    body = "[" * depth + "]" * depth
    answer = client.post("/v1/claims", content=body, headers={**auth(cast.officer), "content-type": "application/json"})
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    assert answer.json()["errors"] == [{"field": "body", "message": "nested deeper than 64 levels"}]
    assert _counts(session) == before


def test_nesting_inside_strings_does_not_count_and_64_levels_pass_the_limit():
    assert json_depth(b'{"a": "[[[[[[{{{{\\"]]]"}') == 1
    assert json_depth(json.dumps({"a": [[[1]]]}).encode()) == 4
    assert json_depth(b"[" * 64 + b"]" * 64) == 64


@pytest.mark.parametrize(("document", "says"), [
    ('name: bomb\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
     'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n', "anchors (&a)"),
    ("name: x\nbenefits: *nowhere\n", "aliases"),
    ("name: !!python/object/apply:os.system [echo hi]\n", "tags"),
    ("name: x\nbenefits: " + "[" * 70 + "]" * 70 + "\n", "nested deeper than 64 levels"),
])
def test_a_yaml_plan_with_aliases_anchors_tags_or_deep_nesting_is_refused_and_nothing_stored(
    client, cast, session, document, says
):
    before = _counts(session)
    answer = client.post("/v1/plans", content=document.encode(),
                         headers={**auth(cast.admin), "content-type": "application/yaml"})
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM, answer.text
    (error,) = answer.json()["errors"]
    assert error["field"] == "body" and says in error["message"]
    assert _counts(session) == before


def test_a_csv_import_over_twenty_mebibytes_is_refused_and_nothing_stored(client, cast, session):
    before = _counts(session)
    row = "M9,王秀英,F,1979-03-14,2025-01-01,2025-12-31,2024-12-01,110101197903140011\n"
    body = "member_id,name,gender,birth_date,period_start,period_end,enrolled_on,certno\n" + row * (20 * MIB // len(row) + 10)
    answer = client.post("/v1/enrollments/import", content=body.encode(),
                         headers={**auth(cast.officer), "content-type": "text/csv"})
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM
    assert _counts(session) == before


def test_a_csv_field_longer_than_the_csv_reader_takes_is_refused_naming_its_row(client, cast, session):
    before = _counts(session)
    header = "member_id,name,gender,birth_date,period_start,period_end,enrolled_on,certno\n"
    good = "M9,王秀英,F,1979-03-14,2025-01-01,2025-12-31,2024-12-01,110101197903140011\n"
    body = header + good + "M10," + "名" * 200_000 + ",F,1979-03-14,2025-01-01,2025-12-31,2024-12-01,110101197903140011\n"
    answer = client.post("/v1/enrollments/import", content=body.encode(),
                         headers={**auth(cast.officer), "content-type": "text/csv"})
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM, answer.text
    assert [e["field"] for e in answer.json()["errors"]][-1] == "row 3"
    assert _counts(session) == before


def _through_limits(content_length: bytes, body: bytes) -> tuple[int, list[bytes]]:
    """A request through the middleware alone, as a server hands it on: the status and what the app read."""
    read: list[bytes] = []

    async def app(scope, receive, send):
        read.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/claims", "headers": [
        (b"content-type", b"application/json"), (b"content-length", content_length)]}
    # On a thread of its own: a test before may leave an event loop running on this one
    # (Playwright's sync API does), where asyncio.run refuses to start.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, LimitsMiddleware(app)(scope, receive, send)).result()
    return sent[0]["status"], read


@pytest.mark.parametrize("declared", ["9" * 19, "9" * 5000])
def test_a_declared_length_of_more_digits_than_any_limit_is_refused_unread(declared):
    status, read = _through_limits(declared.encode(), b"{}")
    assert (status, read) == (413, [])


@pytest.mark.parametrize("declared", ["²".encode("latin-1"), b"1e3", b"-1"])
def test_a_declared_length_that_is_no_number_is_not_trusted_and_the_body_is_counted(declared):
    """Not a 500: the body is read and measured as if no length had been declared."""
    assert _through_limits(declared, b"{}") == (200, [b"{}"])
