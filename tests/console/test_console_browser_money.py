"""The console's desk, money and plan pages in a real browser (Chromium against a real ``claims serve``).

A hospital settles at the desk and cancels; finance builds a payment run, a second
finance officer approves it, downloads the bank file and uploads the bank's return file;
an administrator edits a draft (an error shown at its line, then fixed), simulates it
and publishes it; a member reads their remaining benefits and a remittance advice. No
browser console errors; screenshots under ``test-artifacts/screenshots``. A server of
its own (module scope), so these journeys do not depend on the other browser tests.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.console.cast import Seeded, seed
from tests.console.test_console_browser import SERVER_ENV, Watched, shot, sign_in
from tests.databases import fresh_database
from tests.load.live import YEAR, Server, bill

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    workdir = tmp_path_factory.mktemp("console-money")
    with fresh_database("sqlite", workdir) as url:
        seeded = seed(url)
        with Server(url, workdir, workers=1, env=SERVER_ENV) as server:
            yield server.base_url, seeded


@pytest.fixture
def watched(page: Page) -> Iterator[Watched]:
    yield Watched(page)


def _this_years_stay() -> tuple[str, str]:
    """A short stay ending today (M2 is enrolled this year), never before 1 January."""
    today = dt.date.today()
    return max(dt.date(today.year, 1, 1), today - dt.timedelta(days=5)).isoformat(), today.isoformat()


def test_a_hospital_previews_settles_at_the_desk_cancels_and_reconciles_its_day(live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "hospital")
    page.get_by_role("link", name="出院结算").click()
    expect(page.get_by_role("heading", name="出院结算")).to_be_visible()
    begin, end = _this_years_stay()
    record = bill("S-DESK", "6000.00", patient="M2", begndate=begin, enddate=end)
    page.get_by_label(re.compile("结算记录文件")).set_input_files(
        {"name": "desk.json", "mimeType": "application/json", "buffer": json.dumps(record).encode()})
    page.get_by_role("button", name="预结算").click()  # htmx: the answer under the form, nothing stored
    preview = page.locator("#preview #decision")
    expect(preview.get_by_role("heading", name="预结算结果（未保存）")).to_be_visible()
    expect(preview.locator("#patient-owes")).to_have_text(re.compile(r"^\d+\.\d\d$"))
    shot(page, "hospital-desk-preview")
    page.goto(f"{base}/console/hospital")
    expect(page.get_by_role("cell", name="S-DESK")).to_have_count(0)  # the preview stored nothing

    page.get_by_role("link", name="出院结算").click()
    page.get_by_label(re.compile("结算记录文件")).set_input_files(
        {"name": "desk.json", "mimeType": "application/json", "buffer": json.dumps(record).encode()})
    page.get_by_role("button", name="一站式结算").click()
    expect(page).to_have_url(re.compile(r"/console/hospital/settlements/\d+/decision$"))
    expect(page.get_by_role("heading", name="结算结果 S-DESK")).to_be_visible()
    paid = page.locator("#paid").inner_text()
    owes = page.locator("#patient-owes").inner_text()
    assert paid != "0.00" and _fen(paid) + _fen(owes) == _fen(record["psn_cash_pay"])  # paid + owed = the cash part
    expect(page.locator("table.lines tbody tr").first).to_be_visible()
    shot(page, "hospital-desk-settled")

    page.get_by_label("撤销原因").fill("收费员录入错误，重新结算")
    page.get_by_role("button", name="撤销", exact=True).click()
    expect(page.get_by_text("已撤销：收费员录入错误，重新结算")).to_be_visible()
    expect(page.get_by_role("button", name="撤销", exact=True)).to_have_count(0)
    shot(page, "hospital-desk-cancelled")

    page.get_by_role("link", name="当日对账").click()
    expect(page.locator("#day-totals")).to_contain_text("已撤销")
    shot(page, "hospital-reconciliation")
    page.get_by_label("粘贴本院当日结算清单（CSV）").fill(
        f"setl_id,medfee_sumamt,psn_cash_pay,union_paid,cancelled\nS-DESK,{record['medfee_sumamt']},,,0\n"
        "S-THEIRS-ONLY,100.00,,,0\n")
    page.get_by_role("button", name="核对").click()
    result = page.locator("#reconciliation-result")
    expect(result.locator("tr.difference", has_text="S-DESK")).to_contain_text("仅本系统已撤销")
    expect(result.locator("tr.difference", has_text="S-THEIRS-ONLY")).to_contain_text("本系统无此结算单")
    shot(page, "hospital-reconciliation-differences")
    page.get_by_label("粘贴本院当日结算清单（CSV）").fill("setl_id,medfee_sumamt\nS-X,not-money\n")
    page.get_by_role("button", name="核对").click()
    expect(page.get_by_text(re.compile(r"row 2 · medfee_sumamt"))).to_be_visible()  # the error at its row
    watched.assert_no_errors(422)


def _fen(yuan: str) -> int:
    whole, _, part = yuan.partition(".")
    return int(whole) * 100 + int((part + "00")[:2])


def test_finance_builds_a_run_another_officer_approves_it_downloads_the_bank_file_and_uploads_the_return(
        live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "finance")
    page.get_by_role("link", name="支付批次").click()
    page.get_by_label("工会编号").fill("R")
    page.get_by_label("核定日期自").fill("2000-01-01")
    page.get_by_label("核定日期至").fill("1999-01-01")  # ends before it starts
    page.get_by_role("button", name="生成").click()
    expect(page.locator("#e-decided_to")).to_be_visible()
    shot(page, "finance-run-refused")
    page.get_by_label("核定日期至").fill("")
    page.get_by_role("button", name="生成").click()
    expect(page.get_by_role("heading", name=re.compile(r"^支付批次 \d+$"))).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("待复核")
    expect(page.locator("#items")).to_contain_text("****")  # account numbers masked
    expect(page.locator("#items")).not_to_contain_text("6222020000000011234")
    expect(page.get_by_role("button", name="复核通过")).to_have_count(0)  # the maker cannot approve
    shot(page, "finance-run-draft")
    run_id = page.get_by_role("heading", name=re.compile(r"^支付批次 \d+$")).inner_text().split()[-1]
    page.get_by_role("button", name="退出登录").click()

    sign_in(page, base, "finance_checker")
    page.goto(f"{base}/console/finance")
    page.locator(f'#runs a[href="/console/finance/runs/{run_id}"]').click()
    page.get_by_role("button", name="复核通过").click()
    expect(page.locator("#run-status")).to_have_text("已复核")
    shot(page, "finance-run-approved")
    page.get_by_label("文件编码").select_option("utf-8")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载银行代发文件").click()
    body = download.value.path().read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows and all(re.fullmatch(r"\d{10,30}", r["account_no"]) for r in rows)  # whole only in the bank file
    page.goto(f"{base}/console/finance/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("已送银行")
    with page.expect_download() as again:
        page.get_by_label("文件编码").select_option("gb18030")
        page.get_by_role("button", name="下载银行代发文件").click()
    assert again.value.path().read_bytes().decode("gb18030").splitlines()[1:] == body.decode("utf-8-sig").splitlines()[1:]

    page.goto(f"{base}/console/finance/runs/{run_id}")
    day = dt.date.today().isoformat()
    bad = "reference,status,reason,bank_ref,date\n" + "".join(
        f"{r['reference']},{'maybe' if i == 0 else 'paid'},,B{r['reference']},{day}\n" for i, r in enumerate(rows))
    page.get_by_label("回盘文件（CSV）").set_input_files({"name": "return.csv", "mimeType": "text/csv",
                                                      "buffer": bad.encode()})
    page.get_by_role("button", name="导入回盘").click()
    expect(page.get_by_role("heading", name="回盘文件有错误，未导入任何记录")).to_be_visible()
    expect(page.locator("tr#return-row-2.invalid")).to_be_visible()
    expect(page.locator("tr#return-row-2 + tr.row-error")).to_contain_text("status")
    expect(page.locator("#run-status")).to_have_text("已送银行")  # nothing was imported
    shot(page, "finance-return-row-errors")
    good = bad.replace(",maybe,", ",paid,")
    page.get_by_label("或粘贴回盘内容").fill(good)
    page.get_by_role("button", name="导入回盘").click()
    expect(page.locator("#returns-result")).to_contain_text(f"支付成功 {len(rows)} 笔")
    expect(page.locator("#run-status")).to_have_text("已完成")
    shot(page, "finance-run-closed")
    page.get_by_role("link", name="基金报表").first.click()
    page.get_by_label("基金年度").fill(str(YEAR))
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#statements")).to_contain_text("互助保障金")
    shot(page, "finance-statements")
    watched.assert_no_errors(403, 409, 422)


def test_an_administrator_edits_a_draft_sees_the_error_at_its_line_simulates_and_publishes(
        live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "admin")
    page.get_by_role("button", name="以生效版本新建草稿").click()
    expect(page.get_by_role("heading", name=re.compile(r"^方案版本 \d+"))).to_be_visible()
    editor = page.get_by_label("规则文档（YAML 或 JSON）")
    text = editor.input_value()
    assert "rate: '0.40'" in text
    editor.fill(text.replace("rate: '0.40'", "rate: 'abc'", 1))
    page.get_by_role("button", name="保存并校验").click()
    expect(page.locator("#plan-errors")).to_contain_text("benefits[0].amount.bands[0].rate")
    bad_line = page.locator("#document-lines tr.invalid")
    expect(bad_line).to_have_count(1)
    expect(bad_line).to_contain_text("rate: 'abc'")  # the error beside the line it names
    expect(page.locator("#document-lines tr.invalid + tr.row-error")).to_contain_text("bands[0].rate")
    shot(page, "admin-draft-error")
    editor = page.get_by_label("规则文档（YAML 或 JSON）")
    editor.fill(editor.input_value().replace("rate: 'abc'", "rate: '0.45'", 1))
    page.get_by_role("button", name="保存并校验").click()
    expect(page.get_by_text("草稿已保存，校验通过。")).to_be_visible()
    shot(page, "admin-draft-saved")
    plan_url = page.url.replace("/document", "")
    page.get_by_role("link", name="与生效版本对比").click()
    expect(page.locator("#changes")).to_contain_text("benefits[0].amount.bands[0].rate")
    expect(page.locator("#changes")).to_contain_text("0.45")
    shot(page, "admin-draft-diff")
    page.goto(plan_url)
    page.get_by_role("button", name="开始模拟").click()
    expect(page).to_have_url(re.compile(r"/console/admin/jobs/\d+$"))
    expect(page.locator("#job-progress")).to_be_visible()
    expect(page.locator("#job-status")).to_have_text("已完成", timeout=120_000)  # htmx polls until it is done
    for kind in ("benefit", "category", "grade", "month"):
        expect(page.locator(f"#chart-{kind}")).to_be_visible()
    expect(page.locator('#chart-benefit svg rect.draft:not([width="0"])').first).to_be_visible()
    shot(page, "admin-simulation")
    page.goto(plan_url)
    page.get_by_label("生效日期").fill(f"{YEAR + 2}-01-01")
    page.get_by_role("button", name="发布", exact=True).click()
    expect(page).to_have_url(f"{base}/console/admin")
    expect(page.locator("#plan-versions")).to_contain_text(f"{YEAR + 2}-01-01")
    shot(page, "admin-published")
    watched.assert_no_errors(422)


def _paid_item_of_m1(base: str, page: Page) -> None:
    """M1 paid through a run (by the browser when the finance journey ran first; else here, as it would)."""
    page.goto(f"{base}/console/member/payments")
    if page.locator("#payments a").count():
        return
    page.get_by_role("button", name="退出登录").click()
    sign_in(page, base, "finance")
    page.goto(f"{base}/console/finance/runs")
    page.get_by_label("工会编号").fill("U1")
    page.get_by_role("button", name="生成").click()
    run_id = page.get_by_role("heading", name=re.compile(r"^支付批次 \d+$")).inner_text().split()[-1]
    page.get_by_role("button", name="退出登录").click()
    sign_in(page, base, "finance_checker")
    page.goto(f"{base}/console/finance/runs/{run_id}")
    page.get_by_role("button", name="复核通过").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="下载银行代发文件").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_bytes().decode("utf-8-sig"))))
    page.goto(f"{base}/console/finance/runs/{run_id}")
    page.get_by_label("或粘贴回盘内容").fill("reference,status,reason,bank_ref,date\n" + "".join(
        f"{r['reference']},paid,,B1,{dt.date.today().isoformat()}\n" for r in rows))
    page.get_by_role("button", name="导入回盘").click()
    expect(page.locator("#run-status")).to_have_text("已完成")
    page.get_by_role("button", name="退出登录").click()
    sign_in(page, base, "member")


def test_a_member_reads_remaining_benefits_and_a_remittance_advice(live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "member")
    page.get_by_role("link", name="剩余待遇").click()
    page.get_by_label("查询日期").fill(f"{YEAR}-12-31")
    page.get_by_role("button", name="查看").click()
    row = page.locator("table.benefits tr", has_text="MA_IP")
    expect(row).to_be_visible()
    expect(row.locator("td.left")).to_have_text(re.compile(r"^\d+\.\d\d$"))
    shot(page, "member-benefits")
    _paid_item_of_m1(base, page)
    page.get_by_role("link", name="支付通知").click()
    shot(page, "member-payments")
    page.locator("#payments a").first.click()
    expect(page.get_by_role("heading", name=re.compile(r"^支付通知 \d+$"))).to_be_visible()
    expect(page.locator("#advice-amount")).to_have_text(re.compile(r"^\d+\.\d\d$"))
    expect(page.locator("table.lines").first).to_contain_text(re.compile("[\u4e00-\u9fff]"))
    shot(page, "member-advice")
    with page.context.expect_page() as printable:
        page.get_by_role("link", name="打印版").click()
    printed = printable.value
    printed.wait_for_load_state()
    expect(printed.locator("h1")).to_contain_text("Remittance advice")
    shot(printed, "member-advice-print")
    watched.assert_no_errors()
