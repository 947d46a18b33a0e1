"""The texts a member reads about a decision: one catalog, Chinese first, English beside.

Reason codes keep their own texts (``claims.reasons``; a plan may declare more); the
sentences here are what ``rules.explain`` builds a line's explanation from. Amounts
are shown in yuan with thousands separators (``10,000.00``), dates as ``YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from claims.money import parse_yuan


@dataclass(frozen=True, slots=True)
class Message:
    zh: str
    en: str

    def format(self, **values: Any) -> tuple[str, str]:
        return self.zh.format(**values), self.en.format(**values)


# What the line came to.
STATUS = {
    "approved": Message("给付{amount}元", "Paid {amount} yuan"),
    "pended": Message("暂计{amount}元，待人工复核", "{amount} yuan held for manual review"),
    "denied": Message("不予给付", "Not paid"),
    "not_applicable": Message("本项不适用", "This benefit does not apply"),
}
# A line pended because its fund has no money left waits for an allocation, not a reviewer.
PENDED_FOR_FUNDS = Message("暂计{amount}元，待资金拨付", "{amount} yuan held until funds are allocated")

# How the amount was reckoned, by the benefit's formula.
BAND = Message("{start}–{end}元按{rate}%：{paid}元", "{start}–{end} yuan at {rate}%: {paid} yuan")
BANDS_FROM = Message("本期此前累计{before}元", "{before} yuan counted earlier in the period")
PER_DAY = Message("住院{days}天，每天{daily}元（参保第{year}年）",
                  "{days} days in hospital at {daily} yuan a day (membership year {year})")
RESIDUAL = Message("其他项目给付后剩余自付{residual}元按{rate}%：{raw}元",
                   "{residual} yuan of self-pay left after the other lines, at {rate}%: {raw} yuan")
REDUCED = Message("按{percent}%给付：{after}元", "reduced to {percent}%: {after} yuan")
DISEASE = Message("病种：{name_zh}（{code}）", "Disease: {name_en} ({code})")
COVER_FROM = Message("保障自{date}起生效", "Cover starts on {date}")
FULL_COVER_FROM = Message("自{date}起全额保障", "Full cover from {date}")
HIGH_AMOUNT = Message("本次合计{total}元，超过{above}元", "This claim totals {total} yuan, above {above} yuan")
REVIEW_NOTE = Message("复核意见：{note}", "Reviewer's note: {note}")

# How the parts are joined.
SEPARATOR = Message("；", "; ")
END = Message("。", ".")


def yuan(amount: str | int) -> str:
    """``"10000.00"`` (or fen) as ``10,000.00``."""
    fen = amount if isinstance(amount, int) else parse_yuan(amount)
    return f"{fen // 100:,}.{fen % 100:02d}"


def percent(rate: str) -> str:
    """``"0.40"`` as ``40``, ``"0.125"`` as ``12.5``."""
    shown = (Decimal(rate) * 100).normalize()
    return f"{shown:f}"


def date(day: dt.date) -> str:
    return day.isoformat()
