"""Funding as rule data: the plan's funding section, the split of a relief line, pass-on and release (no database)."""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest

from claims.funding import DEFAULT_FUNDING, Funding, cover, funding_of, release, relief_shares
from rules.document import PlanError, load_plan, validate_plan

SHARES = DEFAULT_FUNDING.relief_shares


def _document() -> dict:
    return copy.deepcopy(load_plan().content)


def _errors(document: dict) -> list[tuple[str, str]]:
    with pytest.raises(PlanError) as err:
        validate_plan(document)
    return err.value.errors


def test_the_shipped_default_funds_as_funds_md_says():
    plan = load_plan()
    assert funding_of(plan) == DEFAULT_FUNDING
    assert (plan.funding.contribution, plan.funding.union_subsidy) == (9000, 1000)
    assert plan.funding.relief_shares == (("central", Fraction(1, 2)), ("region", Fraction(3, 10)),
                                          ("league", Fraction(1, 5)))
    assert (plan.funding.fallback, plan.funding.when_exhausted) == ("charity", "pend")
    assert {b: plan.funding.fund_of(b) for b in ("MA_IP", "MA_DA", "MA_CI", "CIR")} == {
        "MA_IP": "mutual_aid", "MA_DA": "mutual_aid", "MA_CI": "mutual_aid", "CIR": "relief"}


def test_a_plan_without_a_funding_section_is_funded_by_the_default_and_keeps_its_version():
    document = _document()
    del document["funding"]
    plan = validate_plan(document)
    assert plan.funding is DEFAULT_FUNDING
    assert "funding" not in plan.content  # an older stored version hashes as it always did
    assert plan.version != load_plan().version


def test_a_changed_share_is_compiled_into_the_plans_funding():
    document = _document()
    document["funding"]["relief_shares"] = [{"source": "central", "rate": "0.60"}, {"source": "region", "rate": "0.40"}]
    funding = validate_plan(document).funding
    assert funding.relief_shares == (("central", Fraction(3, 5)), ("region", Fraction(2, 5)))
    assert funding.shares_of("CIR", 1001) == [("central", 601), ("region", 400)]


@pytest.mark.parametrize("change, path", [
    (lambda f: f["relief_shares"][1].update(rate="0.35"), "funding.relief_shares"),  # adds up to 1.05
    (lambda f: f["relief_shares"][1].update(rate="1.30"), "funding.relief_shares[1].rate"),
    (lambda f: f["relief_shares"][1].update(rate=0.3), "funding.relief_shares[1].rate"),  # a binary float
    (lambda f: f["relief_shares"][1].update(source="province"), "funding.relief_shares[1].source"),
    (lambda f: f["relief_shares"][2].update(source="central"), "funding.relief_shares[2].source"),  # twice
    (lambda f: f["funds"].update(MA_XX="mutual_aid"), "funding.funds.MA_XX"),  # not a benefit of the plan
    (lambda f: f["funds"].update(CIR="lottery"), "funding.funds.CIR"),
    (lambda f: f["contributions"].update(members="-90.00"), "funding.contributions.members"),
    (lambda f: f.update(fallback="province"), "funding.fallback"),
    (lambda f: f.update(when_exhausted="borrow"), "funding.when_exhausted"),
])
def test_a_bad_funding_section_is_refused_at_its_path(change, path):
    document = _document()
    change(document["funding"])
    assert path in [p for p, _ in _errors(document)]


def test_the_shares_add_up_to_the_line_the_rounding_remainder_to_the_first_source():
    # 0.03 yuan: 1.5 -> 2, 0.9 -> 1, 0.6 -> 1 fen make 4; the first source gives back the extra fen.
    assert relief_shares(3, SHARES) == [("central", 1), ("region", 1), ("league", 1)]
    # 540.03 yuan: 27,001.5 -> 27,002; 16,200.9 -> 16,201; 10,800.6 -> 10,801: 54,004, so central 27,001.
    assert relief_shares(54003, SHARES) == [("central", 27001), ("region", 16201), ("league", 10801)]
    # 0.01 yuan: 0.5 -> 1, 0.3 -> 0, 0.2 -> 0.
    assert relief_shares(1, SHARES) == [("central", 1), ("region", 0), ("league", 0)]
    for amount in range(0, 2000):
        assert sum(fen for _, fen in relief_shares(amount, SHARES)) == amount


def test_a_source_short_of_its_share_passes_what_it_cannot_cover_to_the_fallback():
    parts = relief_shares(10000, SHARES)  # 5,000 / 3,000 / 2,000
    assert cover(parts, {"central": 10**9, "region": 1200, "league": 0, "charity": 3800}, "charity") == [
        ("central", 5000), ("region", 1200), ("charity", 3800)]


def test_when_the_fallback_cannot_cover_what_is_passed_to_it_nothing_is_charged():
    parts = relief_shares(10000, SHARES)
    assert cover(parts, {"central": 10**9, "region": 1200, "league": 0, "charity": 3799}, "charity") is None


def test_the_fallback_s_own_share_counts_against_its_pool_too():
    funding = Funding(relief_shares=(("central", Fraction(1, 2)), ("charity", Fraction(1, 2))))
    parts = funding.shares_of("CIR", 1000)
    assert cover(parts, {"central": 100, "charity": 900}, "charity") == [("central", 100), ("charity", 900)]
    assert cover(parts, {"central": 100, "charity": 899}, "charity") is None


def test_a_reduction_gives_back_the_fallback_s_money_first_then_the_sources_last_to_first():
    held = {"central": 5000, "region": 1200, "charity": 3800}
    assert release(held, 4000, DEFAULT_FUNDING.release_order) == [("charity", 3800), ("region", 200)]
    assert release(held, 10000, DEFAULT_FUNDING.release_order) == [("charity", 3800), ("region", 1200),
                                                                    ("central", 5000)]
    assert release({None: 900}, 300, DEFAULT_FUNDING.release_order) == [(None, 300)]  # the mutual-aid pool
    with pytest.raises(ValueError):
        release(held, 10001, DEFAULT_FUNDING.release_order)


def test_mutual_aid_is_one_pool_charged_the_whole_line():
    assert DEFAULT_FUNDING.shares_of("MA_IP", 12345) == [(None, 12345)]
    assert DEFAULT_FUNDING.shares_of("NEW_BENEFIT", 5) == [(None, 5)]  # a benefit the section does not name
