"""Amount formulas (the amount step, default-plan.md sections 4-7).

Each formula is a kind a plan document can choose (``amount.kind``) with its numbers
in the document. It is prepared once per plan (amounts to fen, rates to integer
ratios) and then, per claim, reads the claim's facts and the member's accumulators and
returns the line's amount with its informational reasons and the accumulator changes
it makes, or the reason the amount step denies the line. Reductions (the waiting
period's x 0.5) come in already chosen by the rules engine; each formula applies them
where the plan puts them: after the minimum payout and before the cap.

All arithmetic is in integers: a rate r = num/den is applied as num x fen / den with
one half-up rounding where the plan rounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from claims.accumulators import AccumulatorReader
from claims.catalog import DiseaseCatalog
from claims.decision import AccumulatorChange, BenefitLine
from claims.money import format_fen, half_up_div
from claims.reasons import Reason
from rules.document import BandedShare, FixedPerDisease, PerDay, ResidualShare
from rules.facts import catalog_fact


def fen(amount: Decimal | None) -> int | None:
    """A document amount (an exact Decimal in yuan) in fen."""
    return None if amount is None else int(amount * 100)


def ratio(r: Decimal) -> tuple[int, int]:
    f = Fraction(r)
    return f.numerator, f.denominator


@dataclass(slots=True)
class AmountContext:
    code: str
    facts: dict[str, Any]
    accumulators: AccumulatorReader
    scopes: dict[str, str]  # 'period' / 'calendar_year' -> accumulator scope key
    reductions: list[tuple[tuple[int, int], str]]  # ((num, den), reason) of the reduce rules that held
    earlier: dict[str, BenefitLine]  # lines already decided in this claim
    explain: bool = True  # record the numbers used (the trace); simulations skip it
    base_left: int | None = None  # what earlier lines paying out of B left of it (None: B itself)


@dataclass(slots=True)
class AmountResult:
    amount: int = 0
    denied: str | None = None
    not_applicable: str | None = None
    reasons: list[str] = field(default_factory=list)
    changes: list[AccumulatorChange] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    explain: bool = True

    def pay(self, amount: int, *changes: AccumulatorChange) -> "AmountResult":
        """The line pays ``amount`` and moves these totals; an amount of 0.00 is no payment."""
        if amount == 0:
            return self.deny(Reason.ZERO_BASE)
        self.amount = amount
        self.changes = list(changes)
        return self

    def deny(self, reason: str) -> "AmountResult":
        # A denied line carries only its denial reason (section 3).
        self.denied = reason
        self.reasons = []
        return self


def _reduce(amount: int, ctx: AmountContext, result: AmountResult) -> int:
    for (num, den), reason in ctx.reductions:
        amount = half_up_div(amount * num, den)
        result.reasons.append(reason)
        if result.explain:
            result.numbers.setdefault("reductions", []).append({"factor": f"{num}/{den}", "after": format_fen(amount)})
    return amount


def _cap(amount: int, cap: int | None, paid: int, result: AmountResult) -> int | None:
    """``amount`` cut to what is left of the cap; None when nothing is left."""
    if cap is None:
        return amount
    left = cap - paid
    if result.explain:
        result.numbers["cap_left"] = format_fen(max(0, left))
    if left <= 0:
        return None
    if amount > left:
        result.reasons.append(Reason.CAP_APPLIED)
        return left
    return amount


def _within_base(amount: int, ctx: AmountContext, result: AmountResult) -> int:
    """``amount`` cut to what earlier lines of the claim left of B.

    Under a valid plan this never cuts (rules/document.py refuses a plan whose lines
    paying out of B could pay more than B together); it holds whatever the document
    says, so no plan, however it was made, pays a bill's self-pay more than once.
    """
    left = ctx.facts["in_policy_self_pay"] if ctx.base_left is None else ctx.base_left
    if amount > left:
        if result.explain:
            result.numbers["base_left"] = format_fen(max(0, left))
        if left <= 0:
            return 0
        result.reasons.append(Reason.SHARED_BASE_LIMIT)
        return left
    return amount


class BandedShareFormula:
    """MA_IP: rate by bands of the member's cumulative base in the scope (section 4)."""

    def __init__(self, spec: BandedShare, catalogs: dict[str, DiseaseCatalog]) -> None:
        self.spec = spec
        ratios = [ratio(b.rate) for b in spec.bands]
        self.den = math.lcm(*(d for _, d in ratios))
        self.bands = [
            (fen(b.start), fen(b.end), num * (self.den // d), str(b.rate))
            for b, (num, d) in zip(spec.bands, ratios)
        ]
        self.minimum = fen(spec.minimum_payout) or 0
        self.cap = fen(spec.cap)

    def __call__(self, ctx: AmountContext) -> AmountResult:
        result = AmountResult(explain=ctx.explain)
        base = ctx.facts[self.spec.base]
        scope = ctx.scopes[self.spec.accumulate_over]
        if result.explain:
            result.numbers["base"] = format_fen(base)
        if base <= 0:
            return result.deny(Reason.ZERO_BASE)
        before = ctx.accumulators.get(ctx.code, "base", scope)
        after = before + base
        scaled = 0  # sum of rate x overlap, in fen x den
        bands = []
        for lo, hi, num, shown in self.bands:
            overlap = min(after, after if hi is None else hi) - max(before, lo)
            if overlap > 0:
                scaled += overlap * num
                if result.explain:
                    bands.append({"from": format_fen(lo), "rate": shown, "on": format_fen(overlap)})
        raw = half_up_div(scaled, self.den)
        if result.explain:
            result.numbers.update(cumulative_before=format_fen(before), bands=bands, raw=format_fen(raw))
        if raw < self.minimum and min(self.minimum, base) != raw:
            raw = min(self.minimum, base)
            result.reasons.append(Reason.MINIMUM_PAYOUT_APPLIED)
            if result.explain:
                result.numbers["after_minimum"] = format_fen(raw)
        raw = _reduce(raw, ctx, result)
        pay = _cap(raw, self.cap, ctx.accumulators.get(ctx.code, "paid", scope), result)
        if pay is None:
            return result.deny(Reason.ANNUAL_CAP_REACHED)
        pay = _within_base(pay, ctx, result)
        return result.pay(pay, AccumulatorChange(ctx.code, "base", scope, base), AccumulatorChange(ctx.code, "paid", scope, pay))


class PerDayFormula:
    """MA_DA: a daily allowance by membership year, with a days cap (section 5)."""

    def __init__(self, spec: PerDay, catalogs: dict[str, DiseaseCatalog]) -> None:
        self.spec = spec
        self.daily = {year: fen(amount) for year, amount in spec.rate_by_membership_year.items()}
        self.last_year = max(self.daily)

    def __call__(self, ctx: AmountContext) -> AmountResult:
        result = AmountResult(explain=ctx.explain)
        scope = ctx.scopes[self.spec.accumulate_over]
        stay = ctx.facts["length_of_stay"]
        year = max(1, ctx.facts["membership_year"])
        daily = self.daily[min(year, self.last_year)]
        days = stay
        if result.explain:
            result.numbers.update(length_of_stay=stay, membership_year=year, daily=format_fen(daily))
        if self.spec.max_days is not None:
            used = ctx.accumulators.get(ctx.code, "days", scope)
            days = min(stay, self.spec.max_days - used)
            if result.explain:
                result.numbers["days_left"] = max(0, self.spec.max_days - used)
            if days <= 0:
                return result.deny(Reason.DAYS_CAP_REACHED)
            if days < stay:
                result.reasons.append(Reason.CAP_APPLIED)
        if result.explain:
            result.numbers["days"] = days
        amount = _reduce(days * daily, ctx, result)
        # Days count in full toward the cap even when the amount is reduced.
        return result.pay(amount, AccumulatorChange(ctx.code, "days", scope, days), AccumulatorChange(ctx.code, "paid", scope, amount))


class FixedPerDiseaseFormula:
    """MA_CI: a fixed grant once per catalog disease in the scope (section 6)."""

    def __init__(self, spec: FixedPerDisease, catalogs: dict[str, DiseaseCatalog]) -> None:
        self.spec = spec
        self.fact = catalog_fact(spec.catalog)
        self.classes = {d.code: d.disease_class for d in catalogs[spec.catalog].diseases if d.disease_class}
        if spec.amount is not None:
            self.amounts = {d.code: fen(spec.amount) for d in catalogs[spec.catalog].diseases}
        else:
            by_class = {k: fen(v) for k, v in (spec.amount_by_class or {}).items()}
            self.amounts = {
                d.code: by_class[d.disease_class] for d in catalogs[spec.catalog].diseases if d.disease_class in by_class
            }

    def __call__(self, ctx: AmountContext) -> AmountResult:
        result = AmountResult(explain=ctx.explain)
        scope = ctx.scopes[self.spec.accumulate_over]
        code = ctx.facts[self.fact]
        if not code:
            result.not_applicable = Reason.DISEASE_NOT_IN_CATALOG
            return result
        if result.explain:
            result.numbers["disease"] = code
        measure = f"disease:{code}"
        if ctx.accumulators.get(ctx.code, measure, scope) > 0:
            return result.deny(Reason.ALREADY_PAID_FOR_DISEASE)
        if code in self.classes:
            if result.explain:
                result.numbers["class"] = self.classes[code]
        amount = self.amounts.get(code)
        if amount is None:  # a disease whose class has no amount in this benefit
            result.not_applicable = Reason.DISEASE_NOT_IN_CATALOG
            return result
        amount = _reduce(amount, ctx, result)
        return result.pay(amount, AccumulatorChange(ctx.code, measure, scope, 1), AccumulatorChange(ctx.code, "paid", scope, amount))


class ResidualShareFormula:
    """CIR: a share of what earlier lines left of the base, by hardship category (section 7)."""

    def __init__(self, spec: ResidualShare, catalogs: dict[str, DiseaseCatalog]) -> None:
        self.spec = spec
        self.shares = {
            category.value: (ratio(share.rate), fen(share.cap), str(share.rate))
            for category, share in spec.by_hardship_category.items()
        }

    def __call__(self, ctx: AmountContext) -> AmountResult:
        result = AmountResult(explain=ctx.explain)
        scope = ctx.scopes[self.spec.accumulate_over]
        base = ctx.facts[self.spec.base]
        taken = 0
        for code in self.spec.after:
            line = ctx.earlier.get(code)
            if line is not None and line.counts:
                taken += line.amount
        residual = max(0, base - taken)
        if result.explain:
            result.numbers.update(base=format_fen(base), taken_by_earlier_lines=format_fen(taken), residual=format_fen(residual))
        if residual == 0:
            return result.deny(Reason.ZERO_BASE)
        share = self.shares.get(ctx.facts["hardship_category"])
        if share is None:
            return result.deny(Reason.HARDSHIP_CATEGORY_NOT_ELIGIBLE)
        (num, den), cap, shown = share
        amount = half_up_div(residual * num, den)
        if result.explain:
            result.numbers.update(rate=shown, raw=format_fen(amount))
        amount = _reduce(amount, ctx, result)
        pay = _cap(amount, cap, ctx.accumulators.get(ctx.code, "paid", scope), result)
        if pay is None:
            return result.deny(Reason.ANNUAL_CAP_REACHED)
        pay = _within_base(pay, ctx, result)
        return result.pay(pay, AccumulatorChange(ctx.code, "paid", scope, pay))


FORMULAS = {
    "banded_share": BandedShareFormula,
    "per_day": PerDayFormula,
    "fixed_per_disease": FixedPerDiseaseFormula,
    "residual_share": ResidualShareFormula,
}
