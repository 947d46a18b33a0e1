"""The console in a real browser: Chromium (Playwright) against a real ``claims serve``.

Each role's journey runs end to end through the pages as a person would use them
(labels, buttons, links; htmx swaps), with no error in the browser's console; sign-in
and sign-out, an idle session's end, a forged form, the lockout and the role
boundaries are tried too. One journey runs on PostgreSQL. Screenshots of each page go
to ``test-artifacts/screenshots`` (SCREENSHOTS).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.console.cast import PASSWORD, Seeded, seed
from tests.databases import PostgresUnreachable, fresh_database
from tests.load.live import ROOT, Server

pytestmark = pytest.mark.browser
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# The lockout of the server the tests share: a username is locked after 3 failures.
SERVER_ENV = {"CLAIMS_CONSOLE_LOCKOUT_USER": "3/15 minutes", "CLAIMS_CONSOLE_LOCKOUT_ADDRESS": "1000/minute"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    workdir = tmp_path_factory.mktemp("console-live")
    with fresh_database("sqlite", workdir) as url:
        seeded = seed(url)
        with Server(url, workdir, workers=1, env=SERVER_ENV) as server:
            yield server.base_url, seeded


class Watched:
    """A page whose console errors (and uncaught script errors) are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.errors.append(f"page error: {err}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def assert_no_errors(self, *expected_statuses: int) -> None:
        """No console error but the browser's note of a page answered with one of ``expected_statuses``."""
        allowed = [f"status of {s} " for s in expected_statuses]
        unexpected = [e for e in self.errors if not (e.startswith("Failed to load resource")
                                                     and any(a in e for a in allowed))]
        assert unexpected == []


@pytest.fixture
def watched(page: Page) -> Iterator[Watched]:
    w = Watched(page)
    yield w


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


# ----------------------------------------------------------------------------- sessions


def test_a_person_signs_in_and_out_and_the_session_ends_on_the_server(live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "officer")
    expect(page).to_have_url(f"{base}/console/officer")
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    shot(page, "officer-dashboard")
    cookie = next(c for c in page.context.cookies() if c["name"] == "claims_console")
    assert cookie["httpOnly"] and cookie["sameSite"] in ("Lax", "Strict")
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_text("您已退出登录。")).to_be_visible()
    shot(page, "signed-out")
    # The old cookie is dead on the server: put it back and it signs no one in.
    page.context.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path")}])
    page.goto(f"{base}/console/officer")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console/officer"))
    watched.assert_no_errors()


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_name(live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    for _ in range(3):
        sign_in(page, base, "hospital_other", "not-the-password")
        expect(page.get_by_text("用户名或密码不正确。")).to_be_visible()
    shot(page, "sign-in-wrong-password")
    sign_in(page, base, "hospital_other")  # the right password, but the name is locked
    expect(page.get_by_text(re.compile("登录失败次数过多"))).to_be_visible()
    shot(page, "sign-in-locked")
    assert not any(c["name"] == "claims_console" for c in page.context.cookies())
    watched.assert_no_errors(401, 429)


def test_an_idle_session_ends(tmp_path: Path, page: Page) -> None:
    watched = Watched(page)
    with fresh_database("sqlite", tmp_path) as url:
        seed(url)
        with Server(url, tmp_path, workers=1, env={"CLAIMS_CONSOLE_IDLE_SECONDS": "2"}) as server:
            sign_in(page, server.base_url, "member")
            expect(page.get_by_role("heading", name="我的申请")).to_be_visible()
            time.sleep(3)
            page.reload()
            expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console/member"))
    watched.assert_no_errors()


def test_a_forged_form_is_refused_and_changes_nothing(live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "admin")
    page.goto(f"{base}/console/admin/users")
    page.get_by_label("用户名").fill("forged-user")
    page.get_by_label(re.compile("初始密码")).fill("a-long-password-1")
    page.locator('input[name="csrf_token"]').last.evaluate("el => el.value = 'forged'")
    page.get_by_role("button", name="创建").click()
    expect(page.get_by_role("heading", name="请求被拒绝")).to_be_visible()
    shot(page, "csrf-refused")
    page.goto(f"{base}/console/admin/users")
    expect(page.get_by_role("cell", name="forged-user")).to_have_count(0)
    watched.assert_no_errors(403)


@pytest.mark.parametrize("username, foreign", [
    ("member", ["/console/officer", "/console/admin", "/console/hospital"]),
    ("hospital", ["/console/officer/review", "/console/member", "/console/admin/users"]),
    ("officer", ["/console/admin/keys", "/console/hospital/settlements/new", "/console/finance"]),
])
def test_each_role_sees_only_its_own_pages(live, watched: Watched, username: str, foreign: list[str]) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, username)
    nav = page.get_by_role("navigation", name="主菜单")
    for path in foreign:
        expect(nav.locator(f'a[href="{path}"]')).to_have_count(0)
        page.goto(f"{base}{path}")
        expect(page.get_by_role("heading", name="无权访问")).to_be_visible()
    shot(page, f"forbidden-{username}")
    watched.assert_no_errors(403)


