"""Decisions a member can read: rules/explain.py on the spec's worked examples, no database.

Each example of ``examples/cases.jsonl`` is decided by the batch path under the shipped
plan, and its lines explained from the decision's trace alone.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from builders import adjudicate, decide, make_case
from claims.decision import Decision
from rules.document import PlanError, load_plan, parse_plan, validate_plan
from rules.engine import Engine
from rules.explain import Explained, explain, reason_text

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "cases.jsonl"


@pytest.fixture(scope="module")
def examples(engine: Engine) -> dict[str, tuple[dict, Decision]]:
    cases = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    decisions = adjudicate(engine, *cases)
    return {c["case_id"]: (c, d) for c, d in zip(cases, decisions)}


def said(examples, case_id: str, benefit: str, plan=None) -> Explained:
    case, decision = examples[case_id]
    line = next(ln for ln in decision.lines if ln.benefit == benefit)
    bill = case["bill"]
    main = next(d["diag_code"] for d in bill["diagnoses"] if d["maindiag_flag"] == "1")
    return explain(line, decision.trace, plan or load_plan(), admitted=dt.date.fromisoformat(bill["begndate"]),
                   main_diagnosis=main)


def test_a_banded_share_says_which_band_paid_what_share(examples) -> None:
    # ex-01: B = 14,000.00, nothing earlier: 10,000 at 40% and 4,000 at 50%.
    line = said(examples, "ex-01", "MA_IP")
    assert (line.name_zh, line.name_en) == ("住院及门诊特殊病互助金", "Inpatient and special-outpatient mutual aid")
    assert line.zh == "给付6,000.00元；0.00–10,000.00元按40%：4,000.00元；10,000.00–14,000.00元按50%：2,000.00元。"
    assert line.en == ("Paid 6,000.00 yuan; 0.00–10,000.00 yuan at 40%: 4,000.00 yuan; "
                       "10,000.00–14,000.00 yuan at 50%: 2,000.00 yuan.")


def test_a_second_admission_continues_the_bands_from_the_period_total(examples) -> None:
    # ex-03 follows ex-01 (14,000.00 counted): 16,000 at 50% then 9,000 at 60%.
    assert said(examples, "ex-03", "MA_IP").zh == (
        "给付13,400.00元；本期此前累计14,000.00元；14,000.00–30,000.00元按50%：8,000.00元；"
        "30,000.00–39,000.00元按60%：5,400.00元。")


def test_the_daily_allowance_says_the_days_and_the_rate_of_the_membership_year(examples) -> None:
    assert said(examples, "ex-01", "MA_DA").zh == "给付200.00元；住院10天，每天20.00元（参保第2年）。"


def test_the_critical_illness_lines_name_the_disease_from_the_catalog(examples) -> None:
    assert said(examples, "ex-01", "MA_CI").zh == "给付10,000.00元；病种：恶性肿瘤（CI01）。"
    relief = said(examples, "ex-01", "CIR")
    assert relief.zh == "给付5,600.00元；其他项目给付后剩余自付8,000.00元按70%：5,600.00元；病种：恶性肿瘤（CI01）。"
    assert "Disease: Malignant neoplasm (CI01)" in relief.en


def test_a_waiting_period_says_the_date_cover_starts(examples) -> None:
    # ex-04: admitted 19 days after cover started; mutual aid waits 30 days, the grant 90.
    case, _ = examples["ex-04"]
    admitted = dt.date.fromisoformat(case["bill"]["begndate"])
    start = admitted - dt.timedelta(days=19)
    assert said(examples, "ex-04", "MA_IP").zh == f"不予给付；处于等待期内；保障自{start + dt.timedelta(days=30)}起生效。"
    assert said(examples, "ex-04", "MA_CI").en.endswith(f"Cover starts on {start + dt.timedelta(days=90)}.")


def test_a_reduced_line_says_the_share_and_when_full_cover_starts(examples) -> None:
    line = said(examples, "ex-05", "MA_IP")
    assert "按50%给付：2,500.00元；处于减半给付期，按50%给付；自" in line.zh
    assert line.en.startswith("Paid 2,500.00 yuan;") and "reduced to 50%: 2,500.00 yuan" in line.en


def test_a_line_that_does_not_apply_gives_the_reason_text(examples) -> None:
    assert said(examples, "ex-06", "MA_IP").zh == "本项不适用；入院时未参加职工医疗互助保障。"
    assert said(examples, "ex-02", "MA_IP").en == "Not paid; This settlement was already claimed; it is not paid twice."


def test_a_high_amount_held_for_review_says_the_total_and_the_threshold(examples) -> None:
    line = said(examples, "ex-08", "MA_DA")
    assert line.zh == ("暂计870.00元，待人工复核；住院29天，每天30.00元（参保第3年）；金额较大，转人工复核；"
                       "本次合计156,870.00元，超过50,000.00元。")


PLAN_OWN_REASON = """
reasons:
  PHARMACY_BILL: {zh: 药店购药不属于住院互助范围, en: Pharmacy purchases are not inpatient care}
"""


def _with_own_reason(text: str) -> str:
    default = (Path(__file__).resolve().parents[1] / "rules" / "plans" / "default-2026.yaml").read_text(encoding="utf-8")
    rule = "then: denied, reason: HOSPITAL_NOT_ELIGIBLE}"
    assert rule in default
    return default.replace(rule, rule.replace("HOSPITAL_NOT_ELIGIBLE", "PHARMACY_BILL"), 1) + text


def test_a_plan_declares_its_own_reason_code_and_its_decisions_show_its_texts() -> None:
    plan = parse_plan(_with_own_reason(PLAN_OWN_REASON))
    engine = Engine(plan)
    decision = decide(engine, make_case(hosp_lv="11"))  # a grade-less provider: the rule fires
    line = next(ln for ln in decision.lines if ln.benefit == "MA_IP")
    assert (line.status.value, line.reasons) == ("denied", ["PHARMACY_BILL"])
    assert reason_text("PHARMACY_BILL", plan) == ("药店购药不属于住院互助范围", "Pharmacy purchases are not inpatient care")
    said_ = explain(line, decision.trace, plan)
    assert said_.zh == "不予给付；药店购药不属于住院互助范围。"


def test_a_reason_code_used_but_not_declared_is_refused_at_the_rule() -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(_with_own_reason(""))
    # MA_IP's fourth rule is the hospital-grade rule.
    assert err.value.errors == [("benefits[0].rules[3].reason",
                                 "unknown reason code 'PHARMACY_BILL': a built-in one, or one declared under reasons")]


def test_a_declared_reason_code_may_not_take_a_built_in_name() -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(_with_own_reason(PLAN_OWN_REASON + "  WAITING_PERIOD: {zh: 等待期, en: Waiting}\n"))
    assert [p for p, _ in err.value.errors] == ["reasons.WAITING_PERIOD"]


def test_a_declared_reason_needs_both_texts() -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(_with_own_reason("reasons:\n  PHARMACY_BILL: {zh: 药店}\n"))
    assert [p for p, _ in err.value.errors] == ["reasons.PHARMACY_BILL.en"]


def test_a_plan_without_reasons_keeps_its_version() -> None:
    # The section is absent from the content, so the shipped plan's identity is what it was.
    plan = load_plan()
    assert "reasons" not in plan.content
    assert validate_plan(plan.content).version == plan.version


def test_an_unknown_code_falls_back_to_itself() -> None:
    assert reason_text("NO_SUCH_CODE") == ("NO_SUCH_CODE", "NO_SUCH_CODE")
