"""A decision line a member can read: the benefit's name and why it came to what it did.

``explain`` is pure: a line, the claim's trace as the engine wrote it, and the plan that
decided the claim in; two sentences, Chinese and English, out. It tells which band paid
what share, the days and the daily rate, what other lines left, the reductions and why
(each reason's text, the plan's own codes included), when full cover starts for a
waiting period, and the catalog's name of the disease. The texts are
``claims.messages``; the numbers are the trace's, never computed anew.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from claims import messages as m
from claims.catalog import normalise_icd
from claims.money import apply_rate, parse_yuan
from claims.reasons import REASON_TEXTS, Reason
from rules.document import Benefit, FixedPerDisease, Plan

WAITING = {Reason.WAITING_PERIOD.value, Reason.WAITING_PERIOD_REDUCED.value}


class LineLike(Protocol):
    benefit: str
    status: Any  # a LineStatus or its value
    amount: int  # fen
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class Explained:
    name_zh: str
    name_en: str
    zh: str
    en: str


def reason_text(code: str, plan: Plan | None = None) -> tuple[str, str]:
    """A reason code's Chinese and English texts: built-in, or declared by the plan; else the code."""
    if code in Reason.__members__:
        text = REASON_TEXTS[Reason(code)]
        return text.zh, text.en
    declared = (plan.document.reasons or {}).get(code) if plan is not None else None
    return (declared.zh, declared.en) if declared is not None else (code, code)


def explain(line: LineLike, trace: Iterable[dict[str, Any]], plan: Plan, *, admitted: dt.date | None = None,
            main_diagnosis: str | None = None, review_note: str = "") -> Explained:
    """The line's benefit name and its explanation (Chinese, English).

    ``admitted`` dates the start of full cover for a waiting period; ``main_diagnosis``
    (the bill's main ICD-10 code) names the disease for a benefit that reads a catalog.
    """
    benefit = next((b for b in plan.document.benefits if b.code == line.benefit), None)
    name_zh, name_en = (benefit.name_zh, benefit.name_en) if benefit is not None else ("", "")
    status = getattr(line.status, "value", line.status)
    mine = [t for t in trace if t.get("benefit") == line.benefit]
    said = m.PENDED_FOR_FUNDS if status == "pended" and Reason.FUND_EXHAUSTED.value in line.reasons \
        else m.STATUS[status]
    parts: list[tuple[str, str]] = [said.format(amount=m.yuan(line.amount))]

    amount = next((t for t in mine if t.get("step") == "amount" and "formula" in t), None)
    if amount is not None and status in ("approved", "pended"):
        parts += _reckoning(amount["formula"], amount.get("numbers", {}))
    if benefit is not None:
        disease = _disease(benefit, plan, amount, main_diagnosis)
        if disease is not None and status != "not_applicable":
            parts.append(m.DISEASE.format(code=disease.code, name_zh=disease.name_zh or disease.code,
                                          name_en=disease.name_en or disease.name_zh or disease.code))
    for code in dict.fromkeys(line.reasons):  # a code once, in the order the line has them
        parts.append(reason_text(code, plan))
        if code in WAITING and benefit is not None and admitted is not None:
            starts = _full_cover_from(benefit, code, mine, admitted)
            if starts is not None:
                message = m.COVER_FROM if code == Reason.WAITING_PERIOD.value else m.FULL_COVER_FROM
                parts.append(message.format(date=m.date(starts)))
        if code == Reason.HIGH_AMOUNT_REVIEW.value:
            review = next((t for t in trace if t.get("rule") == "review.high_amount"), None)
            if review is not None:
                parts.append(m.HIGH_AMOUNT.format(total=m.yuan(review["numbers"]["total"]),
                                                  above=m.yuan(review["numbers"]["above"])))
    if review_note:
        parts.append(m.REVIEW_NOTE.format(note=review_note))
    zh = m.SEPARATOR.zh.join(p[0] for p in parts) + m.END.zh
    en = m.SEPARATOR.en.join(p[1] for p in parts) + m.END.en
    return Explained(name_zh, name_en, zh, en)


def _reckoning(formula: str, numbers: dict[str, Any]) -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = []
    if formula == "banded_share":
        # The bands are those the claim's base fell in, from where the period's total stood.
        position = parse_yuan(numbers.get("cumulative_before", "0"))
        if position:
            parts.append(m.BANDS_FROM.format(before=m.yuan(position)))
        for band in numbers.get("bands", []):
            start = max(parse_yuan(band["from"]), position)
            on = parse_yuan(band["on"])
            paid = apply_rate(on, Fraction(Decimal(band["rate"])))
            parts.append(m.BAND.format(start=m.yuan(start), end=m.yuan(start + on), rate=m.percent(band["rate"]),
                                       paid=m.yuan(paid)))
            position = start + on
    elif formula == "per_day" and "days" in numbers:
        parts.append(m.PER_DAY.format(days=numbers["days"], daily=m.yuan(numbers["daily"]),
                                      year=numbers["membership_year"]))
    elif formula == "residual_share" and "raw" in numbers:
        parts.append(m.RESIDUAL.format(residual=m.yuan(numbers["residual"]), rate=m.percent(numbers["rate"]),
                                       raw=m.yuan(numbers["raw"])))
    for reduction in numbers.get("reductions", []):
        num, _, den = reduction["factor"].partition("/")
        parts.append(m.REDUCED.format(percent=m.percent(str(Decimal(num) / Decimal(den or 1))),
                                      after=m.yuan(reduction["after"])))
    return parts


def _disease(benefit: Benefit, plan: Plan, amount: dict[str, Any] | None, main_diagnosis: str | None):
    """The catalog disease the line is about: the one a grant was paid for, else the main diagnosis's."""
    if isinstance(benefit.amount, FixedPerDisease) and amount is not None and "disease" in amount.get("numbers", {}):
        catalog = plan.catalogs.get(benefit.amount.catalog)
        code = amount["numbers"]["disease"]
        return next((d for d in catalog.diseases if d.code == code), None) if catalog else None
    if main_diagnosis is None:
        return None
    for name in _catalogs_read(benefit):
        catalog = plan.catalogs.get(name)
        found = catalog.match(normalise_icd(main_diagnosis)) if catalog else None
        if found is not None:
            return found
    return None


def _catalogs_read(benefit: Benefit) -> list[str]:
    names: list[str] = []
    if isinstance(benefit.amount, FixedPerDisease):
        names.append(benefit.amount.catalog)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("in_catalog", "not_in_catalog") and isinstance(value, str):
                    names.append(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for rule in benefit.rules:
        walk(rule.when)
    return list(dict.fromkeys(names))


def _full_cover_from(benefit: Benefit, code: str, mine: list[dict[str, Any]], admitted: dt.date) -> dt.date | None:
    """Coverage start (the admission less the days since it) plus the waiting days of the rule that fired."""
    fired = next((t for t in mine if t.get("reason") == code and "days_since_coverage_start" in t.get("facts", {})),
                 None)
    if fired is None:
        return None
    rule = next((r for r in benefit.rules if f"{benefit.code}.{r.id}" == fired["rule"]), None)
    limit = (rule.when.get("days_since_coverage_start") or {}) if rule is not None else {}
    days = limit.get("lt") if isinstance(limit, dict) else None
    if days is None:
        return None
    start = admitted - dt.timedelta(days=int(fired["facts"]["days_since_coverage_start"]))
    return start + dt.timedelta(days=int(days))
