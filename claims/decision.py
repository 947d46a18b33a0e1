"""Decisions: one per claim, one benefit line per benefit of the plan, and the trace."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from claims.money import format_fen


class LineStatus(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    PENDED = "pended"
    NOT_APPLICABLE = "not_applicable"


class ClaimStatus(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    PENDED = "pended"
    REJECTED = "rejected"  # the bill failed a section-2 check
    INVALID = "invalid"  # the claim record itself is malformed


# A claim whose settlement its hospital cancelled: its lines stay as decided (the record
# of what was decided), but it holds nothing in the totals and pays nothing. A stored
# claim's status only: the engine never decides it, so it is not a ClaimStatus.
CLAIM_CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class AccumulatorChange:
    """One running total moved by one benefit line (undone if a reviewer denies it)."""

    benefit: str
    measure: str  # 'base', 'paid', 'days', 'disease:CI01'...
    scope: str  # the period ('2026-01-01..2026-12-31') or calendar year ('2026')
    delta: int


@dataclass(slots=True)
class BenefitLine:
    benefit: str
    status: LineStatus
    amount: int = 0  # fen
    reasons: list[str] = field(default_factory=list)
    changes: list[AccumulatorChange] = field(default_factory=list)

    @property
    def counts(self) -> bool:
        """Approved and pended lines pay (or reserve) and move the accumulators."""
        return self.status is LineStatus.APPROVED or self.status is LineStatus.PENDED

    def to_json(self) -> dict[str, Any]:
        return {
            "benefit": self.benefit,
            "status": self.status.value,
            "amount": format_fen(self.amount),
            "reasons": list(self.reasons),
        }


@dataclass(slots=True)
class Decision:
    case_id: str
    status: ClaimStatus
    plan_version: str | None = None
    lines: list[BenefitLine] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # claim-level (rejected / invalid)
    field: str | None = None
    message: str | None = None

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines if line.counts)

    @property
    def changes(self) -> list[AccumulatorChange]:
        return [c for line in self.lines for c in line.changes]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case_id": self.case_id,
            "status": self.status.value,
            "total": format_fen(self.total),
            "plan_version": self.plan_version,
            "lines": [line.to_json() for line in self.lines],
        }
        if self.status in (ClaimStatus.REJECTED, ClaimStatus.INVALID):
            out["reasons"] = list(self.reasons)
            out["field"] = self.field
            out["message"] = self.message
        out["trace"] = self.trace
        return out


def approved_for(status: str, amount: int, *, cancelled: bool = False) -> int:
    """Fen a line is approved for: its amount if it stands approved on a claim not cancelled, else nothing.

    The one answer the funds charge, payments pay up to and ``claims check`` holds them
    to; ``status`` and ``amount`` as the line stands now (``claim_aggregate.lines_now``).
    """
    return amount if status == LineStatus.APPROVED and not cancelled else 0


def claim_status(lines: list[BenefitLine]) -> ClaimStatus:
    """pended if any line is pended; approved if anything is paid; denied otherwise."""
    if any(line.status is LineStatus.PENDED for line in lines):
        return ClaimStatus.PENDED
    # No line is pended here, so the approved ones are all that pay.
    if any(line.amount > 0 and line.status is LineStatus.APPROVED for line in lines):
        return ClaimStatus.APPROVED
    return ClaimStatus.DENIED
