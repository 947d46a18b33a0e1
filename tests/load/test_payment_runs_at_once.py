"""Two payment runs built at the same moment through the real server (``claims serve --workers 2``), on both databases.

Thirty members of U1 each have an approved claim and a payee account. Two finance
officers of U1 send ``POST /v1/payment-runs`` together, three rounds (new claims each
round). Whatever the interleaving, no line may be in two runs, and every payable line
must be in exactly one: the builders lock the members they pay and the
``payment_line_claims`` primary key refuses a line taken twice. The loser of a round
answers 409 (nothing left to pay, or the lines were taken at the same moment), never
a 500 and never a second item for a line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from service import payments
from service.auth import CLI, Role, create_key
from service.schemas import PayeeAccountWrite
from store import models
from store.db import make_engine, session_factory

from .conftest import database
from .live import YEAR, Server, all_at_once, auth, bill, claim_in_process, seed, send

MEMBERS = [f"P{i:02d}" for i in range(30)]
ROUNDS = 3


@pytest.fixture(scope="module")
def served(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[str], str]]:
    workdir: Path = tmp_path_factory.mktemp(f"payment-runs-{backend}")
    with database(backend, workdir) as url:
        seed(url, MEMBERS)
        engine = make_engine(url)
        try:
            with session_factory(engine)() as s:
                for n, member in enumerate(MEMBERS):
                    payments.set_payee_account(s, CLI, member, PayeeAccountWrite(
                        holder_name=f"会员{n}", bank_name="中国银行呼和浩特分行", account_no=f"62166{n:010d}"))
                keys = [create_key(s, Role.FINANCE, union_id="U1", label=f"finance {i}")[1] for i in range(2)]
                s.commit()
        finally:
            engine.dispose()
        with Server(url, workdir, workers=2) as server:
            yield server, keys, url


def _claims(url: str, round_no: int) -> None:
    for member in MEMBERS:
        settlement = bill(f"PAY{round_no}-{member}", "1000.00", patient=member, begndate=f"{YEAR}-0{round_no + 1}-02",
                          enddate=f"{YEAR}-0{round_no + 1}-12")
        assert claim_in_process(url, member, settlement) == "approved"


def test_two_runs_built_at_the_same_moment_never_share_a_line(served) -> None:
    server, keys, url = served
    engine = make_engine(url)
    try:
        for round_no in range(ROUNDS):
            _claims(url, round_no)
            answers = all_at_once(server.base_url, [
                lambda c, k=k: send(c, "POST", "/v1/payment-runs", json={}, headers=auth(k)) for k in keys])
            statuses = sorted(a.status for a in answers)
            assert all(s in (201, 409) for s in statuses), [(a.status, a.body, a.error) for a in answers]
            assert 201 in statuses, [a.body for a in answers]
            for answer in answers:
                if answer.status == 409:
                    assert ("left to pay" in answer.body["detail"] or "same moment" in answer.body["detail"]), answer.body
            with session_factory(engine)() as s:
                held = Counter(s.scalars(select(models.PaymentItemLine.line_id).join(
                    models.PaymentItem, models.PaymentItem.id == models.PaymentItemLine.item_id)
                    .where(models.PaymentItem.status != "cancelled")))
                approved = set(s.scalars(select(models.DecisionLine.id).where(models.DecisionLine.status == "approved")))
                assert [line for line, n in held.items() if n > 1] == [], "a line in two runs"
                assert set(held) == approved, "every approved line in exactly one run"
                assert len(set(s.scalars(select(models.LiveLineClaim.line_id)))) == len(approved)
                assert payments.check(s) == []
    finally:
        engine.dispose()
