"""An attacker's pass over the console's pages: each finding a page, not a 500, and nothing stored.

An id past any row (``/console/finance/runs/100000000000000000000``) reached the
database as a 64-bit overflow on every page that takes an id (a 500); a settlement
record nested a few thousand levels deep blew Python's recursion limit (a 500); and a
bank's return file above 5 MB was cut at 5 MB and imported in part, when the same
file through the API is all or nothing (the reconciliation list was cut at 2 MB too).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from store import models
from store.db import make_engine, session_factory
from tests.console.conftest import csrf_of

HUGE = 10**20


def _post(client, url: str, data: dict | None = None, files: dict | None = None):
    token = csrf_of(client.get("/console", follow_redirects=True).text)
    return client.post(url, data={**(data or {}), "csrf_token": token}, files=files)


def _count(seeded_db, model) -> int:
    engine = make_engine(seeded_db[0])
    try:
        with session_factory(engine)() as s:
            return s.scalar(select(func.count()).select_from(model))
    finally:
        engine.dispose()


def _run_status(seeded_db, run_id: int) -> str:
    engine = make_engine(seeded_db[0])
    try:
        with session_factory(engine)() as s:
            return s.get(models.PaymentRun, run_id).status
    finally:
        engine.dispose()


@pytest.mark.parametrize(("user", "url"), [
    ("finance", "/console/finance/runs/{id}"),
    ("hospital", "/console/hospital/settlements/{id}"),
    ("hospital", "/console/hospital/settlements/{id}/decision"),
    ("member", "/console/member/claims/{id}"),
    ("member", "/console/member/payments/{id}"),
    ("member", "/console/member/payments/{id}/print"),
    ("officer", "/console/officer/claims/{id}"),
    ("admin", "/console/admin/plans/{id}"),
    ("admin", "/console/admin/jobs/{id}"),
])
# "1" * 4301: more digits than Python reads into an int (a ValueError, once a 500);
# "01" and the zero-padded one name row 1 only if leading zeros are read.
@pytest.mark.parametrize("row_id", [HUGE, 2**31, "１", "abc", "1" * 4301, "01", "0" * 4400 + "1"])
def test_an_id_no_row_can_have_is_an_unknown_page_not_a_500(signed_in, user, url, row_id) -> None:
    answer = signed_in(user).get(url.format(id=row_id))
    assert answer.status_code == 404, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("url", ["/console/finance/runs/{id}/approve", "/console/finance/runs/{id}/cancel",
                                 "/console/finance/runs/{id}/bank-file", "/console/finance/runs/{id}/returns"])
@pytest.mark.parametrize("row_id", [HUGE, "1" * 4301])
def test_an_id_no_row_can_have_is_unknown_to_a_form_too_and_changes_nothing(signed_in, seeded_db, url,
                                                                             row_id) -> None:
    finance = signed_in("finance")  # signed in before counting: a sign-in is audited
    before = _count(seeded_db, models.AuditEntry)
    answer = _post(finance, url.format(id=row_id), {"text": "reference,status,reason,bank_ref,date\n"})
    assert answer.status_code == 404, answer.text[:300]
    assert _count(seeded_db, models.AuditEntry) == before


@pytest.mark.parametrize("signed", [True, False])
def test_an_id_of_more_digits_than_python_reads_is_unknown_before_sign_in_too(signed_in, signed) -> None:
    """The id is read before the session and the CSRF token: a stranger's request must get a page, not a 500."""
    browser = signed_in("admin") if signed else signed_in("nobody", fresh=True)
    answer = browser.post(f"/console/admin/keys/{'1' * 4301}/revoke", data={}, follow_redirects=False)
    assert answer.status_code == 404, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")


def test_a_run_named_with_leading_zeros_is_unknown_and_its_approval_changes_nothing(signed_in, seeded_db) -> None:
    """One row, one path: ``/runs/07`` is not run 7, to a page or to a form."""
    maker, checker = signed_in("finance"), signed_in("finance_checker")
    made = _post(maker, "/console/finance/runs", {"union_id": "U2"})
    assert made.status_code == 201, made.text[:500]
    run_id = int(re.search(r"支付批次 (\d+)", made.text).group(1))
    assert checker.get(f"/console/finance/runs/{run_id}").status_code == 200
    status, entries = _run_status(seeded_db, run_id), _count(seeded_db, models.AuditEntry)
    for padding in ["0", "000", "0" * 4400]:
        padded = f"{padding}{run_id}"
        assert checker.get(f"/console/finance/runs/{padded}").status_code == 404, padding[:5]
        for action in ("approve", "cancel"):
            answer = _post(checker, f"/console/finance/runs/{padded}/{action}")
            assert answer.status_code == 404, answer.text[:300]
            assert (_run_status(seeded_db, run_id), _count(seeded_db, models.AuditEntry)) == (status, entries)
    # The run itself is untouched and answers under its one path; cancelled, it gives
    # its items back to the union's next run (other tests here pay U2).
    assert _post(maker, f"/console/finance/runs/{run_id}/cancel").status_code == 303
    assert _run_status(seeded_db, run_id) == "cancelled"


