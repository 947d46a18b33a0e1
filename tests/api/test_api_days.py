"""Days in requests: written YYYY-MM-DD only, and a day the service records lies in 2000..2100.

Year 1 or 9999 stored as an enrollment's start or end made every later claim and
benefits answer of that member a 500 (the day before or after overflows), a key expiring
late on 9999-12-31 west of UTC a 500 when it was made; a Unix time or ``20260101`` named
a day too. Each refusal names the field, and nothing is stored (both databases).
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.api.builders import YEAR, auth
from tests.api.test_api_desk import counts
from tests.builders import certno_for

CSV = {"content-type": "text/csv"}
HEADER = "member_id,certno,name,gender,birth_date,period_start,period_end,enrolled_on\n"

# Not YYYY-MM-DD: each would be read as a day by pydantic's lax dates or date.fromisoformat.
OTHER_SPELLINGS = [1767225600, "1767225600", "0", f"{YEAR}0101", f"{YEAR}-W01-1", f"{YEAR}-01-01T00:00:00-23:59",
                   f"{YEAR}-01-01T00:00:00", f"{YEAR}-1-1", f" {YEAR}-01-01", f"{YEAR}-01-01\n", "２０２６-01-01"]
OUTSIDE = ["0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"]


def _fields(answer) -> list[str]:
    return [e["field"] for e in answer.json()["errors"]]


def _enrollment(**days) -> dict:
    return {"period_start": f"{YEAR + 1}-01-01", "period_end": f"{YEAR + 1}-12-31", "enrolled_on": f"{YEAR}-12-01",
            **days}


@pytest.mark.parametrize("day", [*OTHER_SPELLINGS, *OUTSIDE])
@pytest.mark.parametrize("field", ["period_start", "period_end", "enrolled_on"])
def test_an_enrollment_day_written_otherwise_or_outside_the_service_s_days_is_refused(client, cast, session: Session,
                                                                                      field, day) -> None:
    before = counts(session)
    answer = client.post("/v1/members/M1/enrollments", json=_enrollment(**{field: day}), headers=auth(cast.officer))
    assert answer.status_code == 422, answer.text
    assert field in _fields(answer), answer.text
    assert counts(session) == before
    # The member's claims and benefits are answered as before.
    assert client.get("/v1/members/M1/benefits", headers=auth(cast.officer)).status_code == 200


def test_the_widest_enrollment_the_service_takes_is_stored_and_the_member_s_benefits_still_answer(
        client, cast) -> None:
    made = client.post("/v1/members/M1/enrollments", headers=auth(cast.officer),
                       json=_enrollment(period_start=f"{YEAR + 1}-01-01", period_end="2100-12-31"))
    assert made.status_code == 201, made.text
    for on in (f"{YEAR + 1}-06-01", "2100-12-31"):
        answer = client.get("/v1/members/M1/benefits", params={"on": on}, headers=auth(cast.officer))
        assert answer.status_code in (200, 409), answer.text  # 409: no plan in force that far on
        assert answer.headers["content-type"].startswith("application/")


@pytest.mark.parametrize("day", ["9999-12-31", "2101-01-01", 1767225600])
def test_an_enrollment_s_end_is_not_corrected_to_a_day_outside_and_stays(client, cast, session: Session, day) -> None:
    member = client.get("/v1/members/M2", headers=auth(cast.officer)).json()
    enrollment = member["enrollments"][0]
    before = counts(session)
    answer = client.patch(f"/v1/enrollments/{enrollment['id']}", json={"period_end": day}, headers=auth(cast.officer))
    assert answer.status_code == 422 and _fields(answer) == ["period_end"], answer.text
    assert counts(session) == before
    again = client.get("/v1/members/M2", headers=auth(cast.officer)).json()["enrollments"][0]
    assert again["period_end"] == enrollment["period_end"]


@pytest.mark.parametrize("row_days, column", [
    (("0001/1/1", f"{YEAR}/12/31", f"{YEAR - 1}/12/1"), "period_start"),
    ((f"{YEAR}-01-01", "9999-12-31", f"{YEAR - 1}-12-01"), "period_end"),
    ((f"{YEAR}-01-01", f"{YEAR}-12-31", "1999-12-31"), "enrolled_on"),
])
def test_an_import_row_with_a_day_outside_imports_nothing_and_names_it(client, cast, session: Session, row_days,
                                                                       column) -> None:
    before = counts(session)
    good = f"M50,{certno_for('M50')},好的,F,1990-01-01,{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"
    bad = f"M51,{certno_for('M51')},坏的,F,1990-01-01,{','.join(row_days)}\n"
    answer = client.post("/v1/enrollments/import", content=(HEADER + good + bad).encode(),
                         headers={**auth(cast.officer), **CSV})
    assert answer.status_code == 422, answer.text
    assert _fields(answer) == [f"row 3.{column}"], answer.text
    assert counts(session) == before


@pytest.mark.parametrize("birth", ["9999-12-31", "1899-12-31", f"{YEAR + 5}-01-01"])
def test_a_birth_day_in_the_future_or_before_1900_is_refused_by_the_api_and_the_import(client, cast, session: Session,
                                                                                       birth) -> None:
    before = counts(session)
    answer = client.post("/v1/members", json={"id": "M60", "certno": certno_for("M60"), "birth_date": birth},
                         headers=auth(cast.officer))
    assert answer.status_code == 422 and _fields(answer) == ["birth_date"], answer.text
    row = f"M61,{certno_for('M61')},某,F,{birth},{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01\n"
    imported = client.post("/v1/enrollments/import", content=(HEADER + row).encode(),
                           headers={**auth(cast.officer), **CSV})
    assert imported.status_code == 422 and _fields(imported) == ["row 2.birth_date"], imported.text
    assert counts(session) == before


@pytest.mark.parametrize("path, body, field", [
    ("/v1/members/M1/hardship", {"category": "dibao", "registered_on": "9999-12-31"}, "registered_on"),
    ("/v1/members/M1/hardship", {"category": "dibao", "registered_on": 1767225600}, "registered_on"),
    ("/v1/members/M1/hardship", {"category": "dibao", "registered_on": f"{YEAR}-01-01", "verified": True,
                                 "verified_on": "0001-01-01"}, "verified_on"),
    ("/v1/claims", {"member_id": "M1", "fixmedins_code": "H1", "setl_id": "S-NONE", "submitted_on": f"{YEAR}0301",
                    "note": "纸质申请"}, "submitted_on"),
])
def test_other_recorded_days_are_refused_written_otherwise_or_outside(client, cast, session: Session, path, body,
                                                                      field) -> None:
    before = counts(session)
    answer = client.post(path, json=body, headers=auth(cast.officer))
    assert answer.status_code == 422 and field in _fields(answer), answer.text
    assert counts(session) == before


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:59:59-12:00", "2100-12-31T00:00:01+08:00"])
def test_a_key_expiring_past_the_service_s_days_is_refused_and_no_key_is_made(client, cast, session: Session,
                                                                              expires_at) -> None:
    before = counts(session)
    answer = client.post("/v1/keys", json={"role": "member", "member_id": "M1", "expires_at": expires_at},
                         headers=auth(cast.admin))
    assert answer.status_code == 422 and _fields(answer) == ["expires_at"], answer.text
    assert counts(session) == before


def test_a_plan_is_not_published_from_a_day_outside(client, cast, session: Session) -> None:
    [plan] = [p for p in client.get("/v1/plans", headers=auth(cast.admin)).json()["items"] if p["status"] == "published"][:1]
    before = counts(session)
    for day in ("0001-01-01", "9999-12-31", f"{YEAR}0101"):
        answer = client.post(f"/v1/plans/{plan['id']}/publish", json={"effective_from": day}, headers=auth(cast.admin))
        assert answer.status_code == 422 and _fields(answer) == ["effective_from"], answer.text
    assert counts(session) == before


@pytest.mark.parametrize("path, param", [("/v1/members/M1/benefits", "on"), ("/v1/hardship", "active_on"),
                                         ("/v1/claims", "submitted_from"), ("/v1/reconciliation", "date"),
                                         ("/v1/reports/federation", "from")])
@pytest.mark.parametrize("day", [1767225600, "0", f"{YEAR}0101"])
def test_a_day_in_a_query_is_read_only_when_written_yyyy_mm_dd(client, cast, path, param, day) -> None:
    union = {"union": "U1"} if "reports" in path else {}
    answer = client.get(path, params={param: day, **union}, headers=auth(cast.admin))
    assert answer.status_code == 422 and _fields(answer) == [param], answer.text


@pytest.mark.parametrize("path", ["/v1/reports/federation", "/v1/funds/statements"])
@pytest.mark.parametrize("year", [f"+{YEAR}", f" {YEAR}", f"{YEAR}.0", f"0{YEAR}"])
def test_a_year_in_a_query_is_read_only_when_written_in_digits(client, cast, path, year) -> None:
    answer = client.get(path, params={"year": year, "union": "U1"}, headers=auth(cast.admin))
    assert answer.status_code == 422 and _fields(answer) == ["year"], answer.text
    assert client.get(path, params={"year": str(YEAR), "union": "U1"}, headers=auth(cast.admin)).status_code == 200


def test_a_key_may_expire_at_the_start_of_the_service_s_last_day(client, cast) -> None:
    answer = client.post("/v1/keys", json={"role": "member", "member_id": "M1",
                                           "expires_at": "2100-12-31T00:00:00+08:00"}, headers=auth(cast.admin))
    assert answer.status_code == 201, answer.text


def test_a_simulation_over_days_outside_is_refused_and_no_job_is_made(client, cast, session: Session) -> None:
    [plan] = [p for p in client.get("/v1/plans", headers=auth(cast.admin)).json()["items"] if p["status"] == "published"][:1]
    before = counts(session)
    answer = client.post(f"/v1/plans/{plan['id']}/simulate", json={"submitted_from": "1999-12-31"},
                         headers=auth(cast.admin))
    assert answer.status_code == 422 and _fields(answer) == ["submitted_from"], answer.text
    assert counts(session) == before


def test_an_enrollment_stored_before_the_range_was_checked_is_still_answered(client, cast, session: Session) -> None:
    """Day's bounds are for what comes in: a stored row outside them is read, not a 500."""
    import datetime as dt

    from store import models

    session.add(models.Enrollment(member_id="M1", period_start=dt.date(1990, 1, 1), period_end=dt.date(1990, 12, 31),
                                  enrolled_on=dt.date(1989, 12, 1)))
    session.commit()
    answer = client.get("/v1/members/M1", headers=auth(cast.officer))
    assert answer.status_code == 200, answer.text
    assert "1990-01-01" in [e["period_start"] for e in answer.json()["enrollments"]]
