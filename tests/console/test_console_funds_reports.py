"""The console's allocations, pools, funds-left and report pages without a browser: refusals, scope, twice.

A refused allocation is checked at the field it names AND for what it did not store
(no allocation, no pool money, no ledger entry). The browser journeys
(test_console_browser_reports.py) walk the same pages as people do.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from claims.dates import china_today
from store import models
from store.db import make_engine, session_factory
from tests.console.conftest import csrf_of
from tests.load.live import YEAR


def _post(client, url: str, data: dict | None = None):
    token = csrf_of(client.get("/console", follow_redirects=True).text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def _stored(seeded_db) -> tuple[int, int, int]:
    """(allocations, fen allocated to every pool, ledger entries): what a refusal must leave as it was."""
    engine = make_engine(seeded_db[0])
    try:
        with session_factory(engine)() as s:
            return (s.scalar(select(func.count()).select_from(models.ReliefAllocation)),
                    s.scalar(select(func.coalesce(func.sum(models.FundPool.allocated), 0))),
                    s.scalar(select(func.count()).select_from(models.JournalEntry)))
    finally:
        engine.dispose()


def _good(**change: str) -> dict[str, str]:
    return {"source": "region", "year": str(YEAR), "league_id": "", "amount": "50000.00",
            "reference": "ZGH-2026-001", "received_on": f"{YEAR}-01-15", **change}


# A future day that stays in the future for the whole run: taken when the tests are
# collected, "tomorrow" became today for a run that crossed China's midnight (00:00 at
# 16:00 UTC): the allocation was recorded, and the next test found its money in the pool.
AFTER_TOMORROW = (china_today() + dt.timedelta(days=2)).isoformat()


@pytest.mark.parametrize("change, field, status", [
    ({"amount": "abc"}, "amount", 422),
    ({"amount": "0"}, "amount", 422),
    ({"amount": "-5.00"}, "amount", 422),
    ({"amount": "1.001"}, "amount", 422),
    ({"source": "league"}, "league_id", 422),  # league money names its league
    ({"league_id": "U1"}, "league_id", 422),  # region money takes none
    ({"source": "league", "league_id": "U1"}, "league_id", 422),  # a grassroots union is no league
    ({"source": "league", "league_id": "NOWHERE"}, "league_id", 404),
    ({"source": "lottery"}, "source", 422),
    ({"year": ""}, "year", 422),
    ({"year": "1999"}, "year", 422),
    ({"reference": ""}, "reference", 422),
    ({"reference": "   "}, "reference", 422),
    ({"received_on": "15/01/2026"}, "received_on", 422),
    ({"received_on": AFTER_TOMORROW}, "received_on", 422),
], ids=lambda v: str(v))
def test_a_refused_allocation_shows_the_error_at_its_field_and_stores_nothing(
        change, field, status, signed_in, seeded_db) -> None:
    before = _stored(seeded_db)
    answer = _post(signed_in("finance"), "/console/finance/allocations", _good(**change))
    assert answer.status_code == status, answer.text[:500]
    assert f'id="e-{field}"' in answer.text and f'aria-describedby="e-{field}"' in answer.text
    sent = change.get(field, "").strip()
    if sent and field != "source":  # a select offers the sources only
        assert f'value="{sent}"' in answer.text  # what was typed is kept, to correct
    assert _stored(seeded_db) == before


def test_an_allocation_is_recorded_once_listed_by_year_and_shown_in_the_pools(signed_in, seeded_db) -> None:
    finance = signed_in("finance")
    before = _stored(seeded_db)
    made = _post(finance, "/console/finance/allocations", _good(reference="ZGH-ONCE", amount="12345.67"))
    assert made.status_code == 201 and 'id="recorded"' in made.text and "12345.67" in made.text
    after = _stored(seeded_db)
    assert after[0] == before[0] + 1 and after[1] == before[1] + 1_234_567 and after[2] == before[2] + 1
    again = _post(finance, "/console/finance/allocations", _good(reference="ZGH-ONCE", amount="12345.67"))
    assert again.status_code == 409 and 'id="e-reference"' in again.text  # one bank transfer, one allocation
    assert _stored(seeded_db) == after
    listed = finance.get("/console/finance/allocations", params={"year": YEAR}).text
    assert "ZGH-ONCE" in listed
    assert "ZGH-ONCE" not in finance.get("/console/finance/allocations", params={"year": 2001}).text
    home = finance.get("/console/finance", params={"year": YEAR}).text
    region = re.search(r'<tr data-source="region">(.*?)</tr>', home, re.S)
    assert region and "12345.67" in region.group(1)
    assert 'data-source="mutual_aid"' in home  # the mutual-aid pool beside the relief pools
    assert 'data-source="region"' not in finance.get("/console/finance", params={"year": 2001}).text


def test_an_officers_dashboard_shows_the_funds_left_this_year_read_only(signed_in) -> None:
    page = signed_in("officer").get("/console/officer").text
    table = page[page.index('id="funds-left"'):]
    table = table[:table.index("</table>")]
    for source in ("central", "region", "charity", "mutual_aid"):  # each relief source, even before money came
        assert f'data-source="{source}"' in table, source
    assert "<form" not in table and "<button" not in table


def test_an_officer_reads_the_report_of_their_union_with_charts_and_english_labels(signed_in) -> None:
    officer = signed_in("officer", fresh=True)
    page = officer.get("/console/reports", params={"union": "U1", "year": YEAR})
    assert page.status_code == 200
    assert "给付（按保障项目）" in page.text and 'canvas data-chart="payouts_by_benefit"' in page.text
    assert 'id="report-data"' in page.text and "/v1/reports/assets/chart.umd.js" in page.text
    assert "https://" not in page.text  # no CDN
    assert f"/console/reports/export?union=U1&amp;year={YEAR}&amp;format=xlsx" in page.text
    officer.get("/console/lang", params={"to": "en", "next": "/console/reports"})
    english = officer.get("/console/reports", params={"union": "U1", "year": YEAR}).text
    assert "Payouts by benefit" in english and "给付（按保障项目）" not in english


def test_the_excel_workbook_and_the_csv_download(signed_in) -> None:
    officer = signed_in("officer")
    xlsx = officer.get("/console/reports/export", params={"union": "U1", "year": YEAR, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.headers["content-disposition"].startswith("attachment")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert len(book.sheetnames) >= 2
    csv = officer.get("/console/reports/export", params={"union": "U1", "year": YEAR, "format": "csv"})
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    assert officer.get("/console/reports/export", params={"union": "U1", "year": YEAR, "format": "pdf"}).status_code == 422


@pytest.mark.parametrize("url", ["/console/reports", "/console/reports/export"])
def test_another_unions_report_is_answered_as_one_that_does_not_exist(url, signed_in) -> None:
    other = signed_in("officer_other")  # U2's officer
    theirs = other.get(url, params={"union": "U1", "year": YEAR})
    unknown = other.get(url, params={"union": "NOWHERE", "year": YEAR})
    assert theirs.status_code == unknown.status_code == 404
    assert "U1 总工会" not in theirs.text and "统计期间" not in theirs.text
    if url == "/console/reports":
        assert 'id="e-union"' in theirs.text


@pytest.mark.parametrize("params, field", [
    ({"year": "abc"}, "year"),
    # digits str.isdigit() takes and int() refuses or reads as another spelling of a year
    ({"year": "²"}, "year"),
    ({"year": "２０２５"}, "year"),
    ({"year": "2025", "from": "2025-01-01", "to": "2025-02-01"}, "year"),
    ({"from": "2025-03-01", "to": "2025-02-01"}, "from"),
    ({"from": "2025-03-01"}, "to"),
    ({"from": "2015-01-01", "to": "2025-02-01"}, "to"),
    ({"from": "not-a-day", "to": "2025-02-01"}, "from"),
    # date.fromisoformat reads these too (2025-W01-1 is 2024-12-30): one day, one spelling
    ({"from": "2025-W01-1", "to": "2025-02-01"}, "from"),
    ({"from": "2025-01-01", "to": "20250201"}, "to"),
])
def test_a_bad_period_is_shown_at_its_field(params, field, signed_in) -> None:
    answer = signed_in("finance").get("/console/reports", params={"union": "R", **params})
    assert answer.status_code == 422 and f'id="e-{field}"' in answer.text
    assert 'id="report-data"' not in answer.text
    # The download refuses it too, with no file (an HTML page, as every refusal in the console).
    export = signed_in("finance").get("/console/reports/export", params={"union": "R", "format": "csv", **params})
    assert export.status_code == 422 and "attachment" not in export.headers.get("content-disposition", "")
    assert export.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("url", ["/console/reports", "/console/reports/export"])
def test_a_year_longer_than_any_is_refused_as_a_page_naming_it(url, signed_in) -> None:
    """Refused by the query's length before any code reads it: still a console page, not the API's JSON."""
    answer = signed_in("finance").get(url, params={"union": "R", "year": "1" * 4301, "format": "csv"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "year: String should have at most 6 characters" in answer.text



@pytest.mark.parametrize("user, url", [
    ("finance", "/console/finance/allocations?year="),
    ("finance", "/console/finance?year=+"),
    ("finance", "/console/finance/statements?year=&from=&to="),
    ("officer", "/console/officer/members/M1?on="),
    ("officer", "/console/reports?union=U1&year=&from=&to="),
])
def test_a_filter_form_sent_with_its_boxes_empty_shows_the_page_with_its_defaults(signed_in, user, url) -> None:
    """The pages' own forms send empty boxes: an empty box is a value not given, not one to refuse."""
    answer = signed_in(user).get(url)
    assert answer.status_code == 200, answer.text[:300]
    assert 'class="error"' not in answer.text