@pytest.mark.parametrize("path", ["/console/hospital/settlements", "/console/hospital/desk/preview",
                                  "/console/hospital/desk/settle"])
def test_a_record_nested_too_deep_is_refused_at_its_field(signed_in, seeded_db, path) -> None:
    hospital = signed_in("hospital")  # signed in before counting: a sign-in is audited
    before = _count(seeded_db, models.Settlement), _count(seeded_db, models.AuditEntry)
    deep = b"[" * 100_000 + b"]" * 100_000
    answer = _post(hospital, path, files={"record": ("r.json", deep, "application/json")})
    assert answer.status_code == 422, answer.text[:300]
    assert re.search(r'id="e-record"[^>]*>nested deeper than 64 levels', answer.text), answer.text[:300]
    assert (_count(seeded_db, models.Settlement), _count(seeded_db, models.AuditEntry)) == before


@pytest.mark.parametrize("path", ["/console/hospital/settlements", "/console/hospital/desk/preview",
                                  "/console/hospital/desk/settle"])
@pytest.mark.parametrize("record", [b'{"overlmt_selfpay": ' + b"9" * 4301 + b"}", b"", b"\xef\xbb\xbf  "])
def test_a_record_python_cannot_read_or_an_empty_one_is_refused_at_its_field(signed_in, seeded_db, path,
                                                                           record) -> None:
    hospital = signed_in("hospital")  # signed in before counting: a sign-in is audited
    before = _count(seeded_db, models.Settlement), _count(seeded_db, models.AuditEntry)
    answer = _post(hospital, path, files={"record": ("r.json", record, "application/json")})
    assert answer.status_code == 422, answer.text[:300]
    assert re.search(r'id="e-record"[^>]*>[^<]*(JSON|empty)', answer.text), answer.text[:300]
    assert (_count(seeded_db, models.Settlement), _count(seeded_db, models.AuditEntry)) == before


def test_a_return_file_above_5_mb_is_read_whole_all_or_nothing_as_through_the_api(signed_in, seeded_db) -> None:
    """A good row, then 5 MB of blank lines, then a row naming no item: the whole file is refused."""
    maker, checker = signed_in("finance"), signed_in("finance_checker")
    made = _post(maker, "/console/finance/runs", {"union_id": "U2"})
    assert made.status_code == 201, made.text[:500]
    run_id = int(re.search(r"支付批次 (\d+)", made.text).group(1))
    assert _post(checker, f"/console/finance/runs/{run_id}/approve").status_code == 303
    bank = _post(checker, f"/console/finance/runs/{run_id}/bank-file", {"encoding": "utf-8"})
    reference = bank.content.decode("utf-8-sig").splitlines()[1].split(",")[6]
    body = (f"reference,status,reason,bank_ref,date\r\n{reference},paid,,B1,2026-01-05\r\n" + "\r\n" * 2_600_000
            + "999999,paid,,B2,2026-01-05\r\n").encode()
    assert len(body) > 5_000_000
    answer = _post(checker, f"/console/finance/runs/{run_id}/returns", files={"file": ("r.csv", body)})
    assert answer.status_code == 422, answer.text[:300]
    assert _run_status(seeded_db, run_id) == "exported"  # nothing imported


def test_guesses_sent_at_once_are_counted_as_they_arrive_so_no_more_than_the_limit_are_checked(seeded_db) -> None:
    """The lockout asked "locked?" before the slow password check and counted the failure after it: twenty
    guesses sent together all passed the question, twenty passwords were tried where the limit is three."""
    from concurrent.futures import ThreadPoolExecutor

    from service import users
    from service.errors import TooManyRequests, Unauthorized
    from service.users import Lockout

    guard = Lockout.make("3/15 minutes", "1000/15 minutes")
    engine = make_engine(seeded_db[0])
    barrier = __import__("threading").Barrier(20)

    def guess(n: int) -> str:
        with session_factory(engine)() as s:
            barrier.wait()
            try:
                users.sign_in(s, "finance_checker", f"wrong-guess-{n}", f"10.9.0.{n}", guard)
            except Unauthorized:
                return "checked"
            except TooManyRequests:
                return "locked"
            finally:
                s.rollback()
        return "signed in"

    try:
        with ThreadPoolExecutor(20) as pool:
            outcomes = list(pool.map(guess, range(20)))
    finally:
        engine.dispose()
    assert outcomes.count("checked") <= 3, outcomes
    assert outcomes.count("locked") >= 17


