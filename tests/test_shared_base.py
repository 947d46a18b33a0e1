"""Lines paying out of a bill's in-policy self-pay B never pay more than B together.

Two guards, each proven on its own: validation refuses a document under which they
could (tests/test_plan_document.py), and the engine cuts them at B whatever the
document says (here, with documents that bypass validation). The property test runs
random valid documents over random claims: the guard never has to act, and the lines
sharing B never sum above it.
"""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rules.document
from builders import LUNG_CANCER, adjudicate, decide, first_time, hardship, make_case, outcome
from claims.reasons import reason_text
from rules.document import Plan, PlanError, load_plan, validate_plan
from rules.engine import Engine

SHARES = ("MA_IP", "CIR")  # the default plan's lines paying out of B


def relief_case(b: str, category: str = "near_dibao"):
    """A renewing member with a catalog disease on the hardship register: every line of the default plan pays."""
    return make_case(b, diag_code=LUNG_CANCER, hardship=hardship(category))


def relief_not_after_the_share(monkeypatch) -> Engine:
    """The default plan with CIR no longer after MA_IP, past validation (which refuses it)."""
    document = copy.deepcopy(load_plan().content)
    document["benefits"][3]["amount"]["after"] = []
    monkeypatch.setattr(rules.document, "_overpay_errors", lambda document: [])
    return Engine(validate_plan(document))


def test_the_engine_cuts_relief_to_what_the_share_left_of_b_when_validation_is_bypassed(monkeypatch):
    engine = relief_not_after_the_share(monkeypatch)
    decision = decide(engine, relief_case("1000.00"))
    # MA_IP 40% of 1,000 = 400; CIR would pay 70% of all of B = 700, but only 600 of B is left.
    lines = outcome(decision)
    assert lines["MA_IP"] == ("approved", "400.00", [])
    assert lines["CIR"] == ("approved", "600.00", ["SHARED_BASE_LIMIT"])
    relief = next(line for line in decision.lines if line.benefit == "CIR")
    assert [(c.measure, c.delta) for c in relief.changes] == [("paid", 600_00)]  # the yearly cap counts what was paid
    trace = next(t for t in decision.trace if t["rule"] == "CIR.amount")
    assert trace["numbers"]["base_left"] == "600.00"


def test_the_engine_denies_a_line_when_earlier_lines_took_all_of_b(monkeypatch):
    document = copy.deepcopy(load_plan().content)
    for band in document["benefits"][0]["amount"]["bands"]:
        band["rate"] = "1.00"  # valid on its own: MA_IP pays all of B
    document["benefits"][3]["amount"]["after"] = []
    monkeypatch.setattr(rules.document, "_overpay_errors", lambda document: [])
    lines = outcome(decide(Engine(validate_plan(document)), relief_case("1000.00", "dibao")))
    assert lines["MA_IP"] == ("approved", "1000.00", [])
    assert lines["CIR"] == ("denied", "0.00", ["ZERO_BASE"])


def test_the_engine_cuts_a_share_above_b_in_a_document_built_by_hand():
    # model_copy does not validate: a band rate of 1.5 gets past the Rate type too.
    document = load_plan().document
    ma_ip = document.benefits[0]
    band = ma_ip.amount.bands[0].model_copy(update={"rate": Decimal("1.5")})
    amount = ma_ip.amount.model_copy(update={"bands": [band, *ma_ip.amount.bands[1:]]})
    benefits = [ma_ip.model_copy(update={"amount": amount}), *document.benefits[1:]]
    engine = Engine(Plan(document.model_copy(update={"benefits": benefits})))
    lines = outcome(decide(engine, relief_case("1000.00")))
    assert lines["MA_IP"] == ("approved", "1000.00", ["SHARED_BASE_LIMIT"])  # not 1,500.00
    assert lines["CIR"] == ("denied", "0.00", ["ZERO_BASE"])


def test_the_shared_base_reason_has_a_chinese_and_an_english_text():
    text = reason_text("SHARED_BASE_LIMIT")
    assert text.zh.strip() and text.en.strip()


def test_under_the_default_plan_the_guard_never_cuts(engine):
    # B from small to past every band and cap: MA_IP and CIR stay within B on their own.
    for b in ("0.01", "150.00", "1000.00", "84000.02", "700000.00"):
        for category in ("dibao", "near_dibao"):
            lines = outcome(decide(engine, relief_case(b, category)))
            assert all("SHARED_BASE_LIMIT" not in reasons for _, _, reasons in lines.values())


# ------------------------------------------------------------------ random valid documents

CATEGORIES = ("dibao", "dibao_unenrolled", "near_dibao", "accident")
RATES = st.integers(0, 100).map(lambda n: f"{Decimal(n) / 100:.2f}")
YUAN = st.integers(0, 2_000_000_00).map(lambda fen: f"{fen // 100}.{fen % 100:02d}")
HALVED = {"id": "halved", "step": "amount", "when": {"renewing": False}, "then": "reduce", "factor": "0.5",
          "reason": "WAITING_PERIOD_REDUCED"}


