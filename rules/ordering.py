"""Deciding claims in order: the loop every submission runs, with no database.

Claims are decided one after the other as they arrived. Each sees the totals its
member's earlier claims moved and the bills already decided, so a batch decides
exactly as the same claims sent one by one would, and the second claim of a bill is a
duplicate. The caller loads the totals and the bills decided before, and stores what
comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, MutableSet
from dataclasses import dataclass

from claims.accumulators import MemberAccumulators
from claims.cases import Claim
from claims.decision import Decision
from rules.engine import Engine


@dataclass(slots=True)
class Decided:
    claim: Claim
    decision: Decision
    duplicate: bool
    engine: Engine


def decide_in_order(
    claims: Iterable[Claim],
    engine_for: Callable[[Claim], Engine],
    totals: MutableMapping[str, MemberAccumulators],
    decided_bills: MutableSet[tuple[str, str]],
) -> list[Decided]:
    """Decide ``claims`` in order; ``totals`` (by member id) and ``decided_bills`` are updated in place."""
    out: list[Decided] = []
    for claim in claims:
        engine = engine_for(claim)
        key = claim.settlement.bill_key
        duplicate = key in decided_bills
        member_totals = totals.setdefault(claim.member.id, MemberAccumulators())
        decision = engine.adjudicate(claim, member_totals, duplicate)
        member_totals.apply(decision.changes)  # the member's next claim sees them
        if not duplicate:
            decided_bills.add(key)
        out.append(Decided(claim, decision, duplicate, engine))
    return out
