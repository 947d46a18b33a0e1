"""The registry over HTTP: unions, hospitals, members, enrollments (one by one or a CSV file), hardship."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import models
from tests.builders import certno_for
from tests.api.builders import (
    fund_relief,
    LUNG_CANCER,
    YEAR,
    auth,
    claim_for,
    codes,
    create_hospital,
    create_member,
    create_union,
    enroll,
    line,
    register_hardship,
)

CSV = {"content-type": "text/csv"}
HEADER = "member_id,certno,name,gender,birth_date,period_start,period_end,enrolled_on\n"


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_an_administrator_registers_unions_and_hospitals_and_everyone_may_list_hospitals(client, admin_key) -> None:
    union = create_union(client, admin_key, "BT", name="包头市总工会", region="包头市")
    hospital = create_hospital(client, admin_key, "H15020001", name="包头医学院第一附属医院", grade="02")
    assert union == {"id": "BT", "name": "包头市总工会", "region": "包头市", "parent_id": None, "level": "grassroots", "league_id": None}
    assert hospital == {"code": "H15020001", "name": "包头医学院第一附属医院", "grade": "02", "region": ""}
    create_union(client, admin_key, "BT", expect=409)
    create_hospital(client, admin_key, "H15020001", expect=409)
    create_hospital(client, admin_key, "H2", grade="12", expect=422)
    assert client.get("/v1/unions", headers=auth(admin_key)).json()["items"] == [union]
    assert client.get("/v1/hospitals", headers=auth(admin_key)).json()["items"] == [hospital]


def test_an_officer_sees_only_their_own_union(client, cast) -> None:
    assert [u["id"] for u in client.get("/v1/unions", headers=auth(cast.admin)).json()["items"]] == ["C2", "L1", "L2", "R", "U1", "U2"]
    assert [u["id"] for u in client.get("/v1/unions", headers=auth(cast.officer)).json()["items"]] == ["U1"]
    listed = client.get("/v1/members", headers=auth(cast.officer)).json()
    assert ([m["id"] for m in listed["items"]], listed["total"]) == (["M1", "M2"], 2)
    # A filter for another union does not widen an officer's view: it narrows it to nothing (a filter
    # narrows within the officer's subtree, now that officers have unions beneath them).
    widened = client.get("/v1/members", params={"union_id": "U2"}, headers=auth(cast.officer)).json()
    assert (widened["items"], widened["total"]) == ([], 0)
    of_u2 = client.get("/v1/members", params={"union_id": "U2"}, headers=auth(cast.admin)).json()
    assert [m["id"] for m in of_u2["items"]] == ["M3"]
    paged = client.get("/v1/members", params={"page": 2, "page_size": 2}, headers=auth(cast.admin)).json()
    assert ([m["id"] for m in paged["items"]], paged["total"]) == (["M3"], 3)


def test_an_officer_registers_members_of_their_own_union(client, cast) -> None:
    member = create_member(client, cast.officer, "M10", name="乌云其其格", gender="F", birth_date="1985-07-01")
    assert member == {"id": "M10", "union_id": "U1", "certno": certno_for("M10"), "name": "乌云其其格", "gender": "F",
                      "birth_date": "1985-07-01"}
    create_member(client, cast.officer, "M10", expect=409)
    create_member(client, cast.officer, "M11", union_id="U2", expect=403)
    create_member(client, cast.admin, "M12", expect=422)  # an administrator names the union
    create_member(client, cast.admin, "M12", union_id="U404", expect=422)


def test_a_member_s_enrollments_never_overlap(client, cast) -> None:
    overlapping = client.post("/v1/members/M1/enrollments", headers=auth(cast.officer), json={
        "period_start": f"{YEAR}-07-01", "period_end": f"{YEAR + 1}-06-30", "enrolled_on": f"{YEAR}-06-01"})
    assert overlapping.status_code == 422
    assert [e["field"] for e in overlapping.json()["errors"]] == ["period_start"]
    enroll(client, cast.officer, "M1", YEAR + 1)
    detail = client.get("/v1/members/M1", headers=auth(cast.member)).json()
    assert [e["period_start"] for e in detail["enrollments"]] == [f"{YEAR - 1}-01-01", f"{YEAR}-01-01", f"{YEAR + 1}-01-01"]
    enroll(client, cast.officer, "M404", expect=404)


def test_a_csv_file_enrolls_new_and_known_members_and_importing_it_again_changes_nothing(client, cast, session) -> None:
    csv_text = HEADER + (
        f"M20,{certno_for('M20')},包宝音,M,1980-02-03,{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-15\n"
        f"M21,{certno_for('M21')},敖娜仁,,,{YEAR}-01-01,{YEAR}-12-31,{YEAR}-03-01\n"
        f"M1,{certno_for('M1')},王秀英,F,1979-03-14,{YEAR + 1}-01-01,{YEAR + 1}-12-31,{YEAR}-12-01\n"
        f"M2,{certno_for('M2')},,,,{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"  # already enrolled exactly so
    )
    imported = client.post("/v1/enrollments/import", content=csv_text.encode(), headers={**auth(cast.officer), **CSV})

    assert imported.status_code == 200, imported.text
    assert imported.json() == {"members_created": 2, "enrollments_created": 3, "enrollments_unchanged": 1}
    m20 = client.get("/v1/members/M20", headers=auth(cast.officer)).json()
    assert (m20["union_id"], m20["name"], m20["gender"], m20["birth_date"]) == ("U1", "包宝音", "M", "1980-02-03")
    assert [e["enrolled_on"] for e in m20["enrollments"]] == [f"{YEAR - 1}-12-15"]

    again = client.post("/v1/enrollments/import", content=csv_text.encode(), headers={**auth(cast.officer), **CSV})
    assert again.json() == {"members_created": 0, "enrollments_created": 0, "enrollments_unchanged": 4}
    assert count(session, models.Enrollment) == 6 + 3


def test_a_csv_file_with_one_bad_row_imports_nothing_and_names_every_bad_row_and_column(client, cast, session) -> None:
    members, enrollments = count(session, models.Member), count(session, models.Enrollment)
    csv_text = HEADER + (
        f"M30,{certno_for('M30')},好的,F,1990-01-01,{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"  # row 2: fine
        f"M31,{certno_for('M31')},坏日期,F,1990-01-01,{YEAR}-13-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"  # row 3
        f"M32,{certno_for('M32')},倒序,F,1990-01-01,{YEAR}-12-31,{YEAR}-01-01,{YEAR - 1}-12-01\n"  # row 4
        f"M3,{certno_for('M3')},别的工会,F,,{YEAR + 1}-01-01,{YEAR + 1}-12-31,{YEAR}-12-01\n"  # row 5: M3 is in U2
        f"M30,{certno_for('M30')},重复,F,,{YEAR}-06-01,{YEAR + 1}-05-31,{YEAR}-05-01\n"  # row 6: overlaps row 2
        f"M33,{certno_for('M33')},性别,X,,{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"  # row 7
        f"M1,{certno_for('M1')},,,,{YEAR}-03-01,{YEAR + 1}-02-28,{YEAR}-02-01\n"  # row 8: overlaps a stored enrollment
        f",,无编号,,,{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"  # row 9
    )
    refused = client.post("/v1/enrollments/import", content=csv_text.encode(), headers={**auth(cast.officer), **CSV})

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert sorted(e["field"] for e in refused.json()["errors"]) == [
        "row 3.period_start", "row 4.period_end", "row 5.member_id", "row 6.period_start",
        "row 7.gender", "row 8.period_start", "row 9.member_id"]
    assert (count(session, models.Member), count(session, models.Enrollment)) == (members, enrollments)
    assert client.get("/v1/members/M30", headers=auth(cast.officer)).status_code == 404


def test_a_csv_file_without_the_needed_columns_is_refused(client, cast) -> None:
    refused = client.post("/v1/enrollments/import", content=b"member_id,name\nM40,x\n",
                          headers={**auth(cast.officer), **CSV})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["header"]
    assert "period_start" in refused.json()["errors"][0]["message"]


def test_an_administrator_imports_into_the_union_named(client, cast) -> None:
    csv_text = HEADER + f"M50,{certno_for('M50')},,,,{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"
    without = client.post("/v1/enrollments/import", content=csv_text.encode(), headers={**auth(cast.admin), **CSV})
    assert [e["field"] for e in without.json()["errors"]] == ["union_id"]
    with_union = client.post("/v1/enrollments/import", params={"union_id": "U2"}, content=csv_text.encode(),
                             headers={**auth(cast.admin), **CSV})
    assert with_union.status_code == 200, with_union.text
    assert client.get("/v1/members/M50", headers=auth(cast.officer_other)).json()["union_id"] == "U2"


# CIR on B = 1,000.00 with a catalog disease: MA_IP pays 400.00, so the residual R is
# 600.00; a near-dibao household gets 70% of it (420.00), a dibao household 90% (540.00).


def test_an_unverified_hardship_registration_pends_the_relief_line(client, cast) -> None:
    register_hardship(client, cast.officer, "M1", category="near_dibao", verified=False)
    claim = claim_for(client, cast.admin, "M1", b="1000.00", diag_code=LUNG_CANCER)
    cir = line(claim, "CIR")
    assert (cir["status"], cir["amount"], codes(cir)) == ("pended", "420.00", ["HARDSHIP_UNVERIFIED"])
    assert claim["status"] == "pended"


def test_a_verified_registration_pays_the_relief_line(client, cast) -> None:
    registration = register_hardship(client, cast.officer, "M1", category="dibao", verified=False)
    verified = client.post(f"/v1/hardship/{registration['id']}/verify", headers=auth(cast.officer),
                           json={"verified_on": f"{YEAR - 1}-03-01", "note": "入户核查属实"})
    assert verified.status_code == 200, verified.text
    assert (verified.json()["verified"], verified.json()["note"]) == (True, "入户核查属实")

    fund_relief(client, cast.admin)
    claim = claim_for(client, cast.admin, "M1", b="1000.00", diag_code=LUNG_CANCER)
    cir = line(claim, "CIR")
    assert (cir["status"], cir["amount"], codes(cir)) == ("approved", "540.00", [])


def test_a_registration_revoked_before_admission_does_not_count_and_one_revoked_after_does(client, cast) -> None:
    before = register_hardship(client, cast.officer, "M1", category="dibao")
    after = register_hardship(client, cast.officer, "M2", category="dibao")
    for registration, revoked_on in ((before, f"{YEAR}-04-01"), (after, f"{YEAR}-06-01")):
        answer = client.post(f"/v1/hardship/{registration['id']}/revoke", headers=auth(cast.officer),
                             json={"revoked_on": revoked_on, "note": "家庭收入已超过标准"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["revoked_on"] == revoked_on

    fund_relief(client, cast.admin)
    admitted_after_revocation = claim_for(client, cast.admin, "M1", diag_code=LUNG_CANCER)  # admitted 05-02
    admitted_before_revocation = claim_for(client, cast.admin, "M2", diag_code=LUNG_CANCER)

    cir = line(admitted_after_revocation, "CIR")
    assert (cir["status"], codes(cir)) == ("not_applicable", ["NOT_HARDSHIP_REGISTERED"])
    assert line(admitted_before_revocation, "CIR")["status"] == "approved"


def test_an_accident_household_is_registered_but_not_eligible_for_relief(client, cast) -> None:
    register_hardship(client, cast.officer, "M1", category="accident")
    cir = line(claim_for(client, cast.admin, "M1", diag_code=LUNG_CANCER), "CIR")
    assert (cir["status"], codes(cir)) == ("denied", ["HARDSHIP_CATEGORY_NOT_ELIGIBLE"])


def test_hardship_registrations_are_kept_in_order(client, cast) -> None:
    register_hardship(client, cast.officer, "M1", verified=True, verified_on=None, expect=422)
    registration = register_hardship(client, cast.officer, "M1", registered_on=f"{YEAR}-02-01")
    rid = registration["id"]
    early = client.post(f"/v1/hardship/{rid}/revoke", json={"revoked_on": f"{YEAR}-01-31"}, headers=auth(cast.officer))
    assert [e["field"] for e in early.json()["errors"]] == ["revoked_on"]
    assert client.post(f"/v1/hardship/{rid}/revoke", json={"revoked_on": f"{YEAR}-03-01"},
                       headers=auth(cast.officer)).status_code == 200
    assert client.post(f"/v1/hardship/{rid}/revoke", json={"revoked_on": f"{YEAR}-04-01"},
                       headers=auth(cast.officer)).status_code == 409
    assert client.post(f"/v1/hardship/{rid}/verify", json={"verified_on": f"{YEAR}-04-01"},
                       headers=auth(cast.officer)).status_code == 409
    assert client.post("/v1/hardship/999999/verify", json={"verified_on": f"{YEAR}-04-01"},
                       headers=auth(cast.officer)).status_code == 404
    listed = client.get("/v1/members/M1", headers=auth(cast.member)).json()["hardship_registrations"]
    assert [(r["id"], r["revoked_on"]) for r in listed] == [(rid, f"{YEAR}-03-01")]


def test_registry_changes_are_in_the_audit_log(client, cast, session) -> None:
    create_member(client, cast.officer, "M60")
    enroll(client, cast.officer, "M60")
    registration = register_hardship(client, cast.officer, "M60", verified=False)
    client.post(f"/v1/hardship/{registration['id']}/verify", json={"verified_on": f"{YEAR}-01-05"},
                headers=auth(cast.officer))
    client.post("/v1/enrollments/import", content=(HEADER + f"M61,{certno_for('M61')},,,,{YEAR}-01-01,{YEAR}-12-31,{YEAR}-01-01\n").encode(),
                headers={**auth(cast.officer), **CSV})
    actions = session.scalars(select(models.AuditEntry.action).where(models.AuditEntry.actor.like("key:%"))
                              .order_by(models.AuditEntry.id)).all()
    assert actions == ["member.created", "enrollment.created", "hardship.registered", "hardship.verified",
                       "enrollments.imported"]


def test_an_officer_sees_their_union_and_every_union_beneath_it(client, cast) -> None:
    """R → L1 → U1 (M1, M2); R → L2 → C2 → U2 (M3): each officer sees their subtree, nothing beside it."""
    def unions(key):
        return [u["id"] for u in client.get("/v1/unions", headers=auth(key)).json()["items"]]

    def members(key, **params):
        return [m["id"] for m in client.get("/v1/members", params=params, headers=auth(key)).json()["items"]]

    assert unions(cast.officer_region) == ["C2", "L1", "L2", "R", "U1", "U2"]
    assert unions(cast.officer_league) == ["L1", "U1"]
    assert unions(cast.officer_county) == ["C2", "U2"]
    assert members(cast.officer_region) == ["M1", "M2", "M3"]
    assert members(cast.officer_league) == ["M1", "M2"]
    assert members(cast.officer_county) == ["M3"]
    # A filter narrows within the subtree.
    assert members(cast.officer_region, union_id="U2") == ["M3"]
    assert members(cast.officer_league, union_id="U2") == []
    # Reading a member or a union beside one's subtree is answered as an unknown one.
    assert client.get("/v1/members/M3", headers=auth(cast.officer_league)).status_code == 404
    assert client.get("/v1/members/M3", headers=auth(cast.officer_county)).status_code == 200
    assert client.get("/v1/unions/L2", headers=auth(cast.officer_league)).status_code == 404
    assert client.get("/v1/unions/U1", headers=auth(cast.officer_league)).json()["league_id"] == "L1"
    assert client.get("/v1/unions/U2", headers=auth(cast.admin)).json() | {} == {
        "id": "U2", "name": "U2 总工会", "region": "", "parent_id": "C2", "level": "grassroots", "league_id": "L2"}


def test_an_officer_registers_members_in_unions_beneath_theirs_only(client, cast) -> None:
    made = client.post("/v1/members", json={"id": "M9", "union_id": "U1", "certno": certno_for("M9"), "gender": "M"},
                       headers=auth(cast.officer_league))
    assert made.status_code == 201, made.text
    refused = client.post("/v1/members", json={"id": "M10", "union_id": "U2", "certno": certno_for("M10"), "gender": "M"},
                          headers=auth(cast.officer_league))
    assert refused.status_code == 403
    assert client.get("/v1/members/M10", headers=auth(cast.admin)).status_code == 404


def test_the_union_tree_refuses_a_parent_that_cannot_hold_the_union(client, cast) -> None:
    def create(**body):
        return client.post("/v1/unions", json={"name": "x"} | body, headers=auth(cast.admin))

    for body, field in (
        ({"id": "X1", "parent_id": "NOPE"}, "parent_id"),
        ({"id": "X2", "parent_id": "U1", "level": "county"}, "level"),  # a county under a workplace
        ({"id": "X3", "parent_id": "L1", "level": "league"}, "level"),  # a league under a league
        ({"id": "X4", "parent_id": "C2", "level": "region"}, "level"),
    ):
        refused = create(**body)
        assert refused.status_code == 422, refused.text
        assert field in refused.text
        assert client.get(f"/v1/unions/{body['id']}", headers=auth(cast.admin)).status_code == 404
    made = create(id="C1", parent_id="L1", level="county")
    assert made.status_code == 201
    assert made.json()["league_id"] == "L1"
