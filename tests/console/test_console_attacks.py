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
@pytest.mark.parametrize("row_id", [HUGE, 2**31, "１", "abc"])
def test_an_id_no_row_can_have_is_an_unknown_page_not_a_500(signed_in, user, url, row_id) -> None:
    answer = signed_in(user).get(url.format(id=row_id))
    assert answer.status_code == 404, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("url", ["/console/finance/runs/{id}/approve", "/console/finance/runs/{id}/cancel",
                                 "/console/finance/runs/{id}/bank-file", "/console/finance/runs/{id}/returns"])
def test_an_id_no_row_can_have_is_unknown_to_a_form_too_and_changes_nothing(signed_in, seeded_db, url) -> None:
    before = _count(seeded_db, models.AuditEntry)
    answer = _post(signed_in("finance"), url.format(id=HUGE), {"text": "reference,status,reason,bank_ref,date\n"})
    assert answer.status_code == 404, answer.text[:300]
    assert _count(seeded_db, models.AuditEntry) == before
