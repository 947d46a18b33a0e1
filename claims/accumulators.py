"""Accumulators: a member's running totals, read by the engine and moved by decisions.

The engine never stores anything. It reads a member's totals through
``AccumulatorReader`` and returns the changes a decision makes
(``Decision.changes``); whoever owns the totals (the batch ``Ledger`` below, or the
database in the service) applies them. Approved and pended lines both count: a pended
line reserves its amount until a reviewer decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from claims.decision import AccumulatorChange, ClaimStatus, Decision

AccumulatorKey = tuple[str, str, str]  # (benefit, measure, scope)


class AccumulatorReader(Protocol):
    def get(self, benefit: str, measure: str, scope: str) -> int: ...


class MemberAccumulators:
    """One member's totals in memory (the batch CLI, simulations, tests)."""

    __slots__ = ("values",)

    def __init__(self, values: dict[AccumulatorKey, int] | None = None) -> None:
        self.values: dict[AccumulatorKey, int] = dict(values or {})

    def get(self, benefit: str, measure: str, scope: str) -> int:
        return self.values.get((benefit, measure, scope), 0)

    def apply(self, changes: Iterable[AccumulatorChange]) -> None:
        for c in changes:
            key = (c.benefit, c.measure, c.scope)
            self.values[key] = self.values.get(key, 0) + c.delta


class Ledger:
    """Everything a batch run remembers between claims: totals and bills seen.

    It grows with the members and bills of the file (the plan needs every member's
    totals and every bill ever decided), so it is kept compact: a member appears only
    once a decision moves one of their totals, accumulator keys are shared between
    members, and a bill is one string.
    """

    _NONE = MemberAccumulators()  # what a member with no totals yet reads; never written to

    def __init__(self) -> None:
        self.members: dict[str, MemberAccumulators] = {}
        self.adjudicated_bills: set[str] = set()
        self._keys: dict[AccumulatorKey, AccumulatorKey] = {}

    def for_member(self, member_id: str) -> MemberAccumulators:
        return self.members.get(member_id, self._NONE)

    @staticmethod
    def _bill(bill_key: tuple[str, str]) -> str:
        return f"{bill_key[0]}\x1f{bill_key[1]}"

    def is_duplicate(self, bill_key: tuple[str, str]) -> bool:
        return self._bill(bill_key) in self.adjudicated_bills

    def record(self, member_id: str, bill_key: tuple[str, str], decision: Decision) -> None:
        """Count a decision; rejected and invalid ones count for nothing."""
        if decision.status in (ClaimStatus.REJECTED, ClaimStatus.INVALID):
            return
        self.adjudicated_bills.add(self._bill(bill_key))
        changes = decision.changes
        if not changes:
            return
        totals = self.members.get(member_id)
        if totals is None:
            totals = self.members[member_id] = MemberAccumulators()
        values, keys = totals.values, self._keys
        for c in changes:
            key = (c.benefit, c.measure, c.scope)
            key = keys.setdefault(key, key)
            values[key] = values.get(key, 0) + c.delta
