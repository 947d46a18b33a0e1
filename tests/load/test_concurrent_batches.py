"""Batches of claims sent at once through the real HTTP server, on SQLite and PostgreSQL.

Six batches arrive together, each with two claims of member C and two of member D,
half of them listing C first and half D first: a server that locked members in the
order it met them could deadlock two batches (each holding one member and waiting for
the other). The members are on the hardship register and every bill is a lung cancer
of 60,000.00 or more, so the MA_CI grant (once per disease) and the CIR yearly cap
(40,000.00, 70% of what MA_IP leaves) run out within the batches. Twins C2 and D2 then send the same bills one by one, in the order the
server decided C's and D's (claim ids ascend in decision order): every decision and
every accumulator must be the same, and no cap passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from .conftest import database
from .live import RECEIVED, YEAR, Keys, Server, all_at_once, auth, bill, client, seed, send
from .test_concurrency import _accumulators, _decision, _line_sum, _post_settlement

LUNG_CANCER = "C34.900"
BATCHES = 6
PER_MEMBER = 2  # claims of each member in each batch


@pytest.fixture(scope="module")
def served(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys, str]]:
    workdir: Path = tmp_path_factory.mktemp(f"batches-{backend}")
    with database(backend, workdir) as url:
        keys = seed(url, ["C", "D", "C2", "D2"], hardship_registered_on=f"{YEAR}-01-02")
        with Server(url, workdir, workers=2) as server:
            yield server, keys, url


def test_batches_sent_at_once_over_shared_members_never_deadlock_or_pass_a_cap_and_decide_as_one_by_one(served):
    server, keys, url = served
    n = BATCHES * PER_MEMBER
    settlements: dict[str, list[int]] = {}
    with client(server.base_url) as http:
        for member in ("C", "D", "C2", "D2"):
            settlements[member] = [
                _post_settlement(http, keys.hospital, bill(f"{member}-{i}", f"{60000 + 1000 * i}.00", patient=member, diag_code=LUNG_CANCER,
                                                           begndate=f"{YEAR}-03-{1 + i:02d}",
                                                           enddate=f"{YEAR}-03-{11 + i:02d}"))
                for i in range(n)
            ]

    def batch(k: int) -> list[dict]:
        take = slice(k * PER_MEMBER, (k + 1) * PER_MEMBER)
        c = [{"member_id": "C", "settlement_id": s, **RECEIVED} for s in settlements["C"][take]]
        d = [{"member_id": "D", "settlement_id": s, **RECEIVED} for s in settlements["D"][take]]
        return c + d if k % 2 == 0 else d + c

    answers = all_at_once(server.base_url, [
        lambda http, k=k: send(http, "POST", "/v1/claims/batch", json={"claims": batch(k)}, headers=auth(keys.officer))
        for k in range(BATCHES)
    ])
    refused = [(a.status, a.body or a.error) for a in answers if a.status != 201]
    assert not refused, f"batches sent at once were not all decided: {refused}"
    decided = sorted((c for a in answers for c in a.body["claims"]), key=lambda c: c["id"])

    with client(server.base_url) as http:
        for member in ("C", "D"):
            at_once = [c for c in decided if c["member_id"] == member]
            assert len(at_once) == n
            one_by_one = []
            for claim in at_once:
                twin_settlement = settlements[f"{member}2"][settlements[member].index(claim["settlement_id"])]
                answer = send(http, "POST", "/v1/claims", headers=auth(keys.officer),
                              json={"member_id": f"{member}2", "settlement_id": twin_settlement, **RECEIVED})
                assert answer.status == 201, answer.body or answer.error
                one_by_one.append(answer.body)
            assert [_decision(c) for c in at_once] == [_decision(c) for c in one_by_one]
            assert _accumulators(url, member) == _accumulators(url, f"{member}2")
            assert _line_sum(at_once, "MA_CI") == Decimal("10000.00")  # one grant for lung cancer
            assert _line_sum(at_once, "CIR") == Decimal("40000.00")  # the near_dibao yearly cap, reached, not passed
