"""Errors: every one is RFC 9457 problem+json; validation names each field; no input is a 500."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store import models
from tests.api.builders import CERTNO, HIGH_B, YEAR, auth, claim_for, post_settlement, settlement

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
CSV = {"content-type": "text/csv"}


def assert_problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert body["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(body[member], str) and body[member], (member, body)
    assert body.get("instance", answer.request.url.path) == answer.request.url.path
    return body


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda c, k: c.get("/v1/claims"), 401),
        (lambda c, k: c.get("/v1/claims", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401),
        (lambda c, k: c.get("/v1/claims", headers=auth("ck_0123456789ab_not-a-key")), 401),
        (lambda c, k: c.post("/v1/unions", json={"id": "U9", "name": "x"}, headers=auth(k.member)), 403),
        (lambda c, k: c.get("/v1/claims/123456", headers=auth(k.admin)), 404),
        (lambda c, k: c.get("/v1/no-such-thing", headers=auth(k.admin)), 404),
        (lambda c, k: c.delete("/v1/claims", headers=auth(k.admin)), 405),
        (lambda c, k: c.post("/v1/unions", json={"id": "U1", "name": "again"}, headers=auth(k.admin)), 409),
        (lambda c, k: c.post("/v1/members", json={"id": "bad id!"}, headers=auth(k.admin)), 422),
        (lambda c, k: c.post("/v1/claims", content=b"{not json", headers={**auth(k.admin), **JSON}), 422),
    ],
    ids=["no key", "another scheme", "unknown key", "forbidden", "no such claim", "no such route", "method",
         "conflict", "validation", "malformed JSON"],
)
def test_every_error_is_a_problem_with_type_title_status_and_detail(client, cast, call, status) -> None:
    answer = call(client, cast)
    assert_problem(answer, status)
    if status == 401:
        assert answer.headers["www-authenticate"] == "Bearer"
    if status == 405:
        assert answer.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "fields"),
    [
        ("POST", "/v1/members", {"json": {"id": "bad id!", "gender": "X", "birth_date": "soon"}},
         ["id", "certno", "gender", "birth_date"]),
        ("POST", "/v1/members", {"json": {"id": "M9", "certno": CERTNO["M1"][:17] + "Y", "shoe_size": 42}},
         ["certno", "shoe_size"]),
        ("POST", "/v1/members/M1/enrollments",
         {"json": {"period_start": f"{YEAR}-12-31", "period_end": f"{YEAR}-01-01", "enrolled_on": f"{YEAR}-01-01"}},
         ["period_end"]),
        ("POST", "/v1/members/M1/hardship", {"json": {"category": "rich", "registered_on": f"{YEAR}-01-01"}},
         ["category"]),
        ("POST", "/v1/claims/1/review", {"json": {"lines": [{"benefit": "MA_IP", "action": "pay", "note": ""}]}},
         ["lines[0].action", "lines[0].note"]),
        ("POST", "/v1/keys", {"json": {"role": "member", "hospital_code": "H1"}}, ["hospital_code"]),
        ("POST", "/v1/keys", {"json": {"role": "officer"}}, ["union_id"]),
        ("GET", "/v1/claims", {"params": {"page": "0", "page_size": "x"}}, ["page", "page_size"]),
        ("GET", "/v1/claims/abc", {}, ["claim_id"]),
        ("POST", "/v1/settlements", {"json": settlement(med_type=None)}, ["med_type"]),
        ("POST", "/v1/settlements", {"json": settlement(diagnoses=[{"diag_code": 5, "maindiag_flag": "1"}])},
         ["diagnoses[0].diag_code"]),
    ],
)
def test_a_validation_error_names_each_field_by_its_path(client, cast, method, path, kwargs, fields) -> None:
    answer = client.request(method, path, headers=auth(cast.admin), **kwargs)
    problem = assert_problem(answer, 422)
    assert [e["field"] for e in problem["errors"]] == fields
    assert all(e["message"] for e in problem["errors"])


# Pydantic's lax integers read all of these as a row's id (``1_0`` as 10, ``0001`` as 1):
# one row under many paths. Written in digits without a leading zero, as the console
# reads its ids; the last one has more digits than Python reads into an int at once.
OTHER_SPELLINGS = ["{id}.0", "+{id}", "%20{id}", "{id}%20", "{head}_{tail}", "{id}e0", "0{id}", "000{id}",
                   pytest.param("0" * 4400 + "{id}", id="4400-zeros-{id}")]


@pytest.mark.parametrize("spelled", OTHER_SPELLINGS)
def test_a_row_id_in_a_path_is_read_only_when_written_in_digits(client, cast, spelled) -> None:
    claim_id = str(claim_for(client, cast.admin, "M1")["id"])
    assert client.get(f"/v1/claims/{claim_id}", headers=auth(cast.admin)).status_code == 200
    other = spelled.format(id=claim_id, head=claim_id[:-1] or "0", tail=claim_id[-1])
    problem = assert_problem(client.get(f"/v1/claims/{other}", headers=auth(cast.admin)), 422)
    assert [e["field"] for e in problem["errors"]] == ["claim_id"], problem


@pytest.mark.parametrize("spelled", OTHER_SPELLINGS)
def test_a_cancellation_of_a_row_id_spelled_otherwise_is_refused_and_cancels_nothing(client, cast, session: Session,
                                                                                     spelled) -> None:
    settled = client.post("/v1/settlements/direct", json=settlement(fixmedins_code="H1"), headers=auth(cast.admin))
    assert settled.status_code == 201, settled.text
    settlement_id = str(settled.json()["settlement_id"])
    entries = session.scalar(select(func.count()).select_from(models.AuditEntry))
    other = spelled.format(id=settlement_id, head=settlement_id[:-1] or "0", tail=settlement_id[-1])
    answer = client.post(f"/v1/settlements/{other}/cancel", json={"reason": "收费员录入错误"}, headers=auth(cast.admin))
    problem = assert_problem(answer, 422)
    assert [e["field"] for e in problem["errors"]] == ["settlement_id"], problem
    assert session.scalar(select(func.count()).select_from(models.AuditEntry)) == entries
    assert session.scalar(select(func.count()).select_from(models.SettlementCancellation)) == 0
    decision = client.get(f"/v1/settlements/{settlement_id}/decision", headers=auth(cast.admin)).json()
    assert decision["status"] != "cancelled", decision


def _rows(session: Session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (models.Claim, models.ReliefAllocation, models.AuditEntry))


# Read by pydantic's lax ints as the settlement's id (true as 1): a JSON integer only.
@pytest.mark.parametrize("spelled", ["true", '"{id}"', '"0{id}"', '" {id}"', "{id}.0", "{id}e0"])
def test_a_settlement_id_in_a_body_is_read_only_as_a_json_integer(client, cast, session: Session, spelled) -> None:
    posted = post_settlement(client, cast.admin, patient="M1")
    before = _rows(session)
    body = '{"member_id": "M1", "settlement_id": %s}' % spelled.format(id=posted["id"])
    answer = client.post("/v1/claims", content=body, headers={**auth(cast.officer), **JSON})
    problem = assert_problem(answer, 422)
    assert [e["field"] for e in problem["errors"]] == ["settlement_id"], problem
    assert _rows(session) == before
    # Its one spelling claims it.
    assert client.post("/v1/claims", json={"member_id": "M1", "settlement_id": posted["id"]},
                       headers=auth(cast.officer)).status_code == 201


@pytest.mark.parametrize("spelled", ["true", f"{YEAR}.0", f'"+{YEAR}"', f'" {YEAR}"', f'"0{YEAR}"'])
def test_an_allocation_year_is_a_whole_number_in_digits(client, cast, session: Session, spelled) -> None:
    before = _rows(session)
    body = ('{"source": "central", "year": %s, "amount": "100.00", "reference": "拨款-年份", '
            '"received_on": "%s-01-15"}' % (spelled, YEAR))
    answer = client.post("/v1/funds/allocations", content=body, headers={**auth(cast.admin), **JSON})
    problem = assert_problem(answer, 422)
    assert [e["field"] for e in problem["errors"]] == ["year"], problem
    assert _rows(session) == before


@pytest.mark.parametrize("body", [b"{not json", b'{"member_id": "M1",}', b"[1, 2]", b'"M1"', b"", b"null"])
@pytest.mark.parametrize("path", ["/v1/claims", "/v1/settlements", "/v1/members", "/v1/claims/1/review"])
def test_a_malformed_json_body_is_refused_at_the_field_body(client, cast, path, body) -> None:
    answer = client.post(path, content=body, headers={**auth(cast.admin), **JSON})
    problem = assert_problem(answer, 422)
    assert [e["field"] for e in problem["errors"]] == ["body"], problem


def test_an_api_key_is_shown_once_and_stored_only_as_a_hash(client, cast, session: Session) -> None:
    made = client.post("/v1/keys", json={"role": "member", "member_id": "M3", "label": "王秀英的手机"},
                       headers=auth(cast.admin))
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    _, prefix, secret = key.split("_", 2)

    row = session.scalar(select(models.ApiKey).where(models.ApiKey.id == made.json()["id"]))
    assert (row.prefix, row.key_hash) == (prefix, hashlib.sha256(secret.encode()).hexdigest())
    assert all(secret not in str(getattr(row, c.key)) for c in models.ApiKey.__table__.columns)
    assert client.get("/v1/members/M3", headers=auth(key)).status_code == 200
    assert client.get("/v1/members/M1", headers=auth(key)).status_code == 404  # another member is answered as an unknown one


@pytest.mark.parametrize(
    "spoil",
    [lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"), lambda k: k.replace("ck_", "ak_"), lambda k: k + "x",
     lambda k: "ck_" + k.split("_", 2)[1]],
    ids=["wrong secret", "wrong tag", "longer", "prefix only"],
)
def test_a_key_that_is_almost_right_is_unknown(client, cast, spoil) -> None:
    assert_problem(client.get("/v1/claims", headers=auth(spoil(cast.member))), 401)


def test_a_revoked_key_is_refused(client, cast, session: Session) -> None:
    assert client.get("/v1/claims", headers=auth(cast.member)).status_code == 200
    prefix = cast.member.split("_", 2)[1]
    session.execute(update(models.ApiKey).where(models.ApiKey.prefix == prefix).values(revoked_at=models._now()))
    assert_problem(client.get("/v1/claims", headers=auth(cast.member)), 401)


# Inputs that once reached the database or the decoder unchecked. Each must be answered
# with a 4xx problem on both databases, never a 500.
NUL = "\u0000"
NASTY = [
    ("GET", "/v1/claims/99999999999999999999", {}),
    ("GET", "/v1/settlements/2147483648", {}),
    ("POST", "/v1/claims", {"json": {"member_id": "M1", "settlement_id": 99999999999999999999}}),
    ("POST", "/v1/claims", {"json": {"member_id": "M1", "fixmedins_code": f"H1{NUL}", "setl_id": "S1"}}),
    ("POST", "/v1/claims", {"content": b"\xff\xfe", "headers": JSON}),
    ("POST", "/v1/claims", {"content": b"[" * 100_000, "headers": JSON}),
    ("POST", "/v1/members", {"json": {"id": "M9", "union_id": "U1", "name": f"王{NUL}"}}),
    ("POST", "/v1/members", {"json": {"id": "M9", "union_id": "U" * 100}}),
    ("POST", "/v1/unions", {"json": {"id": "U9", "name": f"工会{NUL}"}}),
    ("GET", "/v1/members/M1%00", {}),
    ("GET", "/v1/claims", {"params": {"member_id": f"M1{NUL}", "hospital": f"H1{NUL}"}}),
    ("GET", "/v1/settlements", {"params": {"hospital": f"H1{NUL}"}}),
    ("GET", "/v1/claims", {"headers": {"Authorization": f"Bearer ck_a{NUL}_x"}}),
    ("GET", "/v1/claims", {"headers": {"Authorization": "Bearer ck_" + "a" * 10_000 + "_x"}}),
    ("POST", "/v1/settlements", {"json": settlement(setl_id="S" * 65)}),
    ("POST", "/v1/settlements", {"json": settlement(setl_id=f"S{NUL}")}),
    ("POST", "/v1/settlements", {"json": settlement(fixmedins_code=f"H1{NUL}")}),
    ("POST", "/v1/settlements", {"json": settlement(psn_no="P" * 65)}),
    ("POST", "/v1/settlements", {"json": settlement(fixmedins_name=f"医院{NUL}", diagnoses=[
        {"diag_code": f"J18{NUL}", "diag_name": NUL, "maindiag_flag": "1"}])}),
    ("POST", "/v1/settlements", {"json": settlement(begndate="0001-01-01", enddate="9999-12-31")}),
    ("POST", "/v1/settlements", {"json": settlement(medfee_sumamt=True, hosp_lv=5)}),
    ("POST", "/v1/settlements", {"content": b"[" * 100_000, "headers": JSON}),
    ("POST", "/v1/settlements", {"content": b'{"medfee_sumamt": 1e999999, "x": NaN}', "headers": JSON}),
    ("POST", "/v1/enrollments/import", {"params": {"union_id": "U1"}, "headers": CSV, "content":
     f"member_id,name,period_start,period_end,enrolled_on\n{'M' * 65},x,{YEAR}-01-01,{YEAR}-12-31,{YEAR}-01-01\n"}),
    ("POST", "/v1/enrollments/import", {"params": {"union_id": "U1"}, "headers": CSV, "content":
     f"member_id,name,period_start,period_end,enrolled_on\nM9,{'n' * 101},{YEAR}-01-01,{YEAR}-12-31,{YEAR}-01-01\n"}),
    ("POST", "/v1/enrollments/import", {"params": {"union_id": "U1"}, "headers": CSV, "content":
     f"member_id,name,period_start,period_end,enrolled_on\nM{NUL}9,x,{YEAR}-01-01,{YEAR}-12-31,{YEAR}-01-01\n"}),
    ("POST", "/v1/enrollments/import", {"params": {"union_id": "U1"}, "headers": CSV, "content": b"\xff\xfe\x00"}),
    ("POST", "/v1/enrollments/import", {"params": {"union_id": "U1"}, "headers": CSV, "content": 'a,b\n"open'}),
    ("POST", "/v1/members/M1/hardship", {"json": {"category": "dibao", "registered_on": f"{YEAR}-01-01",
                                                  "note": f"入户{NUL}"}}),
    ("POST", "/v1/keys", {"json": {"role": "member", "member_id": f"M1{NUL}"}}),
    ("POST", "/v1/keys", {"json": {"role": "admin", "label": f"管理员{NUL}"}}),
    ("GET", "/v1/claims", {"params": {"submitted_from": "0001-01-01", "submitted_to": "9999-12-31",
                                      "page": 1_000_000, "page_size": 200}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), NASTY, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(NASTY)])
def test_no_input_is_answered_with_a_server_error(client, cast, method, path, kwargs) -> None:
    headers = {**auth(cast.admin), **kwargs.get("headers", {})}
    answer = client.request(method, path, headers=headers, **{k: v for k, v in kwargs.items() if k != "headers"})
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert_problem(answer, answer.status_code)


def test_a_review_of_a_huge_claim_id_or_amount_is_refused_not_a_server_error(client, cast) -> None:
    claim = claim_for(client, cast.admin, "M1", b=HIGH_B)
    for amount in ("1e999999", "99999999999999999999.99", "NaN", "Infinity", " 1.00", "１.00"):
        answer = client.post(f"/v1/claims/{claim['id']}/review", headers=auth(cast.admin),
                             json={"lines": [{"benefit": "MA_IP", "action": "adjust", "amount": amount, "note": "n"}]})
        assert_problem(answer, 422)
