"""The console's desk, payment-run and plan pages without a browser: refusals, who may, twice.

Each refusal is checked at the field it names AND for what it did not store. The
browser journeys (test_console_browser_money.py) walk the same pages as people do.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from service import payments, users
from store import models
from store.db import make_engine, session_factory
from tests.console.conftest import csrf_of


def _post(client, url: str, data: dict | None = None, files: dict | None = None):
    token = csrf_of(client.get("/console", follow_redirects=True).text)
    return client.post(url, data={**(data or {}), "csrf_token": token}, files=files)


def _db(seeded_db):
    engine = make_engine(seeded_db[0])
    return engine, session_factory(engine)


def _run_status(seeded_db, run_id: int) -> str:
    engine, sessions = _db(seeded_db)
    try:
        with sessions() as s:
            return s.get(models.PaymentRun, run_id).status
    finally:
        engine.dispose()


def test_maker_checker_the_maker_cannot_approve_another_finance_officer_does_once(signed_in, seeded_db) -> None:
    maker, checker = signed_in("finance"), signed_in("finance_checker")
    made = _post(maker, "/console/finance/runs", {"union_id": "U2"})  # M3's approved claim
    assert made.status_code == 201, made.text[:500]
    run_id = int(re.search(r"支付批次 (\d+)", made.text).group(1))
    assert "复核通过" not in made.text  # the maker is not offered the approval
    refused = _post(maker, f"/console/finance/runs/{run_id}/approve")
    assert refused.status_code == 403 and "maker" in refused.text
    assert _run_status(seeded_db, run_id) == "draft"
    early = _post(checker, f"/console/finance/runs/{run_id}/bank-file")  # not approved yet: no file
    assert early.status_code == 409 and early.headers["content-type"].startswith("text/html")
    assert _post(checker, f"/console/finance/runs/{run_id}/approve").status_code == 303
    assert _run_status(seeded_db, run_id) == "approved"
    again = _post(checker, f"/console/finance/runs/{run_id}/approve")  # twice: no longer a draft
    assert again.status_code == 409
    assert _post(checker, f"/console/finance/runs/{run_id}/cancel").status_code == 303
    assert _run_status(seeded_db, run_id) == "cancelled"  # its lines are payable again for the next test


def test_a_bank_file_is_a_utf8_file_with_a_bom_or_gb18030_and_a_bad_return_file_changes_nothing(
        signed_in, seeded_db) -> None:
    maker, checker = signed_in("finance"), signed_in("finance_checker")
    made = _post(maker, "/console/finance/runs", {"union_id": "U2"})
    run_id = int(re.search(r"支付批次 (\d+)", made.text).group(1))
    _post(checker, f"/console/finance/runs/{run_id}/approve")
    utf8 = _post(checker, f"/console/finance/runs/{run_id}/bank-file", {"encoding": "utf-8"})
    assert utf8.status_code == 200 and utf8.content.startswith(b"\xef\xbb\xbf")
    assert "attachment" in utf8.headers["content-disposition"]
    gb = _post(checker, f"/console/finance/runs/{run_id}/bank-file", {"encoding": "gb18030"})
    assert gb.content.decode("gb18030").splitlines()[1:] == utf8.content.decode("utf-8-sig").splitlines()[1:]
    assert utf8.headers["content-type"].endswith("charset=utf-8") and gb.headers["content-type"].endswith("charset=gb18030")
    assert _run_status(seeded_db, run_id) == "exported"
    reference = utf8.content.decode("utf-8-sig").splitlines()[1].split(",")[6]
    bad = f"reference,status,reason,bank_ref,date\n{reference},paid,,B1,not-a-day\n"
    refused = _post(checker, f"/console/finance/runs/{run_id}/returns", files={"file": ("r.csv", bad.encode())})
    assert refused.status_code == 422
    assert 'id="return-row-2" class="invalid"' in refused.text and "row 2.date" in refused.text
    assert _run_status(seeded_db, run_id) == "exported"  # nothing imported
    empty = _post(checker, f"/console/finance/runs/{run_id}/returns", {"text": ""})
    assert empty.status_code == 422 and 'id="e-file"' in empty.text
    good = bad.replace("not-a-day", "2026-01-05")
    done = _post(checker, f"/console/finance/runs/{run_id}/returns", {"text": good})
    assert done.status_code == 200 and 'id="returns-result"' in done.text
    assert _run_status(seeded_db, run_id) == "closed"
    again = _post(checker, f"/console/finance/runs/{run_id}/returns", {"text": good})  # the same file twice
    assert again.status_code == 200 and "未变 1 笔" in again.text
    # The member's advice: theirs to read; another member's is unknown, as one that does not exist.
    item = int(reference)
    assert signed_in("member_other").get(f"/console/member/payments/{item}").status_code == 200
    for client in (signed_in("member"),):
        theirs, unknown = client.get(f"/console/member/payments/{item}"), client.get("/console/member/payments/999999")
        assert theirs.status_code == unknown.status_code == 404
        assert client.get(f"/console/member/payments/{item}/print").status_code == 404
    listed = signed_in("member_other").get("/console/member/payments").text
    assert f'href="/console/member/payments/{item}"' in listed
    assert f'href="/console/member/payments/{item}"' not in signed_in("member").get("/console/member/payments").text


def test_a_run_refused_names_its_field_and_stores_nothing(signed_in, seeded_db) -> None:
    engine, sessions = _db(seeded_db)
    try:
        with sessions() as s:
            before = s.scalar(select(models.PaymentRun.id).order_by(models.PaymentRun.id.desc()))
    finally:
        engine.dispose()
    answer = _post(signed_in("finance"), "/console/finance/runs",
                   {"union_id": "R", "decided_from": "2026-02-01", "decided_to": "2026-01-01"})
    assert answer.status_code == 422 and 'id="e-decided_to"' in answer.text
    unknown = _post(signed_in("finance"), "/console/finance/runs", {"union_id": "NO-SUCH"})
    assert unknown.status_code == 404
    engine, sessions = _db(seeded_db)
    try:
        with sessions() as s:
            assert s.scalar(select(models.PaymentRun.id).order_by(models.PaymentRun.id.desc())) == before
    finally:
        engine.dispose()


def test_a_cancellation_needs_its_reason_and_another_hospitals_settlement_is_unknown(signed_in, seeded) -> None:
    url = f"/console/hospital/settlements/{seeded.settlement}/cancel"
    refused = _post(signed_in("hospital"), url, {"reason": "   "})
    assert refused.status_code == 422 and 'id="e-reason"' in refused.text
    page = signed_in("hospital").get(f"/console/hospital/settlements/{seeded.settlement}/decision")
    assert "已撤销" not in page.text and 'action="' + url + '"' in page.text  # nothing was cancelled
    theirs = _post(signed_in("hospital_other"), url, {"reason": "不是本院的"})
    unknown = _post(signed_in("hospital_other"), "/console/hospital/settlements/999999/cancel", {"reason": "x"})
    assert theirs.status_code == unknown.status_code == 404
    assert signed_in("hospital_other").get(f"/console/hospital/settlements/{seeded.settlement}/decision").status_code == 404


def test_a_reconciliation_list_with_a_bad_row_names_the_row(signed_in) -> None:
    answer = _post(signed_in("hospital"), "/console/hospital/reconciliation",
                   {"list": "setl_id,medfee_sumamt\nS-A,1.00\nS-A,2.00\n"})
    assert answer.status_code == 422 and "row 3 · setl_id" in answer.text  # listed twice, on the file's row 3
    no_header = _post(signed_in("hospital"), "/console/hospital/reconciliation", {"list": "S-A,1.00\n"})
    assert no_header.status_code == 422 and "list" in no_header.text


def test_a_reconciliation_list_excel_saved_as_gbk_is_read_as_gbk(signed_in) -> None:
    listed = "setl_id,medfee_sumamt,cancelled\nS-GBK-1,1.00,已撤销\n"
    answer = _post(signed_in("hospital"), "/console/hospital/reconciliation", {"date": "2026-11-01"},
                   files={"file": ("list.csv", listed.encode("gb18030"))})
    assert "S-GBK-1,1.00,已撤销" in answer.text, answer.text[:2000]  # read, not replaced by U+FFFD
    unreadable = _post(signed_in("hospital"), "/console/hospital/reconciliation", {"date": "2026-11-01"},
                       files={"file": ("list.csv", b"setl_id\x00,medfee_sumamt\n")})
    assert unreadable.status_code == 422 and "NUL" in unreadable.text


@pytest.mark.parametrize("text, where, stored", [
    ("name: [unclosed\n", "第 1 行", False),  # the parser's own line; a text that does not parse is not stored
    ("name: x\nbenefits: 5\n", "第 2 行", True),  # the validator's path, found in the text; kept with its errors
])
def test_the_plan_editor_shows_each_error_at_its_line_and_keeps_published_versions_unchanged(
        signed_in, text: str, where: str, stored: bool) -> None:
    admin = signed_in("admin")
    made = _post(admin, "/console/admin/plans")
    assert made.status_code == 303
    draft = made.headers["location"]
    answer = _post(admin, f"{draft}/document", {"document": text})
    assert answer.status_code == 422 and where in answer.text and 'class="invalid"' in answer.text
    page = admin.get(draft).text
    assert ("benefits: 5" in page) is stored and ("name: default-2026" in page) is not stored
    if stored:
        refused = _post(admin, f"{draft}/publish", {"effective_from": "2030-01-01"})  # an invalid draft stays a draft
        assert refused.status_code == 422
        assert "草稿" in admin.get(draft).text
    assert _post(admin, "/console/admin/plans/1/document", {"document": "name: x"}).status_code == 409  # published


def test_a_simulation_of_an_invalid_draft_is_refused_and_a_job_is_unknown_to_no_one_but_admins(signed_in) -> None:
    admin = signed_in("admin")
    draft = _post(admin, "/console/admin/plans").headers["location"]
    _post(admin, f"{draft}/document", {"document": "name: x\n"})
    refused = _post(admin, f"{draft}/simulate")
    assert refused.status_code == 422
    assert admin.get("/console/admin/jobs/999999").status_code == 404


def test_console_users_are_distinct_checkers_but_one_user_is_one_person(seeded_db) -> None:
    engine, sessions = _db(seeded_db)
    try:
        with sessions() as s:
            finance = s.scalar(select(models.User).where(models.User.username == "finance"))
            checker = s.scalar(select(models.User).where(models.User.username == "finance_checker"))
            a, b = users.principal_of(s, finance), users.principal_of(s, checker)
            run = models.PaymentRun(union_id="R", status="draft", made_by=a.actor, made_by_key=None, total=0,
                                    item_count=0)
            assert payments._same_person(run, a) and not payments._same_person(run, b)
    finally:
        engine.dispose()


def test_retiring_the_only_version_in_force_is_refused_with_the_gap_named(signed_in) -> None:
    admin = signed_in("admin")
    refused = _post(admin, "/console/admin/plans/1/retire")
    assert refused.status_code == 409 and "no published plan in force" in refused.text
    assert "已发布" in admin.get("/console/admin/plans/1").text  # still in force
    assert _post(admin, "/console/admin/plans/999999/retire").status_code == 404


def test_an_officer_reads_a_members_remaining_benefits_on_a_day_and_not_another_unions(signed_in) -> None:
    from tests.load.live import YEAR

    page = signed_in("officer").get(f"/console/officer/members/M1?on={YEAR}-12-31")
    assert page.status_code == 200 and 'class="benefits"' in page.text and "MA_IP" in page.text
    assert signed_in("officer_other").get(f"/console/officer/members/M1?on={YEAR}-12-31").status_code == 404