# ----------------------------------------------------------------------------- journeys


def _csv(rows: list[str]) -> bytes:
    header = "member_id,certno,name,gender,birth_date,period_start,period_end,enrolled_on"
    return ("\n".join([header, *rows]) + "\n").encode()


def test_an_officer_enrolls_by_csv_sees_the_row_errors_then_imports_and_finds_the_member(live, watched: Watched) -> None:
    from tests.builders import certno_for
    from tests.load.live import YEAR

    base, _ = live
    page = watched.page
    sign_in(page, base, "officer")
    page.get_by_role("link", name="参保名单导入").click()
    shot(page, "officer-import")
    period = f"{YEAR}-01-01,{YEAR}-12-31,{YEAR - 1}-12-01"
    bad = _csv([f"W1,{certno_for('W1')},赵丽娟,F,1985-02-03,{period}",
                f"W2,110101199001011234,钱海军,M,1990-01-01,{period}",  # a wrong check digit
                f"W3,{certno_for('W3')},孙志强,M,1988-08-08,{YEAR}-12-31,{YEAR}-01-01,{YEAR - 1}-12-01"])  # ends before it starts
    page.get_by_label("CSV 文件").set_input_files({"name": "staff.csv", "mimeType": "text/csv", "buffer": bad})
    page.get_by_role("button", name="导入").click()
    expect(page.get_by_role("heading", name="文件有错误，未导入任何记录")).to_be_visible()
    expect(page.locator("tr#row-3.invalid")).to_be_visible()
    expect(page.locator("tr#row-4.invalid")).to_be_visible()
    expect(page.locator("tr#row-2.invalid")).to_have_count(0)
    expect(page.locator("tr#row-3 + tr.row-error")).to_contain_text("certno")
    shot(page, "officer-import-row-errors")

    good = _csv([f"W1,{certno_for('W1')},赵丽娟,F,1985-02-03,{period}",
                 f"W2,{certno_for('W2')},钱海军,M,1990-01-01,{period}"])
    page.get_by_label("CSV 文件").set_input_files({"name": "staff.csv", "mimeType": "text/csv", "buffer": good})
    page.get_by_role("button", name="导入").click()
    expect(page.locator("#import-result")).to_contain_text("新增会员 2 人")
    shot(page, "officer-import-done")

    page.get_by_role("link", name="会员查询").click()
    page.get_by_label("会员编号或姓名").fill("赵丽")  # htmx searches as the officer types
    expect(page.locator("#members tbody tr")).to_have_count(1)
    expect(page.locator("#members")).to_contain_text("W1")
    shot(page, "officer-member-search")
    page.get_by_role("link", name="W1").click()
    expect(page.get_by_role("heading", name=re.compile("赵丽娟"))).to_be_visible()
    expect(page.get_by_role("cell", name=f"{YEAR}-12-31")).to_be_visible()
    shot(page, "officer-member")
    page.get_by_role("link", name="困难职工登记").click()
    expect(page.get_by_role("heading", name="困难职工登记")).to_be_visible()
    shot(page, "officer-hardship")
    watched.assert_no_errors(422)


