"""The decide-in-order loop, with no database: what every submission runs."""

from __future__ import annotations

from builders import PNEUMONIA, adjudicate, make_case

from claims.accumulators import MemberAccumulators
from claims.cases import parse_claim
from rules.ordering import decide_in_order


def _claims(*cases):
    return [parse_claim(c) for c in cases]


def test_a_members_second_claim_continues_the_bands_from_the_first(engine):
    first, second = _claims(make_case("20000.00", member_id="A"), make_case("20000.00", member_id="A"))
    totals: dict[str, MemberAccumulators] = {}
    decided = decide_in_order([first, second], lambda _c: engine, totals, set())
    # 40% of 10,000 + 50% of 10,000; then 50% of 10,000 + 60% of 10,000.
    assert [d.decision.lines[0].amount for d in decided] == [900_000, 1_100_000]
    assert totals["A"].get("MA_IP", "paid", "2026-01-01..2026-12-31") == 2_000_000


def test_the_second_claim_of_a_bill_is_a_duplicate_and_moves_nothing(engine):
    case = make_case("1000.00", member_id="A", diag_code=PNEUMONIA)
    again = dict(case, case_id="again")
    totals: dict[str, MemberAccumulators] = {}
    bills: set[tuple[str, str]] = set()
    first, second = decide_in_order(_claims(case, again), lambda _c: engine, totals, bills)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.decision.status.value == "denied" and second.decision.changes == []
    assert bills == {first.claim.settlement.bill_key}


def test_a_bill_decided_before_the_batch_is_a_duplicate_within_it(engine):
    (claim,) = _claims(make_case("1000.00", member_id="A"))
    (decided,) = decide_in_order([claim], lambda _c: engine, {}, {claim.settlement.bill_key})
    assert decided.duplicate and decided.decision.total == 0


def test_deciding_in_order_equals_the_batch_command_on_the_same_cases(engine):
    cases = [make_case("30000.00", member_id=m, case_id=f"c{i}") for i, m in enumerate("ABAB")]
    by_loop = decide_in_order(_claims(*cases), lambda _c: engine, {}, set())
    by_batch = adjudicate(engine, *cases)
    assert [d.decision.to_json() for d in by_loop] == [d.to_json() for d in by_batch]
