"""The console's allocations, pools, funds-left and report pages in a real browser (Chromium, real ``claims serve``).

Finance records a relief allocation (first a refused one, the error at its field and
nothing listed; then a good one) and sees the pool of that source change on the
finance home; an officer reads the funds left on the dashboard, opens the federation
report, sees its charts drawn by Chart.js (served by the app), switches to English and
downloads the Excel workbook, which openpyxl opens. No browser console errors;
screenshots under ``test-artifacts/screenshots``. A server of its own (module scope).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from claims.dates import china_today
from tests.console.cast import Seeded, seed
from tests.console.test_console_browser import SERVER_ENV, Watched, shot, sign_in
from tests.databases import fresh_database
from tests.load.live import YEAR, Server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    workdir = tmp_path_factory.mktemp("console-reports")
    with fresh_database("sqlite", workdir) as url:
        seeded = seed(url)
        with Server(url, workdir, workers=1, env=SERVER_ENV) as server:
            yield server.base_url, seeded


@pytest.fixture
def watched(page: Page) -> Iterator[Watched]:
    yield Watched(page)


def test_finance_records_an_allocation_after_a_refused_one_and_sees_the_pool_change(live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "finance")
    expect(page.get_by_role("heading", name="财务首页")).to_be_visible()
    region_pool = page.locator('#pools tr[data-source="region"]')
    expect(region_pool).to_have_count(0)  # no region money this year yet
    shot(page, "finance-home-pools-before")

    page.get_by_role("link", name="资金拨入").click()
    expect(page.get_by_role("heading", name="帮扶资金拨入")).to_be_visible()
    page.get_by_label("资金来源").select_option("league")  # league money names its league: left blank
    page.get_by_label("金额（元）").fill("80000.00")
    page.get_by_label("凭证号").fill("NMG-ZGH-2026-017")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#e-league_id")).to_be_visible()
    expect(page.get_by_label("盟市总工会编号（盟市资金）")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("金额（元）")).to_have_value("80000.00")  # kept, to correct
    expect(page.locator("#allocations")).to_contain_text("没有拨入记录")  # nothing stored
    shot(page, "finance-allocation-refused")

    page.get_by_label("资金来源").select_option("region")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#recorded")).to_contain_text("80000.00")
    expect(page.locator("#allocations")).to_contain_text("NMG-ZGH-2026-017")
    shot(page, "finance-allocation-recorded")
    page.get_by_label("按基金年度筛选").fill(str(YEAR - 3))
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#allocations")).not_to_contain_text("NMG-ZGH-2026-017")

    page.get_by_role("link", name="财务首页").click()
    expect(region_pool.locator("td.allocated")).to_have_text("80000.00")
    expect(region_pool.locator("td.available")).to_have_text("80000.00")
    expect(page.locator('#pools tr[data-source="mutual_aid"]')).to_be_visible()
    shot(page, "finance-home-pools-after")
    watched.assert_no_errors(422)


def test_an_officer_sees_the_funds_left_opens_the_report_sees_its_charts_and_downloads_the_workbook(
        live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "officer")
    funds_left = page.locator("#funds-left")
    for source in ("mutual_aid", "central", "region", "charity"):
        expect(funds_left.locator(f'tr[data-source="{source}"]')).to_be_visible()
    expect(funds_left.locator("form, button")).to_have_count(0)  # read-only
    shot(page, "officer-dashboard-funds-left")

    page.get_by_role("link", name="统计报表").click()
    expect(page.get_by_label("工会编号")).to_have_value("U1")  # the officer's own union
    expect(page.get_by_label("年度")).to_have_value(str(china_today().year))
    page.get_by_label("年度").fill(str(YEAR))
    page.get_by_role("button", name="生成报表").click()
    expect(page.locator("#report-meta")).to_contain_text(f"{YEAR}-01-01 至 {YEAR}-12-31")
    expect(page.get_by_role("heading", name="给付（按保障项目）")).to_be_visible()
    charts = page.locator("canvas[data-chart]")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 3
    drawn = page.evaluate("() => Array.from(document.querySelectorAll('canvas[data-chart]'))"
                          ".map(c => typeof Chart !== 'undefined' && Chart.getChart(c) !== undefined)")
    assert drawn and all(drawn), drawn  # every chart drawn by Chart.js (served by the app)
    benefit_rows = page.locator("#t-payouts_by_benefit tbody tr")
    expect(benefit_rows.first).to_contain_text(re.compile(r"\d+\.\d\d"))
    shot(page, "reports-federation")

    with page.expect_download() as download:
        page.get_by_role("link", name="下载 Excel 工作簿").click()
    path = download.value.path()
    assert download.value.suggested_filename == f"federation-U1-{YEAR}-01-01-{YEAR}-12-31.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))  # the saved download has no .xlsx name
    assert len(book.sheetnames) >= 2
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="下载 CSV").click()
    assert csv_download.value.path().read_bytes().startswith(b"\xef\xbb\xbf")

    page.get_by_role("link", name="English").click()
    page.get_by_label("Year").fill(str(YEAR))
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_role("heading", name="Payouts by benefit")).to_be_visible()
    expect(page.locator("canvas[data-chart]").first).to_be_visible()
    shot(page, "reports-federation-en")
    watched.assert_no_errors()


def test_an_officer_asking_for_another_unions_report_is_told_it_is_unknown(live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "officer_other")  # U2's officer
    page.goto(f"{base}/console/reports?union=U1&year={YEAR}")
    expect(page.locator("#e-union")).to_be_visible()
    expect(page.locator("canvas[data-chart]")).to_have_count(0)
    expect(page.get_by_role("link", name="下载 Excel 工作簿")).to_have_count(0)
    shot(page, "reports-unknown-union")
    watched.assert_no_errors(404)