def test_an_officer_submits_a_claim_for_a_member_and_reads_its_decision(live, watched: Watched) -> None:
    base, seeded = live
    page = watched.page
    sign_in(page, base, "officer")
    page.goto(f"{base}/console/officer/members/M2")
    page.get_by_role("link", name="为该职工提交申请").click()
    page.get_by_label("医疗机构编码").fill("H1")
    page.get_by_label("结算单号").fill("NO-SUCH-BILL")
    page.get_by_role("button", name="提交并审核").click()
    expect(page.locator("#e-setl_id")).to_be_visible()  # the error at the field it names
    shot(page, "officer-claim-refused")
    page.get_by_label("结算单号").fill(seeded.unclaimed_setl_id)
    page.get_by_role("button", name="提交并审核").click()
    expect(page).to_have_url(re.compile(r"/console/officer/claims/\d+$"))
    expect(page.get_by_role("heading", name="各项待遇")).to_be_visible()
    page.get_by_text("计算过程（规则轨迹）").click()
    expect(page.locator("details.trace tbody tr").first).to_be_visible()
    shot(page, "officer-claim")
    watched.assert_no_errors(404)


def test_a_reviewer_clears_a_pended_claim(live, watched: Watched) -> None:
    base, seeded = live
    _review(watched, base, seeded, "sqlite")


def _review(watched: Watched, base: str, seeded: Seeded, name: str) -> None:
    page = watched.page
    sign_in(page, base, "officer")
    page.get_by_role("link", name="待审核").first.click()
    card = page.locator(f"#claim-{seeded.pended_claim}")
    expect(card).to_be_visible()
    shot(page, f"officer-review-queue-{name}")
    card.get_by_label("处理").first.select_option("approve")
    card.get_by_label("审核意见").first.fill("经核实住院病历，同意支付")
    card.get_by_label("处理").nth(1).select_option("adjust")
    card.get_by_label(re.compile("调减后金额")).nth(1).fill("100.00")
    card.get_by_label("审核意见").nth(1).fill("住院天数按实际核减")
    card.get_by_role("button", name="提交审核").click()
    card = page.locator(f"#claim-{seeded.pended_claim}")  # swapped in place by htmx
    expect(card.get_by_text("审核已保存。")).to_be_visible()
    expect(card.locator(".facts .status")).to_have_text("已核准")
    expect(card.get_by_role("button", name="提交审核")).to_have_count(0)
    shot(page, f"officer-review-done-{name}")
    page.get_by_role("link", name="工作台").click()
    expect(page.locator(f'a[href="/console/officer/claims/{seeded.pended_claim}"]')).to_have_count(0)
    watched.assert_no_errors()


def test_a_member_reads_what_each_claim_paid_and_why_in_chinese_and_english(live, watched: Watched) -> None:
    base, seeded = live
    page = watched.page
    sign_in(page, base, "member")
    expect(page.get_by_role("heading", name="我的申请")).to_be_visible()
    shot(page, "member-claims")
    page.get_by_role("link", name=str(seeded.approved_claim), exact=True).click()
    explanation = page.locator("td.explain").first
    expect(explanation).to_contain_text(re.compile("[\u4e00-\u9fff]"))
    expect(page.locator(".facts .total")).to_have_text(re.compile(r"^\d+\.\d\d$"))
    shot(page, "member-claim-zh")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Benefits")).to_be_visible()
    expect(page.locator("td.explain").first).not_to_contain_text(re.compile("[\u4e00-\u9fff]{4}"))
    shot(page, "member-claim-en")
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", name="各项待遇")).to_be_visible()
    watched.assert_no_errors()