@st.composite
def banded(draw):
    edges = sorted(set(draw(st.lists(st.integers(1, 300_000), max_size=4))))
    starts = [0, *edges]
    bands = [{"from": str(lo), **({"to": str(hi)} if hi is not None else {}), "rate": draw(RATES)}
             for lo, hi in zip(starts, [*edges, draw(st.sampled_from([None, 400_000]))])]
    minimum = draw(st.integers(0, 1_000_00))
    amount = {"kind": "banded_share", "bands": bands, "minimum_payout": f"{minimum // 100}.{minimum % 100:02d}",
              "accumulate_over": draw(st.sampled_from(["period", "calendar_year"]))}
    if draw(st.booleans()):
        cap = draw(st.integers(minimum, 600_000_00))
        amount["cap"] = f"{cap // 100}.{cap % 100:02d}"
    return amount


@st.composite
def residual(draw, after: list[str]):
    categories = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True))
    return {"kind": "residual_share", "after": after,
            "accumulate_over": draw(st.sampled_from(["period", "calendar_year"])),
            "by_hardship_category": {c: {"rate": draw(RATES), **({"cap": draw(YUAN)} if draw(st.booleans()) else {})}
                                     for c in categories}}


@st.composite
def documents(draw):
    """1-3 lines sharing B, maybe a daily allowance, in any order; mostly valid, sometimes not.

    Mostly: a banded share first and residual shares after every earlier share (and
    maybe other lines, which only leave less). Sometimes a banded share later on, or
    an 'after' missing lines: validation must refuse those, and the test keeps only
    what it accepts, so a gap in validation shows as a line the guard had to cut.
    """
    codes = [f"S{i}" for i in range(draw(st.integers(1, 3)))] + (["DA"] if draw(st.booleans()) else [])
    order = draw(st.permutations(codes))
    benefits, earlier, shares_so_far = [], [], []
    for code in order:
        if code == "DA":
            amount = {"kind": "per_day", "rate_by_membership_year": {"1": draw(YUAN)}}
        elif draw(st.integers(0, 5)) == 0 if shares_so_far else draw(st.booleans()):
            amount = draw(banded())
        elif draw(st.integers(0, 5)) == 0:
            amount = draw(residual(draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []))
        else:
            extra = [c for c in earlier if c not in shares_so_far and draw(st.booleans())]
            amount = draw(residual(draw(st.permutations(shares_so_far + extra))))
        if code != "DA":
            shares_so_far.append(code)
        benefits.append({"code": code, "programme": "p", "rules": [HALVED] if draw(st.booleans()) else [],
                         "amount": amount})
        earlier.append(code)
    return {"name": "shares", "benefits": benefits}


@st.composite
def claims(draw):
    """1-4 claims of one member (each one's totals the earlier ones left), any B, any hardship."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        category = draw(st.sampled_from([None, *CATEGORIES]))
        out.append(make_case(
            draw(st.sampled_from(["0.00", "0.01", "199.99", "1000.00"]) | YUAN),
            enrollments=draw(st.sampled_from([None, first_time("2026-03-01")])),  # renewing, or within 90 days
            hardship=hardship(category) if category else None,
        ))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(document=documents(), cases=claims())
def test_lines_sharing_b_never_pay_more_than_b_under_any_valid_document(document, cases):
    try:
        plan = validate_plan(document)
    except PlanError:
        assume(False)  # refused documents never decide a claim
    shares = {b.code for b in plan.document.benefits if b.amount.kind in ("banded_share", "residual_share")}
    for case, decision in zip(cases, adjudicate(Engine(plan), *cases)):
        b = int(Decimal(case["bill"]["inscp_scp_amt"]) * 100) - int(Decimal(case["bill"]["fund_pay_sumamt"]) * 100)
        paid = [line for line in decision.lines if line.benefit in shares and line.counts]
        assert sum(line.amount for line in paid) <= max(0, b)
        assert all(line.amount > 0 for line in paid)
        # Validation alone kept them within B: the engine's guard never had to cut.
        assert not any("SHARED_BASE_LIMIT" in line.reasons for line in decision.lines)


@pytest.mark.parametrize("code", ["S0", "S1"])
def test_a_third_share_missing_either_earlier_share_from_its_after_is_refused(code):
    # The strategy's rule, checked against validation from the other side: drop one
    # earlier share from a residual share's 'after' and the document is refused.
    document = {"name": "shares", "benefits": [
        {"code": "S0", "programme": "p", "amount": {"kind": "banded_share", "bands": [{"from": "0", "rate": "0.5"}]}},
        {"code": "S1", "programme": "p", "amount": {"kind": "residual_share", "after": ["S0"],
                                                    "by_hardship_category": {"dibao": {"rate": "0.9"}}}},
        {"code": "S2", "programme": "p", "amount": {"kind": "residual_share", "after": ["S0", "S1"],
                                                    "by_hardship_category": {"dibao": {"rate": "0.9"}}}},
    ]}
    validate_plan(document)
    document["benefits"][2]["amount"]["after"].remove(code)
    with pytest.raises(PlanError) as err:
        validate_plan(document)
    assert [p for p, _ in err.value.errors] == ["benefits[2].amount.after"]
