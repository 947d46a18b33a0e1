"""Engine.standing: where a member stands on a day, read from totals by the plan's own formulas."""

from __future__ import annotations

import copy
import datetime as dt

from claims.accumulators import MemberAccumulators
from claims.members import Enrollment, HardshipCategory, HardshipRegistration, Member
from rules.document import load_plan, validate_plan
from rules.engine import Engine, scopes_on
from rules.facts import standing_facts

PERIOD = Enrollment(dt.date(2026, 1, 1), dt.date(2026, 12, 31), dt.date(2025, 12, 1))
DAY = dt.date(2026, 6, 1)


def standing(engine: Engine, totals: dict, reserved: dict | None = None, hardship=None, enrollments=(PERIOD,)):
    facts, membership = standing_facts(Member("M1"), enrollments, hardship, DAY)
    found = engine.standing(facts, scopes_on(membership, DAY), MemberAccumulators(totals),
                            MemberAccumulators(reserved or {}))
    return {b.benefit.code: b for b in found}


def test_the_figures_are_the_totals_under_the_keys_the_formulas_move() -> None:
    period, year = PERIOD.period_key, "2026"
    got = standing(Engine(), {
        ("MA_IP", "base", period): 12_000_00, ("MA_IP", "paid", period): 5_000_00,
        ("MA_DA", "days", period): 30, ("MA_DA", "paid", period): 600_00,
        ("MA_CI", "disease:CI03", period): 1, ("MA_CI", "paid", period): 10_000_00,
        ("CIR", "paid", year): 1_000_00,
        ("MA_IP", "paid", "2025-01-01..2025-12-31"): 99_999_00,  # another period: not this one's
    }, reserved={("MA_IP", "paid", period): 1_000_00, ("MA_DA", "days", period): 10})
    ip = got["MA_IP"].standing
    assert (ip.paid, ip.reserved, ip.cap, ip.left, ip.base_counted, ip.next_rate) == (
        4_000_00, 1_000_00, 500_000_00, 495_000_00, 12_000_00, "0.50")
    da = got["MA_DA"].standing
    assert (da.days_paid, da.days_reserved, da.max_days, da.days_left) == (20, 10, 180, 150)
    ci = got["MA_CI"].standing
    assert [g.disease for g in ci.grants] == ["CI03"] and ci.grants_left == 20 and ci.cap is None
    cir = got["CIR"]
    assert (cir.closed_by, cir.standing.paid, cir.standing.cap) == ("NOT_HARDSHIP_REGISTERED", 1_000_00, None)
    assert all(got[c].closed_by is None for c in ("MA_IP", "MA_DA", "MA_CI"))


def test_the_cap_of_relief_is_the_category_of_the_day_and_accident_is_closed() -> None:
    near = HardshipRegistration(HardshipCategory.NEAR_DIBAO, True, dt.date(2024, 1, 1))
    assert standing(Engine(), {}, hardship=near)["CIR"].standing.cap == 40_000_00
    accident = HardshipRegistration(HardshipCategory.ACCIDENT, True, dt.date(2024, 1, 1))
    cir = standing(Engine(), {}, hardship=accident)["CIR"]
    assert (cir.closed_by, cir.standing.cap) == ("HARDSHIP_CATEGORY_NOT_ELIGIBLE", None)


def test_past_a_last_band_that_ends_no_rate_is_left() -> None:
    document = copy.deepcopy(load_plan().content)
    document["benefits"][0]["amount"]["bands"][-1]["to"] = "300000"
    engine = Engine(validate_plan(document))
    at = lambda base: standing(engine, {("MA_IP", "base", PERIOD.period_key): base})["MA_IP"].standing.next_rate
    assert (at(299_999_99), at(300_000_00)) == ("1.00", None)


def test_not_enrolled_closes_the_mutual_aid_lines() -> None:
    got = standing(Engine(), {}, enrollments=())
    assert {c: got[c].closed_by for c in ("MA_IP", "MA_DA", "MA_CI")} == dict.fromkeys(("MA_IP", "MA_DA", "MA_CI"),
                                                                                       "NOT_ENROLLED")
