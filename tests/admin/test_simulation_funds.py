"""Simulating a draft that changes how relief is split reports the change in charges per source, to the fen."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

from claims.accumulators import Ledger
from claims.cases import parse_claim
from claims.decision import LineStatus
from claims.errors import BillInconsistent, InvalidCase
from claims.funding import relief_shares
from claims.money import format_fen
from rules.document import load_plan, validate_plan
from rules.engine import Engine
from rules.simulation import simulate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "cases.jsonl"


def _approved_relief_lines() -> list[int]:
    """The oracle: every approved CIR line's amount when the example cases are decided in order."""
    engine, ledger, amounts = Engine(load_plan()), Ledger(), []
    for text in EXAMPLES.read_text(encoding="utf-8").splitlines():
        try:
            claim = parse_claim(json.loads(text, parse_float=Decimal))
        except (InvalidCase, BillInconsistent):
            continue
        key = claim.settlement.bill_key
        decision = engine.adjudicate(claim, ledger.for_member(claim.member.id), ledger.is_duplicate(key))
        ledger.record(claim.member.id, key, decision)
        amounts += [ln.amount for ln in decision.lines if ln.benefit == "CIR" and ln.status is LineStatus.APPROVED]
    return amounts


def test_a_changed_share_is_reported_per_source_to_the_fen():
    shipped = load_plan().content
    draft = copy.deepcopy(shipped)
    # Three decimals: a share of 1,296.00 yuan falls between fen (431.568 -> 431.57).
    draft["funding"]["relief_shares"] = [{"source": "central", "rate": "0.333"}, {"source": "region", "rate": "0.467"},
                                         {"source": "league", "rate": "0.200"}]
    new_shares = validate_plan(draft).funding.relief_shares
    old_shares = load_plan().funding.relief_shares
    lines = _approved_relief_lines()
    assert len(lines) >= 2  # the examples do pay relief
    assert any(fen % 100 for a in lines for _, fen in relief_shares(a, new_shares))  # and the split is to the fen

    report = simulate(str(EXAMPLES), draft, [(None, shipped)], workers=1)
    by_source = report["by_source"]
    for source in ("central", "region", "league"):
        before = sum(dict(relief_shares(a, old_shares))[source] for a in lines)
        after = sum(dict(relief_shares(a, new_shares))[source] for a in lines)
        assert by_source[source]["baseline"] == format_fen(before), source
        assert by_source[source]["draft"] == format_fen(after), source
        assert by_source[source]["change"] == format_fen(after - before), source
    assert by_source["central"]["change"].startswith("-") and by_source["region"]["change"] != "0.00"
    # Mutual aid is not touched, and nothing the members get changes: only who pays it.
    assert by_source["mutual_aid"]["change"] == "0.00"
    assert report["payout"]["change"] == "0.00" and report["claims_changed"] == 0