def test_an_administrator_sees_plan_versions_and_manages_users_and_keys(live, watched: Watched) -> None:
    base, _ = live
    page = watched.page
    sign_in(page, base, "admin")
    expect(page.get_by_role("heading", name="方案版本")).to_be_visible()
    expect(page.locator("#plan-versions")).to_contain_text("已发布")
    shot(page, "admin-plans")
    page.get_by_role("link", name="用户").click()
    page.get_by_label("用户名").fill("li.officer")
    page.get_by_label("角色").select_option("officer")
    page.get_by_label(re.compile("^范围")).fill("U2")
    page.get_by_label(re.compile("初始密码")).fill("short")
    page.get_by_role("button", name="创建").click()
    expect(page.locator("#e-password")).to_be_visible()  # the error at its field
    shot(page, "admin-users-error")
    page.get_by_label(re.compile("初始密码")).fill("a-long-password-1")
    page.get_by_role("button", name="创建").click()
    expect(page.get_by_role("cell", name="li.officer")).to_be_visible()
    shot(page, "admin-users")
    page.get_by_role("link", name="接口密钥").click()
    page.get_by_label("角色").select_option("hospital")
    page.get_by_label(re.compile("^范围")).fill("H2")
    page.get_by_label("用途").fill("H2 接口")
    page.get_by_role("button", name="签发").click()
    expect(page.locator("#new-key")).to_have_text(re.compile(r"^ck_[0-9a-f]{12}_"))
    shot(page, "admin-keys")
    watched.assert_no_errors(422)


def test_a_hospital_clerk_posts_a_settlement_by_form_and_by_upload_and_sees_their_own(live, watched: Watched) -> None:
    import json

    from tests.load.live import YEAR, bill

    base, seeded = live
    page = watched.page
    sign_in(page, base, "hospital")
    expect(page.get_by_role("heading", name="本机构结算单")).to_be_visible()
    expect(page.locator(f'a[href="/console/hospital/settlements/{seeded.other_settlement}"]')).to_have_count(0)
    page.get_by_role("link", name="上传结算单").first.click()
    record = bill("S-FORM", "3000.00", patient="M1", begndate=f"{YEAR}-09-01", enddate=f"{YEAR}-09-05")
    for name in ("setl_id", "hosp_lv", "insutype", "med_type", "certno", "medfee_sumamt", "fulamt_ownpay_amt",
                 "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "hifp_pay", "fund_pay_sumamt", "psn_part_amt",
                 "acct_pay"):
        page.locator(f"#f-{name}").fill(record[name])
    page.locator("#f-begndate").fill(record["begndate"])
    page.locator("#f-enddate").fill(record["enddate"])
    page.locator("#f-diag_code").fill("J18.900")
    page.locator("#f-psn_cash_pay").fill("1.00")  # does not add up
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#e-psn_part_amt")).to_be_visible()  # the error at the field it names
    expect(page.get_by_text("结算单已保存。")).to_have_count(0)
    shot(page, "hospital-settlement-error")
    page.locator("#f-psn_cash_pay").fill(record["psn_cash_pay"])
    page.get_by_role("button", name="上传").click()
    expect(page.get_by_text("结算单已保存。")).to_be_visible()
    shot(page, "hospital-settlement")
    page.goto(f"{base}/console/hospital/settlements/new")
    upload = bill("S-UPLOAD", "2500.00", patient="M2", begndate=f"{YEAR}-10-01", enddate=f"{YEAR}-10-03")
    page.get_by_label(re.compile("结算记录文件")).set_input_files(
        {"name": "s.json", "mimeType": "application/json", "buffer": json.dumps(upload).encode()})
    page.get_by_role("button", name="上传").click()
    expect(page.get_by_role("heading", name="结算单 S-UPLOAD")).to_be_visible()
    page.get_by_role("link", name="结算单", exact=True).click()
    expect(page.get_by_role("cell", name="S-FORM")).to_be_visible()
    expect(page.get_by_role("cell", name="S-UPLOAD")).to_be_visible()
    expect(page.get_by_role("cell", name="S-OTHER")).to_have_count(0)  # H2's
    shot(page, "hospital-settlements")
    watched.assert_no_errors(422)


@pytest.mark.postgres
def test_a_reviewer_clears_a_pended_claim_on_postgresql(tmp_path: Path, page: Page) -> None:
    watched = Watched(page)
    try:
        database = fresh_database("postgres", tmp_path, durable=False)
        url = database.__enter__()
    except PostgresUnreachable as err:
        pytest.fail(str(err))
    try:
        seeded = seed(url)
        with Server(url, tmp_path, workers=1) as server:
            _review(watched, server.base_url, seeded, "postgres")
    finally:
        database.__exit__(None, None, None)
