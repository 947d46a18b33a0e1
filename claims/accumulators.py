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


class DiskLedger(Ledger):
    """A ``Ledger`` kept in a temporary SQLite file instead of in memory.

    A batch must remember every bill and every member's totals until the file ends,
    so an in-memory ledger grows with the file (about 0.4 KB a member and 0.1 KB a
    bill). This one keeps them on disk behind a small page cache, so a run's memory
    stays flat however long the file; ``claims adjudicate`` uses it. The file is
    deleted when the ledger is closed (or the process ends).
    """

    def __init__(self, cache_kib: int = 2048) -> None:
        super().__init__()
        import sqlite3
        import tempfile

        self._file = tempfile.NamedTemporaryFile(prefix="claims-ledger-", suffix=".db")
        self._db = sqlite3.connect(self._file.name, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=MEMORY", f"cache_size=-{cache_kib}"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE bills (bill TEXT PRIMARY KEY) WITHOUT ROWID")
        self._db.execute("CREATE TABLE totals (member TEXT, key INTEGER, value INTEGER, PRIMARY KEY (member, key)) WITHOUT ROWID")
        self._db.execute("BEGIN")  # one long transaction: nothing here needs to survive a crash
        self._key_ids: dict[AccumulatorKey, int] = {}
        self._key_list: list[AccumulatorKey] = []

    def for_member(self, member_id: str) -> MemberAccumulators:
        rows = self._db.execute("SELECT key, value FROM totals WHERE member = ?", (member_id,)).fetchall()
        return MemberAccumulators({self._key_list[k]: v for k, v in rows}) if rows else self._NONE

    def is_duplicate(self, bill_key: tuple[str, str]) -> bool:
        return self._db.execute("SELECT 1 FROM bills WHERE bill = ?", (self._bill(bill_key),)).fetchone() is not None

    def record(self, member_id: str, bill_key: tuple[str, str], decision: Decision) -> None:
        if decision.status in (ClaimStatus.REJECTED, ClaimStatus.INVALID):
            return
        self._db.execute("INSERT OR IGNORE INTO bills VALUES (?)", (self._bill(bill_key),))
        rows = []
        for c in decision.changes:
            key = (c.benefit, c.measure, c.scope)
            kid = self._key_ids.get(key)
            if kid is None:
                kid = self._key_ids[key] = len(self._key_list)
                self._key_list.append(key)
            rows.append((member_id, kid, c.delta))
        if rows:
            self._db.executemany(
                "INSERT INTO totals VALUES (?, ?, ?) ON CONFLICT (member, key) DO UPDATE SET value = value + excluded.value",
                rows,
            )

    def close(self) -> None:
        self._db.close()
        self._file.close()