def test_a_right_password_still_signs_in_many_times_and_clears_the_names_failures(seeded_db) -> None:
    from service import users
    from service.errors import TooManyRequests, Unauthorized
    from service.users import Lockout
    from tests.console.cast import PASSWORD

    guard = Lockout.make("3/15 minutes", "1000/15 minutes")
    engine = make_engine(seeded_db[0])
    try:
        with session_factory(engine)() as s:
            for _ in range(5):  # more than the limit: a success is not a failure
                assert users.sign_in(s, "member_other", PASSWORD, "10.8.0.1", guard).user.username == "member_other"
            for n in range(2):
                with pytest.raises(Unauthorized):
                    users.sign_in(s, "member_other", f"wrong-{n}", "10.8.0.1", guard)
            users.sign_in(s, "member_other", PASSWORD, "10.8.0.1", guard)  # clears the two
            for n in range(3):
                with pytest.raises(Unauthorized):
                    users.sign_in(s, "member_other", f"wrong-again-{n}", "10.8.0.1", guard)
            with pytest.raises(TooManyRequests):
                users.sign_in(s, "member_other", PASSWORD, "10.8.0.1", guard)
            s.rollback()
    finally:
        engine.dispose()


@pytest.mark.parametrize("day", ["20250710", "2025-W27-1", "2025W271"])
def test_a_receipt_day_written_otherwise_is_refused_at_its_field_and_no_claim_is_made(signed_in, seeded_db,
                                                                                      day) -> None:
    """date.fromisoformat reads 20250710 as 2025-07-10: the console reads a day as the API does."""
    officer = signed_in("officer")
    before = _count(seeded_db, models.Claim), _count(seeded_db, models.AuditEntry)
    answer = _post(officer, "/console/officer/members/M2/claims",
                   {"fixmedins_code": "H1", "setl_id": "NO-SUCH-BILL", "submitted_on": day, "note": "纸质申请"})
    assert answer.status_code == 422, answer.text[:300]
    assert re.search(r'id="e-submitted_on"[^>]*>[^<]*not a date', answer.text), answer.text[:1500]
    assert (_count(seeded_db, models.Claim), _count(seeded_db, models.AuditEntry)) == before


@pytest.mark.parametrize("label", ["夜班\x1b[31m", "\u202e班夜", "a\x00b"])
def test_a_key_label_with_a_control_character_is_refused_at_its_field_as_by_the_api(signed_in, seeded_db,
                                                                                   label) -> None:
    admin = signed_in("admin")
    before = _count(seeded_db, models.ApiKey), _count(seeded_db, models.AuditEntry)
    answer = _post(admin, "/console/admin/keys", {"role": "admin", "scope": "", "label": label})
    assert answer.status_code == 422, answer.text[:300]
    assert re.search(r'id="e-label"[^>]*>[^<]*control or invisible character', answer.text), answer.text[-2000:]
    assert (_count(seeded_db, models.ApiKey), _count(seeded_db, models.AuditEntry)) == before


def test_a_simulation_over_days_outside_the_service_s_is_refused_from_the_console_too(signed_in, seeded_db) -> None:
    """The console reaches simulation.start_simulation without the API's schema: the service bounds the days."""
    admin = signed_in("admin")
    plan_id = _first_plan_id(seeded_db)
    before = _count(seeded_db, models.Job), _count(seeded_db, models.AuditEntry)
    answer = _post(admin, f"/console/admin/plans/{plan_id}/simulate", {"submitted_from": "1999-12-31"})
    assert answer.status_code == 422, answer.text[:300]
    assert "must be a day from 2000-01-01 to 2100-12-31" in answer.text
    assert (_count(seeded_db, models.Job), _count(seeded_db, models.AuditEntry)) == before


def _first_plan_id(seeded_db) -> int:
    engine = make_engine(seeded_db[0])
    try:
        with session_factory(engine)() as s:
            return s.scalar(select(func.min(models.PlanVersion.id)))
    finally:
        engine.dispose()
