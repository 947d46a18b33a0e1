"""Reason codes: stable identifiers with the texts members and hospitals read.

The codes are part of the public contract (decisions, the API, case files); the texts
may be reworded. Plans refer to codes by name, and a plan naming an unknown code is
refused when it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    BILL_INCONSISTENT = "BILL_INCONSISTENT"
    INVALID_CASE = "INVALID_CASE"
    NOT_ENROLLED = "NOT_ENROLLED"
    INSURANCE_TYPE_NOT_COVERED = "INSURANCE_TYPE_NOT_COVERED"
    HOSPITAL_NOT_ELIGIBLE = "HOSPITAL_NOT_ELIGIBLE"
    LATE_SUBMISSION = "LATE_SUBMISSION"
    WAITING_PERIOD = "WAITING_PERIOD"
    WAITING_PERIOD_REDUCED = "WAITING_PERIOD_REDUCED"
    DUPLICATE_BILL = "DUPLICATE_BILL"
    MED_TYPE_NOT_COVERED = "MED_TYPE_NOT_COVERED"
    ZERO_BASE = "ZERO_BASE"
    MINIMUM_PAYOUT_APPLIED = "MINIMUM_PAYOUT_APPLIED"
    ANNUAL_CAP_REACHED = "ANNUAL_CAP_REACHED"
    CAP_APPLIED = "CAP_APPLIED"
    DAYS_CAP_REACHED = "DAYS_CAP_REACHED"
    DISEASE_NOT_IN_CATALOG = "DISEASE_NOT_IN_CATALOG"
    ALREADY_PAID_FOR_DISEASE = "ALREADY_PAID_FOR_DISEASE"
    NOT_HARDSHIP_REGISTERED = "NOT_HARDSHIP_REGISTERED"
    HARDSHIP_CATEGORY_NOT_ELIGIBLE = "HARDSHIP_CATEGORY_NOT_ELIGIBLE"
    HARDSHIP_UNVERIFIED = "HARDSHIP_UNVERIFIED"
    HIGH_AMOUNT_REVIEW = "HIGH_AMOUNT_REVIEW"
    GENDER_NOT_COVERED = "GENDER_NOT_COVERED"
    # Never set under a valid plan (rules/document.py refuses one that could need it):
    # the engine's own guard that lines sharing a bill's self-pay never pay more than it.
    SHARED_BASE_LIMIT = "SHARED_BASE_LIMIT"
    # Set by a reviewer, never by the engine.
    REVIEW_DENIED = "REVIEW_DENIED"
    REVIEW_ADJUSTED = "REVIEW_ADJUSTED"
    # Set when the line is charged to its fund, never by the engine (claims/funding.py).
    FUND_EXHAUSTED = "FUND_EXHAUSTED"


@dataclass(frozen=True, slots=True)
class ReasonText:
    zh: str
    en: str


REASON_TEXTS: dict[Reason, ReasonText] = {
    Reason.BILL_INCONSISTENT: ReasonText("结算单数据不一致，未受理", "The settlement does not add up; nothing was adjudicated"),
    Reason.INVALID_CASE: ReasonText("申请资料格式有误，未受理", "The claim record is malformed; nothing was adjudicated"),
    Reason.NOT_ENROLLED: ReasonText("入院时未参加职工医疗互助保障", "Not enrolled in the mutual-aid plan on the admission date"),
    Reason.INSURANCE_TYPE_NOT_COVERED: ReasonText("非职工基本医疗保险结算，不予互助", "Only settlements under employee basic medical insurance are covered"),
    Reason.HOSPITAL_NOT_ELIGIBLE: ReasonText("就诊机构无等级（如药店），不予互助", "The provider has no hospital grade (e.g. a pharmacy)"),
    Reason.LATE_SUBMISSION: ReasonText("超过申请时限", "Submitted after the deadline"),
    Reason.WAITING_PERIOD: ReasonText("处于等待期内", "Admitted within the waiting period"),
    Reason.WAITING_PERIOD_REDUCED: ReasonText("处于减半给付期，按50%给付", "Admitted within the reduced-benefit period; amount reduced"),
    Reason.DUPLICATE_BILL: ReasonText("该结算单已申请过，不重复给付", "This settlement was already claimed; it is not paid twice"),
    Reason.MED_TYPE_NOT_COVERED: ReasonText("该医疗类别不在本项保障范围内", "This type of care is not covered by this benefit"),
    Reason.ZERO_BASE: ReasonText("无可报销的个人自付金额", "No self-paid amount left to reimburse"),
    Reason.MINIMUM_PAYOUT_APPLIED: ReasonText("按每次最低给付标准给付", "The per-admission minimum payout was applied"),
    Reason.ANNUAL_CAP_REACHED: ReasonText("已达年度给付上限", "The yearly cap has been reached"),
    Reason.CAP_APPLIED: ReasonText("按年度上限扣减后给付", "Amount reduced to the remaining cap"),
    Reason.DAYS_CAP_REACHED: ReasonText("住院补贴天数已达上限", "The allowance days cap has been reached"),
    Reason.DISEASE_NOT_IN_CATALOG: ReasonText("主要诊断不在病种目录内", "The main diagnosis is not in the disease catalog"),
    Reason.ALREADY_PAID_FOR_DISEASE: ReasonText("本期该病种已给付", "Already paid for this disease in this period"),
    Reason.NOT_HARDSHIP_REGISTERED: ReasonText("入院时未在困难职工档案中", "Not on the hardship register on the admission date"),
    Reason.HARDSHIP_CATEGORY_NOT_ELIGIBLE: ReasonText("该困难类别不在救助范围内", "This hardship category is not eligible for relief"),
    Reason.HARDSHIP_UNVERIFIED: ReasonText("困难档案待入户核查，暂缓审核", "Hardship registration not yet verified; held for review"),
    Reason.HIGH_AMOUNT_REVIEW: ReasonText("金额较大，转人工复核", "High amount; held for manual review"),
    Reason.GENDER_NOT_COVERED: ReasonText("本项仅限特定性别会员", "This benefit covers members of one gender only"),
    Reason.SHARED_BASE_LIMIT: ReasonText("与本次其他给付项目合计不超过政策范围内个人自付金额，按剩余金额给付",
                                         "Cut to what other lines of this claim left of the in-policy self-pay"),
    Reason.REVIEW_DENIED: ReasonText("经人工复核不予给付", "Denied at manual review"),
    Reason.REVIEW_ADJUSTED: ReasonText("经人工复核调整金额", "Amount adjusted at manual review"),
    Reason.FUND_EXHAUSTED: ReasonText("资金额度不足，待拨付后支付",
                                      "Relief funds for the year are exhausted; payment waits for a new allocation"),
}


def reason_text(code: str) -> ReasonText:
    return REASON_TEXTS[Reason(code)]
