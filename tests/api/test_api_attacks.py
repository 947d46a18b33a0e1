"""What an attacker's pass over the service found, each refused with the field named
and nothing stored (both databases).

Invisible characters outside Unicode's control and format categories (U+034F, the
Hangul filler, Mongolian and emoji variation selectors, the blank braille pattern)
made one bill postable and payable several times; a lone surrogate or a line separator
answered 500; an admission in year 1 let a hospital make every plan change look as if
it left days without a plan; a time-zone offset moved a stay's end past today in
China; notes could hide what they said.
"""

from __future__ import annotations

import json

import pytest

from tests.api import builders as b
from tests.api.test_api_identity import post, refused, stored


@pytest.mark.parametrize("odd", ["\u034f", "\u3164", "\u180b", "\ufe0f", "\u2800", "\u200b", "/", " 1"])
def test_an_id_that_looks_like_another_is_refused_so_a_bill_is_paid_once(client, cast, session, odd):
    post(client, cast.hospital, b.settlement(setl_id="T1"))
    before = stored(session)
    refused(post(client, cast.hospital, b.settlement(setl_id="T1" + odd)), 422, "setl_id")
    assert stored(session) == before


@pytest.mark.parametrize(("text", "field"), [
    ('"psn_name": "\\ud800"', "psn_name"),
    ('"psn_name": "\\u2028"', "psn_name"),
    ('"diagnoses": [{"diag_code": "J18.900", "diag_name": "\\ud800", "maindiag_flag": "1"}]', "diagnoses[0].diag_name"),
])
def test_a_lone_surrogate_or_a_line_separator_is_refused_not_a_500(client, cast, session, text, field):
    bill = b.settlement()
    key = text.split(":", 1)[0].strip('"')
    bill.pop(key, None)
    raw = json.dumps(bill)[:-1] + ", " + text + "}"
    before = stored(session)
    answer = client.post("/v1/settlements", content=raw.encode(),
                         headers={**b.auth(cast.hospital), "content-type": "application/json"})
    refused(answer, 422, field)
    assert stored(session) == before


@pytest.mark.parametrize(("fields", "field"), [
    ({"begndate": "0001-01-01"}, "begndate"),
    ({"enddate": f"{b.YEAR}-05-12T23:59:59-12:00"}, "enddate"),
    ({"enddate": f"{b.YEAR}-05-12T10:00:00Z"}, "enddate"),
    ({"diagnoses": [{"diag_code": "J18.900", "diag_name": "", "maindiag_flag": "1" if i == 0 else "0"}
                    for i in range(101)]}, "diagnoses"),
])
def test_implausible_dates_and_endless_diagnoses_are_refused(client, cast, session, fields, field):
    before = stored(session)
    refused(post(client, cast.hospital, b.settlement(**fields)), 422, field)
    assert stored(session) == before


def test_a_stay_with_a_local_time_of_day_is_accepted(client, cast):
    posted = post(client, cast.hospital, b.settlement(begndate=f"{b.YEAR}-05-02 08:30:00", enddate=f"{b.YEAR}-05-12 17:00:00"))
    assert posted.status_code == 201, posted.text


def _post_json(client, path: str, key: str, body: dict):
    # json.dumps escapes a lone surrogate (\ud800), which is how a client can send one at all.
    return client.post(path, content=json.dumps(body).encode(), headers={**b.auth(key), "content-type": "application/json"})


@pytest.mark.parametrize("note", ["\u200b", "\x1b[2J\x1b[31mFAKE AUDIT LINE\r\n", "\u202eetad repap", "\ud800"])
def test_a_receipt_note_or_review_note_that_hides_what_it_says_is_refused(client, cast, session, note):
    posted = b.post_settlement(client, cast.hospital)
    before = stored(session)
    answer = _post_json(client, "/v1/claims", cast.officer, {
        "member_id": "M1", "settlement_id": posted["id"], "submitted_on": b.SUBMITTED, "note": note})
    refused(answer, 422, "note")
    assert stored(session) == before
    pended = b.claim_for(client, cast.admin, "M1", b=b.HIGH_B)
    before = stored(session)
    answer = _post_json(client, f"/v1/claims/{pended['id']}/review", cast.officer,
                        {"lines": [{"benefit": "MA_DA", "action": "approve", "note": note}]})
    refused(answer, 422, "lines[0].note")
    assert stored(session) == before


def test_a_note_may_run_over_several_lines(client, cast):
    posted = b.post_settlement(client, cast.hospital)
    claim = client.post("/v1/claims", headers=b.auth(cast.officer), json={
        "member_id": "M1", "settlement_id": posted["id"], "submitted_on": b.SUBMITTED, "note": "纸质申请\n6月30日收件"})
    assert claim.status_code == 201 and claim.json()["receipt_note"] == "纸质申请\n6月30日收件"


@pytest.mark.parametrize(("body", "content_type", "field"), [
    ('{"name": "x\\ud800", "benefits": []}', "application/json", "name"),
    ("name: x\nbenefits:\n  - code: MA_IP\n    amount: {kind: banded_share, bands: [{from: '0', rate: .nan}]}\n",
     "application/yaml", "body"),
    ("name: x\nbenefits:\n  - code: MA_IP\n    amount: {kind: banded_share, bands: [{from: '0', rate: .inf}]}\n",
     "application/yaml", "body"),
])
def test_a_plan_holding_a_lone_surrogate_or_an_infinite_number_is_refused_not_a_500(
    client, cast, session, body, content_type, field
):
    before = stored(session)
    answer = client.post("/v1/plans", content=body.encode(), headers={**b.auth(cast.admin), "content-type": content_type})
    refused(answer, 422, field)
    assert stored(session) == before


def test_an_imported_name_hiding_a_character_is_refused_as_over_the_api(client, cast, session):
    before = stored(session)
    body = ("member_id,certno,name,period_start,period_end,enrolled_on\n"
            f"M77,{b.certno_for('M77')},王\u3164秀,{b.YEAR}-01-01,{b.YEAR}-12-31,{b.YEAR - 1}-12-01\n")
    answer = client.post("/v1/enrollments/import", content=body.encode(), params={"union_id": "U1"},
                         headers={**b.auth(cast.officer), "content-type": "text/csv"})
    refused(answer, 422, "row 2.name")
    assert stored(session) == before


def test_a_reviewer_s_cut_of_mutual_aid_leaves_the_relief_within_what_is_left_of_the_bill(client, cast, session):
    """A reviewer's MA_IP amount takes its part of B when CIR is decided again around it."""
    b.register_hardship(client, cast.officer, "M1", category="dibao")
    claim = b.claim_for(client, cast.admin, "M1", b=b.HIGH_B, diag_code=b.LUNG_CANCER)
    reviewed = b.review(client, cast.officer, claim["id"],
                        {"benefit": "MA_IP", "action": "adjust", "amount": "100000.00", "note": "核减"})
    # dibao: 90% of what MA_IP left (150,000 - 100,000 = 50,000) = 45,000.00, under the 60,000.00 cap.
    assert b.line(reviewed, "CIR")["amount"] == "45000.00"
    mutual, relief = (int(b.line(reviewed, c)["amount"].replace(".", "")) for c in ("MA_IP", "CIR"))
    assert mutual + relief <= 15_000_000
