"""Concurrent requests through the real HTTP server (``claims serve --workers 2``), on SQLite and PostgreSQL.

Member A sends twenty claims at once while close to three caps: MA_IP has 14,000.00
left of its 500,000.00, MA_DA 80 of its 180 days, and each of the twenty claims is for
lung cancer (one MA_CI grant of 10,000.00 per disease and period); CIR (near_dibao,
70%, 40,000.00 a year) starts at zero but runs out within the twenty. Member B is A's
twin (same enrollments, registration and earlier claim) and sends the same twenty
bills one by one, in the order the server decided A's (claim ids ascend in that order:
claims of one member are decided under the member's lock). Every decision and every
accumulator of A must equal B's; a lost update or a cap read before another claim
wrote it would make A's differ.

Expected, worked by hand (default-plan.md sections 4-7): each claim has B = 5,000.00
and 10 days. MA_IP pays 5,000, 5,000, 4,000 (CAP_APPLIED), then ANNUAL_CAP_REACHED;
MA_DA pays 10 days x 20.00 on the first eight; MA_CI pays the first claim only; CIR
pays 70% of what MA_IP left: 0, 0, 700, then 3,500 each until 40,000.00 is reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from store import models
from store.db import make_engine, session_factory

from .conftest import database
from .live import RECEIVED, YEAR, Answer, Keys, Server, all_at_once, auth, bill, claim_in_process, client, seed, send

LUNG_CANCER = "C34.900"  # catalog disease CI01
CLAIMS_AT_ONCE = 20
IDENTICAL_POSTS = 100


@pytest.fixture(scope="module")
def served(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys, str]]:
    """One server per backend for this module, on a database with members A and B near their caps."""
    workdir: Path = tmp_path_factory.mktemp(f"concurrency-{backend}")
    with database(backend, workdir) as url:
        keys = seed(url, ["A", "B"], hardship_registered_on=f"{YEAR}-04-20")
        for member in ("A", "B"):
            # B = 540,000.00 over 100 days: MA_IP 486,000.00 (bands up to 200,000, then 100%), MA_DA 100 days.
            # Admitted before the hardship registration, so CIR does not apply to it.
            earlier = bill(f"EARLIER-{member}", "540000.00", patient=member, begndate=f"{YEAR}-01-05", enddate=f"{YEAR}-04-15")
            assert claim_in_process(url, member, earlier) == "pended"  # above 50,000.00: reserved all the same
        with Server(url, workdir, workers=2) as server:
            yield server, keys, url


def _post_settlement(http: httpx.Client, key: str, settlement: dict) -> int:
    response = http.post("/v1/settlements", json=settlement, headers=auth(key))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _claim_request(settlement_id: int, member: str) -> dict:
    return {"member_id": member, "settlement_id": settlement_id, **RECEIVED}


def _decision(claim: dict) -> tuple:
    """What a claim decided, without what differs between twins (ids, setl_id, trace)."""
    return (claim["status"], claim["total"],
            tuple((ln["benefit"], ln["status"], ln["amount"], tuple(r["code"] for r in ln["reasons"]))
                  for ln in claim["lines"]))


def _accumulators(url: str, member: str) -> dict[tuple[str, str, str], int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(select(models.Accumulator.benefit, models.Accumulator.measure, models.Accumulator.scope,
                                    models.Accumulator.value).where(models.Accumulator.member_id == member))
            return {(b, m, sc): v for b, m, sc, v in rows}
    finally:
        engine.dispose()


def _line_sum(claims: list[dict], benefit: str) -> Decimal:
    return sum((Decimal(ln["amount"]) for c in claims for ln in c["lines"]
                if ln["benefit"] == benefit and ln["status"] in ("approved", "pended")), Decimal("0"))


def test_twenty_claims_at_once_for_one_member_near_the_caps_never_pay_past_a_cap_and_decide_as_one_by_one(served):
    server, keys, url = served
    bills = [dict(begndate=f"{YEAR}-05-{1 + i:02d}", enddate=f"{YEAR}-05-{11 + i:02d}") for i in range(CLAIMS_AT_ONCE)]
    with client(server.base_url) as http:
        for_a = [_post_settlement(http, keys.hospital, bill(f"A-{i}", "5000.00", patient="A", diag_code=LUNG_CANCER, **dates))
                 for i, dates in enumerate(bills)]
        for_b = [_post_settlement(http, keys.hospital, bill(f"B-{i}", "5000.00", patient="B", diag_code=LUNG_CANCER, **dates))
                 for i, dates in enumerate(bills)]

    answers = all_at_once(server.base_url, [
        lambda c, sid=sid: send(c, "POST", "/v1/claims", json=_claim_request(sid, "A"), headers=auth(keys.officer))
        for sid in for_a
    ])
    refused = [(a.status, a.body or a.error) for a in answers if a.status != 201]
    assert not refused, f"claims sent at once were not all decided: {refused}"
    at_once = sorted((a.body for a in answers), key=lambda c: c["id"])

    one_by_one = []
    with client(server.base_url) as http:
        for claim in at_once:
            twin_settlement = for_b[for_a.index(claim["settlement_id"])]
            answer = send(http, "POST", "/v1/claims", json=_claim_request(twin_settlement, "B"),
                          headers=auth(keys.officer))
            assert answer.status == 201, answer.body or answer.error
            one_by_one.append(answer.body)

    assert [_decision(c) for c in at_once] == [_decision(c) for c in one_by_one]
    assert _accumulators(url, "A") == _accumulators(url, "B")

    # The caps, from the lines the member was answered with: nothing past any of them.
    assert _line_sum(at_once, "MA_IP") == Decimal("14000.00")  # 500,000.00 - 486,000.00 paid before
    assert _line_sum(at_once, "MA_DA") == Decimal("1600.00")  # 80 days left x 20.00
    assert _line_sum(at_once, "MA_CI") == Decimal("10000.00")  # one grant for lung cancer
    assert _line_sum(at_once, "CIR") == Decimal("40000.00")  # the near_dibao yearly cap
    statuses = [ln["status"] for c in at_once for ln in c["lines"] if ln["benefit"] == "MA_IP"]
    assert statuses == ["approved"] * 3 + ["denied"] * (CLAIMS_AT_ONCE - 3)


def test_a_hundred_identical_settlement_posts_at_once_store_one_settlement(served):
    server, keys, url = served
    settlement = bill("SAME-BILL-1", "1234.56", patient="A", begndate=f"{YEAR}-03-01", enddate=f"{YEAR}-03-08")

    answers: list[Answer] = all_at_once(server.base_url, [
        lambda c: send(c, "POST", "/v1/settlements", json=settlement, headers=auth(keys.hospital))
    ] * IDENTICAL_POSTS)

    statuses = [a.status for a in answers]
    assert set(statuses) <= {200, 201}, [(a.status, a.body or a.error) for a in answers if a.status not in (200, 201)]
    assert statuses.count(201) == 1
    assert len({a.body["id"] for a in answers}) == 1  # every answer is the one stored settlement
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            stored = s.scalar(select(func.count()).select_from(models.Settlement)
                              .where(models.Settlement.fixmedins_code == "H1", models.Settlement.setl_id == "SAME-BILL-1"))
            posted = s.scalar(select(func.count()).select_from(models.AuditEntry).where(
                models.AuditEntry.action == "settlement.posted",
                models.AuditEntry.entity_id == str(answers[0].body["id"])))
    finally:
        engine.dispose()
    assert (stored, posted) == (1, 1)
