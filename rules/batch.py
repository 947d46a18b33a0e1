"""Batch adjudication of a case file (spec/case-format.md): no database, no server.

Cases are decided in file order; members with the same id share accumulators across
the file, and a bill counts as adjudicated once any case has decided it. A malformed
line becomes an ``invalid`` decision naming its line and field and does not stop the
others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from claims.accumulators import Ledger
from claims.cases import parse_claim
from claims.decision import ClaimStatus, Decision
from claims.errors import BillInconsistent, InvalidCase
from rules.engine import Engine


def decide_line(engine: Engine, ledger: Ledger, line_no: int, text: str) -> Decision:
    """Decide one line of a case file and count it in the ledger."""
    raw: Any = None
    try:
        raw = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as err:
        return engine.rejected(None, InvalidCase("case", f"line {line_no}: not JSON: {err.msg}"), invalid=True)  # type: ignore[arg-type]
    case_id = raw.get("case_id") if isinstance(raw, dict) and isinstance(raw.get("case_id"), str) else None
    try:
        claim = parse_claim(raw)
    except InvalidCase as err:
        return engine.rejected(case_id, InvalidCase(err.field, f"line {line_no}: {err.message}"), invalid=True)  # type: ignore[arg-type]
    except BillInconsistent as err:
        return engine.rejected(case_id, err)  # type: ignore[arg-type]
    key = claim.settlement.bill_key
    decision = engine.adjudicate(claim, ledger.for_member(claim.member.id), ledger.is_duplicate(key))
    ledger.record(claim.member.id, key, decision)
    return decision


def adjudicate_lines(engine: Engine, lines: Iterable[str], ledger: Ledger | None = None) -> Iterator[Decision]:
    """Decide every non-blank line, in order (in memory unless given another ledger)."""
    ledger = ledger if ledger is not None else Ledger()
    for line_no, text in enumerate(lines, start=1):
        if text.strip():
            yield decide_line(engine, ledger, line_no, text)


def any_invalid(decisions: Iterable[Decision]) -> bool:
    return any(d.status is ClaimStatus.INVALID for d in decisions)
