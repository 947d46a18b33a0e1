"""Amount formulas (the amount step, default-plan.md sections 4-7).

Each formula is a kind a plan document can choose (``amount.kind``) with its numbers
in the document. A formula reads the claim's facts and the member's accumulators and
returns the line's amount with its informational reasons and the accumulator changes
it makes, or the reason the amount step denies the line. Reductions (the waiting
period's x 0.5) come in already chosen by the rules engine; each formula applies them
where the plan puts them: after the minimum payout and before the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from claims.accumulators import AccumulatorReader
from claims.decision import AccumulatorChange, BenefitLine
from claims.money import apply_rate, format_fen, rate, round_half_up
from claims.reasons import Reason
from rules.document import BandedShare, FixedPerDisease, PerDay, ResidualShare
from rules.facts import catalog_fact


def fen(amount: Any) -> int:
    """A document amount (an exact Decimal in yuan) in fen."""
    return int(amount * 100)


@dataclass(slots=True)
class AmountContext:
    code: str
    facts: dict[str, Any]
    accumulators: AccumulatorReader
    scopes: dict[str, str]  # 'period' / 'calendar_year' -> accumulator scope key
    reductions: list[tuple[Fraction, str]]  # (factor, reason) from the reduce rules that held
    earlier: dict[str, BenefitLine]  # lines already decided in this claim
    catalogs: dict[str, Any]


@dataclass(slots=True)
class AmountResult:
    amount: int = 0
    denied: str | None = None
    not_applicable: str | None = None
    reasons: list[str] = field(default_factory=list)
    changes: list[AccumulatorChange] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


def _reduce(amount: int, ctx: AmountContext, result: AmountResult) -> int:
    for factor, reason in ctx.reductions:
        amount = apply_rate(amount, factor)
        result.reasons.append(reason)
        result.numbers.setdefault("reductions", []).append({"factor": _ratio(factor), "after": format_fen(amount)})
    return amount


def _ratio(r: Fraction) -> str:
    """An exact rate printed as a decimal (the document's rates are finite decimals)."""
    return str(Decimal(r.numerator) / Decimal(r.denominator))


def _cap(amount: int, cap: int | None, paid: int, result: AmountResult) -> int | None:
    """``amount`` cut to what is left of the cap; None when nothing is left."""
    if cap is None:
        return amount
    left = cap - paid
    result.numbers["cap_left"] = format_fen(max(0, left))
    if left <= 0:
        return None
    if amount > left:
        result.reasons.append(Reason.CAP_APPLIED)
        return left
    return amount


def banded_share(spec: BandedShare, ctx: AmountContext) -> AmountResult:
    result = AmountResult()
    base = ctx.facts[spec.base]
    scope = ctx.scopes[spec.accumulate_over]
    result.numbers["base"] = format_fen(base)
    if base <= 0:
        result.denied = Reason.ZERO_BASE
        return result
    before = ctx.accumulators.get(ctx.code, "base", scope)
    after = before + base
    exact = Fraction(0)
    bands = []
    for band in spec.bands:
        lo, hi = fen(band.start), (fen(band.end) if band.end is not None else None)
        overlap = max(0, min(after, hi if hi is not None else after) - max(before, lo))
        if overlap:
            r = rate(band.rate)
            exact += overlap * r
            bands.append({"from": format_fen(lo), "rate": str(band.rate), "on": format_fen(overlap)})
    raw = round_half_up(exact)
    result.numbers.update(cumulative_before=format_fen(before), bands=bands, raw=format_fen(raw))
    minimum = fen(spec.minimum_payout)
    if raw < minimum:
        floor = min(minimum, base)
        if floor != raw:
            raw = floor
            result.reasons.append(Reason.MINIMUM_PAYOUT_APPLIED)
            result.numbers["after_minimum"] = format_fen(raw)
    raw = _reduce(raw, ctx, result)
    paid = ctx.accumulators.get(ctx.code, "paid", scope)
    pay = _cap(raw, fen(spec.cap) if spec.cap is not None else None, paid, result)
    if pay is None:
        return _deny(result, Reason.ANNUAL_CAP_REACHED)
    if pay == 0:
        return _deny(result, Reason.ZERO_BASE)
    result.amount = pay
    result.changes = [
        AccumulatorChange(ctx.code, "base", scope, base),
        AccumulatorChange(ctx.code, "paid", scope, pay),
    ]
    return result


def per_day(spec: PerDay, ctx: AmountContext) -> AmountResult:
    result = AmountResult()
    scope = ctx.scopes[spec.accumulate_over]
    stay = ctx.facts["length_of_stay"]
    year = max(1, ctx.facts["membership_year"])
    daily = fen(spec.rate_by_membership_year[min(year, max(spec.rate_by_membership_year))])
    days = stay
    result.numbers.update(length_of_stay=stay, membership_year=year, daily=format_fen(daily))
    if spec.max_days is not None:
        used = ctx.accumulators.get(ctx.code, "days", scope)
        days = min(stay, spec.max_days - used)
        result.numbers["days_left"] = max(0, spec.max_days - used)
        if days <= 0:
            return _deny(result, Reason.DAYS_CAP_REACHED)
        if days < stay:
            result.reasons.append(Reason.CAP_APPLIED)
    amount = _reduce(days * daily, ctx, result)
    result.numbers["days"] = days
    if amount == 0:
        return _deny(result, Reason.ZERO_BASE)
    result.amount = amount
    # Days count in full toward the cap even when the amount is reduced.
    result.changes = [
        AccumulatorChange(ctx.code, "days", scope, days),
        AccumulatorChange(ctx.code, "paid", scope, amount),
    ]
    return result


def fixed_per_disease(spec: FixedPerDisease, ctx: AmountContext) -> AmountResult:
    result = AmountResult()
    scope = ctx.scopes[spec.accumulate_over]
    code = ctx.facts[catalog_fact(spec.catalog)]
    if not code:
        result.not_applicable = Reason.DISEASE_NOT_IN_CATALOG
        return result
    result.numbers["disease"] = code
    measure = f"disease:{code}"
    if ctx.accumulators.get(ctx.code, measure, scope) > 0:
        return _deny(result, Reason.ALREADY_PAID_FOR_DISEASE)
    if spec.amount is not None:
        amount = fen(spec.amount)
    else:
        disease = next(d for d in ctx.catalogs[spec.catalog].diseases if d.code == code)
        amount = fen(spec.amount_by_class[disease.disease_class])  # type: ignore[index]
        result.numbers["class"] = disease.disease_class
    amount = _reduce(amount, ctx, result)
    if amount == 0:
        return _deny(result, Reason.ZERO_BASE)
    result.amount = amount
    result.changes = [
        AccumulatorChange(ctx.code, measure, scope, 1),
        AccumulatorChange(ctx.code, "paid", scope, amount),
    ]
    return result


def residual_share(spec: ResidualShare, ctx: AmountContext) -> AmountResult:
    result = AmountResult()
    scope = ctx.scopes[spec.accumulate_over]
    base = ctx.facts[spec.base]
    taken = sum(ctx.earlier[c].amount for c in spec.after if c in ctx.earlier and ctx.earlier[c].counts)
    residual = max(0, base - taken)
    result.numbers.update(base=format_fen(base), taken_by_earlier_lines=format_fen(taken), residual=format_fen(residual))
    if residual == 0:
        return _deny(result, Reason.ZERO_BASE)
    share = spec.by_hardship_category.get(ctx.facts["hardship_category"])  # type: ignore[call-overload]
    if share is None:
        return _deny(result, Reason.HARDSHIP_CATEGORY_NOT_ELIGIBLE)
    amount = apply_rate(residual, rate(share.rate))
    result.numbers.update(rate=str(share.rate), raw=format_fen(amount))
    amount = _reduce(amount, ctx, result)
    paid = ctx.accumulators.get(ctx.code, "paid", scope)
    pay = _cap(amount, fen(share.cap) if share.cap is not None else None, paid, result)
    if pay is None:
        return _deny(result, Reason.ANNUAL_CAP_REACHED)
    if pay == 0:
        return _deny(result, Reason.ZERO_BASE)
    result.amount = pay
    result.changes = [AccumulatorChange(ctx.code, "paid", scope, pay)]
    return result


def _deny(result: AmountResult, reason: str) -> AmountResult:
    # A denied line carries only its denial reason (section 3).
    result.denied = reason
    result.reasons = []
    return result


FORMULAS = {
    "banded_share": banded_share,
    "per_day": per_day,
    "fixed_per_disease": fixed_per_disease,
    "residual_share": residual_share,
}
