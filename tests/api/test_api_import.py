"""The enrollment file as offices have it: saved by Excel, or uploaded from a browser.

Excel writes "CSV UTF-8" with a byte-order mark and plain "CSV" in the Windows code
page (GBK in a Chinese locale), both with CRLF line ends, and in a Chinese locale it
writes dates as 2026/1/1. The bytes below are what it saves, built by encoding the text
exactly so. Every refused file stores nothing: members, enrollments and audit entries
are counted before and after.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import models
from tests.api.builders import YEAR, auth
from tests.builders import certno_for

CSV = {"content-type": "text/csv"}
HEADER = ["member_id", "certno", "name", "gender", "birth_date", "period_start", "period_end", "enrolled_on"]
BOM = b"\xef\xbb\xbf"
# Names with characters of GBK beyond GB2312 (堃, 犇), as Inner Mongolian and Han names have them.
NAMES = {"M70": "乌云其其格", "M71": "包堃", "M72": "敖犇"}


def excel_csv(rows: list[list[str]], encoding: str) -> bytes:
    """The bytes Excel saves: CRLF after every line, the text encoded in ``encoding``
    ("utf-8-sig" writes the BOM of "CSV UTF-8", "gbk" is plain "CSV" in a Chinese locale)."""
    return "".join(",".join(r) + "\r\n" for r in [HEADER, *rows]).encode(encoding)


def new_member(member_id: str, period: str = f"{YEAR}/1/1,{YEAR}/12/31,{YEAR - 1}/12/1") -> list[str]:
    return [member_id, certno_for(member_id), NAMES.get(member_id, "新会员"), "F", "1985/7/1", *period.split(",")]


def stored(session: Session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(m))  # type: ignore[return-value]
                 for m in (models.Member, models.Enrollment, models.AuditEntry))


def member(client, cast, member_id: str) -> dict:
    answer = client.get(f"/v1/members/{member_id}", headers=auth(cast.officer))
    assert answer.status_code == 200, answer.text
    return answer.json()


def refused_at(answer, *fields: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert sorted(e["field"] for e in answer.json()["errors"]) == sorted(fields)


def test_a_utf8_file_with_the_bom_excel_writes_is_imported(client, cast, session) -> None:
    content = excel_csv([new_member("M70"), new_member("M71")], "utf-8-sig")
    assert content.startswith(BOM) and b"\r\n" in content

    answer = client.post("/v1/enrollments/import", content=content, headers={**auth(cast.officer), **CSV})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"members_created": 2, "enrollments_created": 2, "enrollments_unchanged": 0}
    assert member(client, cast, "M70")["name"] == "乌云其其格"  # no BOM left in front of anything
    imported = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "enrollments.imported")).one()
    assert (imported.entity, imported.entity_id, imported.details) == (
        "union", "U1", {"members_created": 2, "enrollments_created": 2, "enrollments_unchanged": 0})


def test_a_gbk_file_is_imported_with_its_chinese_names_stored_correctly(client, cast) -> None:
    content = excel_csv([new_member(m) for m in NAMES], "gbk")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")  # so it is the GB18030 reading that is tested

    answer = client.post("/v1/enrollments/import", content=content, headers={**auth(cast.officer), **CSV})

    assert answer.status_code == 200, answer.text
    assert answer.json()["members_created"] == 3
    assert {m: member(client, cast, m)["name"] for m in NAMES} == NAMES


def test_a_file_uploaded_as_a_browser_form_is_imported(client, cast, session) -> None:
    content = excel_csv([new_member("M70"), new_member("M71")], "gbk")

    answer = client.post("/v1/enrollments/import", headers=auth(cast.officer),
                         files={"file": ("职工名单.csv", content, "text/csv")})

    assert answer.status_code == 200, answer.text
    assert answer.json()["enrollments_created"] == 2
    assert member(client, cast, "M71")["name"] == "包堃"


def test_a_form_without_the_file_field_is_refused_naming_it(client, cast, session) -> None:
    before = stored(session)
    answer = client.post("/v1/enrollments/import", headers=auth(cast.officer),
                         files={"upload": ("职工名单.csv", excel_csv([new_member("M70")], "gbk"), "text/csv")})
    refused_at(answer, "file")
    assert stored(session) == before


def test_dates_as_excel_writes_them_in_a_chinese_locale_are_read(client, cast) -> None:
    rows = [
        new_member("M70", f"{YEAR}/1/1,{YEAR}/12/31,{YEAR - 1}/12/1"),
        new_member("M71", f"{YEAR}/01/01,{YEAR}/12/31,{YEAR - 1}/12/01"),
        new_member("M72", f"{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01"),
    ]
    answer = client.post("/v1/enrollments/import", content=excel_csv(rows, "utf-8-sig"),
                         headers={**auth(cast.officer), **CSV})

    assert answer.status_code == 200, answer.text
    for member_id in NAMES:
        detail = member(client, cast, member_id)
        assert detail["birth_date"] == "1985-07-01"
        assert [(e["period_start"], e["period_end"], e["enrolled_on"]) for e in detail["enrollments"]] == [
            (f"{YEAR}-01-01", f"{YEAR}-12-31", f"{YEAR - 1}-12-01")]


def test_a_gbk_file_with_bad_rows_stores_nothing_and_names_each_row_and_column(client, cast, session) -> None:
    before = stored(session)
    rows = [
        new_member("M70"),  # row 2: fine
        [*new_member("M71")[:3], "男", *new_member("M71")[4:]],  # row 3: gender is F or M
        new_member("M72", f"{YEAR}年1月1日,{YEAR}/12/31,{YEAR - 1}/12/1"),  # row 4
        new_member("M73", f"{YEAR}/2/30,{YEAR}/12/31,{YEAR - 1}/12/1"),  # row 5: no such day
        [*new_member("M74")[:4], "1985/7/32", *new_member("M74")[5:]],  # row 6
        new_member("M75", f"{YEAR}/1/1,{YEAR}/12/31,{YEAR - 1}.12.1"),  # row 7
    ]
    answer = client.post("/v1/enrollments/import", content=excel_csv(rows, "gbk"), headers={**auth(cast.officer), **CSV})

    refused_at(answer, "row 3.gender", "row 4.period_start", "row 5.period_start", "row 6.birth_date",
               "row 7.enrolled_on")
    assert "年" in next(e["message"] for e in answer.json()["errors"] if e["field"] == "row 4.period_start")
    assert stored(session) == before
    assert client.get("/v1/members/M70", headers=auth(cast.officer)).status_code == 404


@pytest.mark.parametrize("content", [
    b"\xff\xfe" + "member_id".encode("utf-16-le"),  # neither UTF-8 nor GB18030
    excel_csv([new_member("M70")], "utf-8-sig")[:-6] + b"\x80\r\n",  # one stray byte at the end
    excel_csv([new_member("M70")], "utf-8-sig").replace(b"M70", b"M7\x000"),  # a NUL character
], ids=["utf-16", "stray byte", "NUL"])
def test_a_body_that_is_not_csv_text_is_refused_naming_the_body(client, cast, session, content) -> None:
    before = stored(session)
    answer = client.post("/v1/enrollments/import", content=content, headers={**auth(cast.officer), **CSV})
    refused_at(answer, "body")
    assert stored(session) == before
