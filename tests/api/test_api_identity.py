"""Who a bill belongs to, and bills true to the registry (domain.md), over HTTP on both databases.

Every attack is refused with the field named and nothing stored: the rows of every
table a post or a claim writes are counted before and after, the audit log included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.app import create_app
from claims.dates import china_today
from store import models
from tests.api.builders import CERTNO, SUBMITTED, YEAR, auth, create_hospital, create_member, post_settlement, received_on, settlement
from tests.builders import certno_for

PROBLEM = "application/problem+json"
WRITTEN = (models.Settlement, models.Claim, models.DecisionLine, models.Accumulator, models.AdjudicatedBill,
           models.AuditEntry, models.Member, models.Enrollment)
FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"}  # ０ Ａ －


def stored(session: Session) -> dict[str, int]:
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in WRITTEN}


def refused(answer, status: int, field: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert [e["field"] for e in body["errors"]] == [field], body
    return body


def post(client: TestClient, key: str, bill: dict):
    return client.post("/v1/settlements", json=bill, headers=auth(key))


# ----------------------------------------------------------------------------- members


def test_a_member_is_registered_with_their_resident_identity_number_x_in_upper_case(client, cast, session) -> None:
    lower = certno_for("M10").lower()  # this one ends in X
    assert lower.endswith("x")
    member = create_member(client, cast.officer, "M10", certno=lower)
    assert member["certno"] == lower.upper()
    assert client.get("/v1/members/M10", headers=auth(cast.officer)).json()["certno"] == lower.upper()


@pytest.mark.parametrize("certno", [None, "", CERTNO["M1"][:17], CERTNO["M1"][:17] + "Y", "1" * 17 + "9"])
def test_a_member_without_a_valid_resident_identity_number_is_refused_and_not_stored(
    client, cast, session, certno
) -> None:
    before = stored(session)
    body = {"id": "M11", "union_id": "U1", "name": "王秀英"} | ({} if certno is None else {"certno": certno})
    refused(client.post("/v1/members", json=body, headers=auth(cast.admin)), 422, "certno")
    assert stored(session) == before


def test_a_resident_identity_number_registered_already_is_a_conflict_naming_certno(client, cast, session) -> None:
    before = stored(session)
    # M3 is in U2: the answer to U1's officer must not name who holds the number.
    answer = client.post("/v1/members", json={"id": "M12", "certno": CERTNO["M3"]}, headers=auth(cast.officer))
    body = refused(answer, 409, "certno")
    assert "M3" not in answer.text and "U2" not in answer.text
    assert body["title"] == "Conflict"
    assert stored(session) == before


@pytest.mark.parametrize("name", ["王\u200b秀英", "王秀英\n", "\u202e英秀王"])
def test_a_member_s_name_with_a_control_or_invisible_character_is_refused(client, cast, session, name) -> None:
    before = stored(session)
    refused(client.post("/v1/members", json={"id": "M13", "certno": certno_for("M13"), "name": name},
                        headers=auth(cast.officer)), 422, "name")
    assert stored(session) == before


CSV = {"content-type": "text/csv"}
HEADER = "member_id,certno,name,period_start,period_end,enrolled_on\n"
PERIOD = f"{YEAR + 1}-01-01,{YEAR + 1}-12-31,{YEAR}-12-01"


@pytest.mark.parametrize(("row", "why"), [
    (f"M1,{CERTNO['M2']},王秀英,{PERIOD}", "a known member's row with a colleague's number"),
    (f"M1,,王秀英,{PERIOD}", "a known member's row with no number"),
    (f"M40,{CERTNO['M1'][:17]}0,新会员,{PERIOD}", "a wrong check digit"),
    (f"M40,{CERTNO['M3']},新会员,{PERIOD}", "the number of a member of another union"),
])
def test_an_enrollment_file_row_whose_certno_is_not_the_member_s_refuses_the_file(
    client, cast, session, row, why
) -> None:
    before = stored(session)
    content = (HEADER + f"M41,{certno_for('M41')},新会员,{PERIOD}\n" + row + "\n").encode()
    answer = client.post("/v1/enrollments/import", content=content, headers={**auth(cast.officer), **CSV})
    refused(answer, 422, "row 3.certno")
    assert stored(session) == before, why


def test_two_new_members_of_one_file_cannot_share_a_number(client, cast, session) -> None:
    before = stored(session)
    content = (HEADER + f"M42,{certno_for('M42')},甲,{PERIOD}\nM43,{certno_for('M42')},乙,{PERIOD}\n").encode()
    refused(client.post("/v1/enrollments/import", content=content, headers={**auth(cast.officer), **CSV}),
            422, "row 3.certno")
    assert stored(session) == before


def test_a_file_row_of_a_known_member_with_their_own_number_enrolls_them(client, cast, session) -> None:
    content = (HEADER + f"M1,{CERTNO['M1'].lower()},王秀英,{PERIOD}\n").encode()
    answer = client.post("/v1/enrollments/import", content=content, headers={**auth(cast.officer), **CSV})
    assert answer.status_code == 200, answer.text
    assert answer.json()["enrollments_created"] == 1


# ----------------------------------------------------------------------------- claims


def _claim(client: TestClient, key: str, member_id: str, *, dated: bool = True, **reference) -> dict:
    """Claim as ``key``; ``dated``: recorded as a paper claim of SUBMITTED (an officer's or admin's key only)."""
    answer = client.post("/v1/claims", headers=auth(key),
                         json={"member_id": member_id, **(received_on() if dated else {}), **reference})
    return {"status": answer.status_code, "content-type": answer.headers["content-type"], "body": answer.json()}


def test_a_member_claiming_someone_else_s_bill_is_answered_exactly_as_for_an_unknown_bill(
    client, cast, session
) -> None:
    colleague_s = post_settlement(client, cast.hospital, patient="M2", setl_id="S-M2-OWN")
    before = stored(session)

    # M1 (and U1's officer for M1) name M2's bill by its id, and by hospital and setl_id.
    for key in (cast.member, cast.officer):
        by_id = _claim(client, key, "M1", settlement_id=colleague_s["id"])
        unknown_id = _claim(client, key, "M1", settlement_id=2**31 - 1)
        assert by_id == unknown_id
        assert by_id["status"] == 404 and by_id["body"]["errors"] == [{"field": "settlement_id",
                                                                          "message": "no such settlement"}]
        by_ref = _claim(client, key, "M1", fixmedins_code="H1", setl_id="S-M2-OWN")
        assert by_ref == _claim(client, key, "M1", fixmedins_code="H1", setl_id="S-NEVER-POSTED")
        assert by_ref["status"] == 404

    batch = client.post("/v1/claims/batch", headers=auth(cast.officer), json={"claims": [
        {"member_id": "M1", "settlement_id": post_settlement(client, cast.hospital)["id"]},
        {"member_id": "M1", "settlement_id": colleague_s["id"]}]})
    refused(batch, 404, "claims[1].settlement_id")

    # Nothing stored: no claim, no lines, no totals, no adjudicated bill, no audit entry
    # (but the one settlement the batch's first item was posted on).
    assert stored(session) == before | {"settlements": before["settlements"] + 1,
                                        "audit_log": before["audit_log"] + 1}
    # M2 can still claim their own bill: the refused attempts left no trace on it.
    own = _claim(client, cast.officer, "M2", settlement_id=colleague_s["id"])
    assert (own["status"], own["body"]["status"]) == (201, "approved")


def test_a_settlement_posted_before_bills_carried_a_certno_can_be_claimed_by_nobody(client, cast, session) -> None:
    old = post_settlement(client, cast.hospital)
    session.execute(models.Settlement.__table__.update().where(models.Settlement.id == old["id"]).values(certno=None))
    before = stored(session)
    assert _claim(client, cast.admin, "M1", settlement_id=old["id"]) == \
        _claim(client, cast.admin, "M1", settlement_id=2**31 - 1)
    assert stored(session) == before


def test_a_claim_naming_the_bill_in_full_width_characters_finds_it(client, cast) -> None:
    post_settlement(client, cast.hospital, setl_id="ZW-1")
    claimed = _claim(client, cast.member, "M1", dated=False, fixmedins_code="Ｈ１", setl_id="ＺＷ－１")
    assert (claimed["status"], claimed["body"]["setl_id"]) == (201, "ZW-1")


# ----------------------------------------------------------------------------- reading a bill


def test_the_officer_of_the_patient_s_union_reads_the_bill_and_another_union_s_officer_gets_404(
    client, cast
) -> None:
    posted = post_settlement(client, cast.hospital, setl_id="S-PRIVATE")  # M1's, not claimed yet
    url = f"/v1/settlements/{posted['id']}"
    never = f"/v1/settlements/{2**31 - 1}"

    assert client.get(url, headers=auth(cast.officer)).json()["record"]["certno"] == CERTNO["M1"]
    assert client.get(url, headers=auth(cast.member)).json()["setl_id"] == "S-PRIVATE"

    # A throwaway claim for a member of U2 no longer unlocks M1's diagnoses for U2's officer.
    assert _claim(client, cast.officer_other, "M3", settlement_id=posted["id"])["status"] == 404
    for key in (cast.officer_other, cast.member_other, cast.hospital_other):
        other, unknown = client.get(url, headers=auth(key)), client.get(never, headers=auth(key))
        assert (other.status_code, other.headers["content-type"]) == (404, PROBLEM)
        assert {k: v for k, v in other.json().items() if k not in ("detail", "instance")} == \
            {k: v for k, v in unknown.json().items() if k not in ("detail", "instance")}
        assert other.json()["detail"] == f"no settlement {posted['id']}"


# ----------------------------------------------------------------------------- true bills


def test_a_pharmacy_posting_a_hospital_grade_is_refused_at_hosp_lv(client, cast, session) -> None:
    create_hospital(client, cast.admin, "P1", grade="11")
    before = stored(session)
    refused(post(client, cast.admin, settlement(fixmedins_code="P1", hosp_lv="02", med_type="41")), 422, "hosp_lv")
    assert stored(session) == before
    assert post(client, cast.admin, settlement(fixmedins_code="P1", hosp_lv="11", med_type="41")).status_code == 201


def test_a_stay_ending_tomorrow_in_china_is_refused_at_enddate(client, cast, session) -> None:
    today = china_today()
    before = stored(session)
    refused(post(client, cast.hospital, settlement(begndate=(today - dt.timedelta(days=3)).isoformat(),
                                                   enddate=(today + dt.timedelta(days=1)).isoformat())),
            422, "enddate")
    assert stored(session) == before
    assert post(client, cast.hospital, settlement(begndate=(today - dt.timedelta(days=3)).isoformat(),
                                                  enddate=today.isoformat())).status_code == 201


def test_an_id_with_a_zero_width_space_is_refused_and_a_full_width_one_is_the_same_bill(client, cast, session) -> None:
    bill = settlement(setl_id="ZW-1")
    first = post(client, cast.hospital, bill)
    assert first.status_code == 201, first.text
    before = stored(session)

    refused(post(client, cast.hospital, {**bill, "setl_id": "ZW-1\u200b"}), 422, "setl_id")
    assert stored(session) == before

    full_width = {**bill, "setl_id": "ZW-1".translate(FULL_WIDTH), "fixmedins_code": "H1".translate(FULL_WIDTH),
                  "certno": bill["certno"].translate(FULL_WIDTH)}
    again = post(client, cast.hospital, full_width)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    other_content = post(client, cast.hospital, {**full_width, "fixmedins_name": "另一家医院"})
    assert other_content.status_code == 409, other_content.text
    assert stored(session) == before


@pytest.mark.parametrize(("fields", "field"), [
    ({"diagnoses": [{"diag_code": "J18.900", "diag_name": "肺\x07炎", "maindiag_flag": "1"}]}, "diagnoses[0].diag_name"),
    ({"diagnoses": [{"diag_code": "J18.900", "diag_name": "\ufeff肺炎", "maindiag_flag": "1"}]}, "diagnoses[0].diag_name"),
    ({"diagnoses": [{"diag_code": "J18.900", "diag_name": "肺" * 201, "maindiag_flag": "1"}]}, "diagnoses[0].diag_name"),
    ({"psn_name": "王\u200e秀英"}, "psn_name"),
    ({"psn_name": "王" * 51}, "psn_name"),
    ({"setl_id": "S\n1"}, "setl_id"),
    ({"mdtrt_id": "M" * 65}, "mdtrt_id"),
    ({"med_type": "99"}, "med_type"),
    ({"insutype": "999"}, "insutype"),
    ({"hosp_lv": "12"}, "hosp_lv"),
    ({"psn_cert_type": "08"}, "psn_cert_type"),
    ({"certno": None}, "certno"),
    ({"certno": CERTNO["M1"][:17] + ("0" if CERTNO["M1"][17] != "0" else "1")}, "certno"),
    ({"certno": CERTNO["M1"][:16]}, "certno"),
    ({"submitted_on": f"{YEAR}-01-01"}, "submitted_on"),
])
def test_an_untrue_settlement_is_refused_naming_the_field_and_nothing_is_stored(
    client, cast, session, fields, field
) -> None:
    before = stored(session)
    refused(post(client, cast.hospital, settlement(**fields)), 422, field)
    assert stored(session) == before


def test_the_settlement_schema_states_the_lists_the_service_enforces(client) -> None:
    schema = client.get("/openapi.json").json()["paths"]["/v1/settlements"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert "certno" in schema["required"]
    assert schema["properties"]["certno"]["pattern"] == "^[0-9]{17}[0-9Xx]$"
    assert schema["properties"]["med_type"]["enum"] == ["11", "12", "13", "14", "21", "22", "23", "24", "41", "51", "52"]
    assert schema["properties"]["diagnoses"]["items"]["properties"]["diag_name"]["maxLength"] == 200
    assert schema["not"] == {"required": ["submitted_on"]}


@pytest.fixture
def provincial(client, database_url: str) -> Iterator[TestClient]:
    """The app of a deployment that lists its province's med_type 9901, on the same database."""
    app = create_app(database_url, migrate=False, provincial_med_types=["9901"])
    with TestClient(app) as provincial_client:
        yield provincial_client
    app.state.db.dispose()


def test_a_provincial_med_type_is_accepted_only_where_the_deployment_lists_it(client, cast, session, provincial) -> None:
    before = stored(session)
    refused(post(client, cast.hospital, settlement(setl_id="S-PROV", med_type="9901")), 422, "med_type")
    assert stored(session) == before
    accepted = post(provincial, cast.hospital, settlement(setl_id="S-PROV", med_type="9901"))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["record"]["med_type"] == "9901"
    refused(post(provincial, cast.hospital, settlement(med_type="9902")), 422, "med_type")
    enum = provincial.get("/openapi.json").json()["paths"]["/v1/settlements"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]["med_type"]["enum"]
    assert enum[-1] == "9901"
