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

Each formula also says where a member stands on a day (``standing``): what the line has
paid in its scope and what is left of its cap, read from the same totals under the same
keys it moves, so the two can never disagree about which total means what.
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


# The measures the formulas keep per benefit and scope (AccumulatorChange.measure).
BASE = "base"  # the cumulative base a banded share's bands follow
PAID = "paid"  # what the line paid (approved and pended lines)
DAYS = "days"  # days an allowance paid


def disease_measure(code: str) -> str:
    """The measure counting grants paid for one catalog disease."""
    return f"disease:{code}"


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


@dataclass(slots=True)
class StandingContext:
    """A member on one day, as ``standing`` reads them."""

    code: str
    facts: dict[str, Any]  # rules.facts.STANDING_FACTS
    totals: AccumulatorReader  # the stored totals: approved and pended lines
    reserved: AccumulatorReader  # of those, what pended lines hold until a reviewer decides
    scopes: dict[str, str]  # 'period' / 'calendar_year' -> accumulator scope key


@dataclass(frozen=True, slots=True)
class Grant:
    """A one-off grant used in the scope: paid, or held by a pended line (``reserved``)."""

    disease: str
    name_zh: str
    name_en: str
    reserved: bool


@dataclass(slots=True)
class Standing:
    """What a benefit has paid in its scope and what is left; amounts in fen.

    ``paid`` counts approved lines, ``reserved`` pended ones (they hold their amount
    until a reviewer decides: a denial gives it back); ``left`` is what neither took.
    """

    scope: str  # 'period' or 'calendar_year'
    scope_key: str  # the accumulators' key: '2026-01-01..2026-12-31', '2026'
    paid: int = 0
    reserved: int = 0
    cap: int | None = None  # None: no cap (or none for the member's category)
    base_counted: int | None = None  # a banded share: the cumulative base its bands have reached
    next_rate: str | None = None  # ... and the rate the next yuan of base earns
    days_paid: int | None = None
    days_reserved: int | None = None
    max_days: int | None = None
    grants: list[Grant] | None = None
    grants_left: int | None = None  # diseases of the catalog still payable in the scope

    @property
    def left(self) -> int | None:
        return None if self.cap is None else max(0, self.cap - self.paid - self.reserved)

    @property
    def days_left(self) -> int | None:
        if self.max_days is None or self.days_paid is None:
            return None
        return max(0, self.max_days - self.days_paid - (self.days_reserved or 0))


def _standing(ctx: StandingContext, accumulate_over: str, **figures: Any) -> Standing:
    scope = ctx.scopes[accumulate_over]
    held = ctx.reserved.get(ctx.code, PAID, scope)
    return Standing(accumulate_over, scope, paid=ctx.totals.get(ctx.code, PAID, scope) - held, reserved=held,
                    **figures)


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
        before = ctx.accumulators.get(ctx.code, BASE, scope)
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
        pay = _cap(raw, self.cap, ctx.accumulators.get(ctx.code, PAID, scope), result)
        if pay is None:
            return result.deny(Reason.ANNUAL_CAP_REACHED)
        pay = _within_base(pay, ctx, result)
        return result.pay(pay, AccumulatorChange(ctx.code, BASE, scope, base), AccumulatorChange(ctx.code, PAID, scope, pay))

    def standing(self, ctx: StandingContext) -> Standing:
        counted = ctx.totals.get(ctx.code, BASE, ctx.scopes[self.spec.accumulate_over])
        # Past a last band that ends, the next yuan earns nothing: no rate.
        rate = next((shown for lo, hi, _, shown in self.bands if hi is None or counted < hi), None)
        return _standing(ctx, self.spec.accumulate_over, cap=self.cap, base_counted=counted, next_rate=rate)


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
            used = ctx.accumulators.get(ctx.code, DAYS, scope)
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
        return result.pay(amount, AccumulatorChange(ctx.code, DAYS, scope, days), AccumulatorChange(ctx.code, PAID, scope, amount))

    def standing(self, ctx: StandingContext) -> Standing:
        scope = ctx.scopes[self.spec.accumulate_over]
        held = ctx.reserved.get(ctx.code, DAYS, scope)
        return _standing(ctx, self.spec.accumulate_over, days_paid=ctx.totals.get(ctx.code, DAYS, scope) - held,
                         days_reserved=held, max_days=self.spec.max_days)


class FixedPerDiseaseFormula:
    """MA_CI: a fixed grant once per catalog disease in the scope (section 6)."""

    def __init__(self, spec: FixedPerDisease, catalogs: dict[str, DiseaseCatalog]) -> None:
        self.spec = spec
        self.fact = catalog_fact(spec.catalog)
        self.catalog = catalogs[spec.catalog]
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
        measure = disease_measure(code)
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
        return result.pay(amount, AccumulatorChange(ctx.code, measure, scope, 1), AccumulatorChange(ctx.code, PAID, scope, amount))

    def standing(self, ctx: StandingContext) -> Standing:
        scope = ctx.scopes[self.spec.accumulate_over]
        grants, left = [], 0
        for disease in self.catalog.diseases:
            measure = disease_measure(disease.code)
            if ctx.totals.get(ctx.code, measure, scope) > 0:
                grants.append(Grant(disease.code, disease.name_zh, disease.name_en,
                                    reserved=ctx.reserved.get(ctx.code, measure, scope) > 0))
            elif disease.code in self.amounts:  # a disease whose class this benefit pays nothing for is never left
                left += 1
        return _standing(ctx, self.spec.accumulate_over, grants=grants, grants_left=left)


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
        pay = _cap(amount, cap, ctx.accumulators.get(ctx.code, PAID, scope), result)
        if pay is None:
            return result.deny(Reason.ANNUAL_CAP_REACHED)
        pay = _within_base(pay, ctx, result)
        return result.pay(pay, AccumulatorChange(ctx.code, PAID, scope, pay))

    def standing(self, ctx: StandingContext) -> Standing:
        # The cap is the member's category's on the day; none when not registered in one this line pays.
        share = self.shares.get(ctx.facts["hardship_category"])
        return _standing(ctx, self.spec.accumulate_over, cap=share[1] if share else None)


FORMULAS = {
    "banded_share": BandedShareFormula,
    "per_day": PerDayFormula,
    "fixed_per_disease": FixedPerDiseaseFormula,
    "residual_share": ResidualShareFormula,
}
