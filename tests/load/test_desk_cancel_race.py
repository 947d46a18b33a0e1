"""A cancellation and the member's next claim at once, through ``claims serve --workers 2``, on both databases.

Each round: member A_n has a desk settlement X (B = 8,000.00, MA_IP 3,200.00). Then the
hospital cancels X and settles A_n's next stay Y (B = 4,000.00) at the same moment. The
two transactions meet on A_n's member lock, so one of them goes first; the audit log
says which. Twin B_n then does the same one after the other, in that order. Y's
decision and every total of A_n must equal B_n's: if the cancellation went first, Y is
decided as if X had never been (40% of a first 4,000.00 = 1,600.00); if Y went first,
it continues the bands from X's 8,000.00 (1,800.00) and X's cancellation releases only
X's part. A lost update, or totals read before the other transaction wrote them, would
make the twins differ; ``claims check`` must find nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from claims.dates import china_today
from service import consistency, registry
from service.auth import CLI
from service.schemas import EnrollmentCreate
from store import models
from store.db import make_engine, session_factory

from .conftest import database
from .live import Server, all_at_once, auth, bill, client, seed, send

ROUNDS = 4
TODAY = china_today()
ENDDATE = TODAY - dt.timedelta(days=2)
BEGNDATE = ENDDATE - dt.timedelta(days=10)


def _stay(setl_id: str, b: str, member: str) -> dict:
    return bill(setl_id, b, patient=member, begndate=BEGNDATE.isoformat(), enddate=ENDDATE.isoformat())


def _enroll_this_year(url: str, members: list[str]) -> None:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            for member in members:
                registry.add_enrollment(s, CLI, member, EnrollmentCreate(
                    period_start=dt.date(TODAY.year, 1, 1), period_end=dt.date(TODAY.year, 12, 31),
                    enrolled_on=dt.date(TODAY.year - 1, 12, 1)))
            s.commit()
    finally:
        engine.dispose()


def _direct(http: httpx.Client, key: str, record: dict) -> dict:
    answer = http.post("/v1/settlements/direct", json=record, headers=auth(key))
    assert answer.status_code == 201, answer.text
    return answer.json()


def _cancel(http: httpx.Client, key: str, settlement_id: int) -> dict:
    answer = http.post(f"/v1/settlements/{settlement_id}/cancel", json={"reason": "收费员录入错误"}, headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _decision(answer: dict) -> tuple:
    return (answer["status"], answer["paid"],
            tuple((ln["benefit"], ln["status"], ln["amount"], tuple(r["code"] for r in ln["reasons"]))
                  for ln in answer["lines"]))


def test_a_cancellation_and_the_next_claim_at_once_decide_as_in_the_order_they_took(
        backend: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    workdir: Path = tmp_path_factory.mktemp(f"desk-race-{backend}")
    members = [f"{twin}{n}" for n in range(ROUNDS) for twin in ("A", "B")]
    with database(backend, workdir) as url:
        keys = seed(url, members)
        _enroll_this_year(url, members)
        seen_orders = set()
        with Server(url, workdir, workers=2) as server, client(server.base_url) as http:
            for n in range(ROUNDS):
                a, b = f"A{n}", f"B{n}"
                x = _direct(http, keys.hospital, _stay(f"X-{a}", "8000.00", a))
                assert x["paid"].startswith("3") and x["status"] == "approved"
                raced = all_at_once(server.base_url, [
                    lambda c, x=x: send(c, "POST", f"/v1/settlements/{x['settlement_id']}/cancel",
                                        json={"reason": "收费员录入错误"}, headers=auth(keys.hospital)),
                    lambda c, a=a: send(c, "POST", "/v1/settlements/direct", json=_stay(f"Y-{a}", "4000.00", a),
                                        headers=auth(keys.hospital)),
                ])
                assert [r.status for r in raced] == [200, 201], [(r.status, r.body, r.error) for r in raced]
                y = raced[1].body
                cancel_first = _order(url, x["settlement_id"], y["claim_id"])
                seen_orders.add(cancel_first)
                # The twin, one after the other, in the order the server took.
                xb = _direct(http, keys.hospital, _stay(f"X-{b}", "8000.00", b))
                if cancel_first:
                    _cancel(http, keys.hospital, xb["settlement_id"])
                    yb = _direct(http, keys.hospital, _stay(f"Y-{b}", "4000.00", b))
                    ma_ip = next(ln for ln in y["lines"] if ln["benefit"] == "MA_IP")
                    assert ma_ip["amount"] == "1600.00"  # as if X had never been
                else:
                    yb = _direct(http, keys.hospital, _stay(f"Y-{b}", "4000.00", b))
                    _cancel(http, keys.hospital, xb["settlement_id"])
                assert _decision(y) == _decision(yb), n
                assert _totals(url, a) == _totals(url, b), n
        engine = make_engine(url)
        try:
            with session_factory(engine)() as s:
                assert consistency.check(s) == []
        finally:
            engine.dispose()
        print(f"\n{backend}: orders seen (cancel first?): {sorted(seen_orders)}")


def _order(url: str, settlement_id: int, claim_id: int) -> bool:
    """Did the cancellation's audit entry come before the next claim's decision?"""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            cancelled = s.scalar(select(models.AuditEntry.position).where(
                models.AuditEntry.action == "settlement.cancelled", models.AuditEntry.entity_id == str(settlement_id)))
            decided = s.scalar(select(models.AuditEntry.position).where(
                models.AuditEntry.action == "claim.adjudicated", models.AuditEntry.entity_id == str(claim_id)))
            assert cancelled is not None and decided is not None
            return cancelled < decided
    finally:
        engine.dispose()


def _totals(url: str, member: str) -> dict[tuple[str, str, str], int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(select(models.Accumulator.benefit, models.Accumulator.measure, models.Accumulator.scope,
                                    models.Accumulator.value).where(models.Accumulator.member_id == member))
            return {(bn, m, sc): v for bn, m, sc, v in rows if v}
    finally:
        engine.dispose()
