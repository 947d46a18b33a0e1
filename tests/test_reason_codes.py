"""Every reason code of default-plan.md section 9, with amounts worked out by hand.

Unless a test says otherwise a case is ``builders.make_case()``: a renewing member in
membership year 2 (20.00 a day), admitted 2026-05-02 and discharged 2026-05-12 (10 days),
B = 1,000.00, pneumonia (not in the catalog), no hardship registration, submitted
2026-06-30. The arithmetic behind each expected amount is in the comments.
"""

import pytest

from builders import (
    HEART_ATTACK,
    LUNG_CANCER,
    adjudicate,
    decide,
    enrollment,
    first_time,
    hardship,
    make_bill,
    make_case,
    outcome,
    renewing,
    summary,
)
from claims.reasons import reason_text


def approved(amount, *reasons):
    return ("approved", amount, list(reasons))


def pended(amount, *reasons):
    return ("pended", amount, list(reasons))


def denied(reason):
    return ("denied", "0.00", [reason])


def not_applicable(reason):
    return ("not_applicable", "0.00", [reason])


NO_GRANT = not_applicable("DISEASE_NOT_IN_CATALOG")  # pneumonia: no MA_CI
NO_RELIEF = not_applicable("NOT_HARDSHIP_REGISTERED")  # no hardship registration: no CIR
NOT_ENROLLED = not_applicable("NOT_ENROLLED")

SPEC_REASON_CODES = [
    "BILL_INCONSISTENT", "NOT_ENROLLED", "INSURANCE_TYPE_NOT_COVERED", "HOSPITAL_NOT_ELIGIBLE",
    "LATE_SUBMISSION", "WAITING_PERIOD", "WAITING_PERIOD_REDUCED", "DUPLICATE_BILL",
    "MED_TYPE_NOT_COVERED", "ZERO_BASE", "MINIMUM_PAYOUT_APPLIED", "ANNUAL_CAP_REACHED",
    "CAP_APPLIED", "DAYS_CAP_REACHED", "DISEASE_NOT_IN_CATALOG", "ALREADY_PAID_FOR_DISEASE",
    "NOT_HARDSHIP_REGISTERED", "HARDSHIP_CATEGORY_NOT_ELIGIBLE", "HARDSHIP_UNVERIFIED",
    "HIGH_AMOUNT_REVIEW",
]


@pytest.mark.parametrize("code", SPEC_REASON_CODES)
def test_every_reason_code_has_a_chinese_and_an_english_text(code):
    text = reason_text(code)
    assert text.zh.strip() and text.en.strip()


def test_an_ordinary_claim_of_a_renewing_member_pays_the_first_band_and_the_daily_allowance(engine):
    decision = decide(engine, make_case())
    # 40% of 1,000.00; 10 days x 20.00 (membership year 2).
    assert outcome(decision) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("200.00"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("approved", "600.00")


# ---------------------------------------------------------------- BILL_INCONSISTENT


def test_a_bill_that_does_not_add_up_is_rejected_with_no_lines(engine):
    out = decide(engine, make_case(medfee_sumamt="5000.01")).to_json()
    assert out["status"] == "rejected"
    assert out["total"] == "0.00"
    assert out["lines"] == []
    assert out["reasons"] == ["BILL_INCONSISTENT"]
    assert out["field"] == "medfee_sumamt"


def test_a_rejected_bill_counts_for_nothing_so_its_corrected_posting_is_decided_afresh(engine):
    bad = make_bill("20000.00", setl_id="S-REJ", medfee_sumamt="1.00")
    good = make_bill("1000.00", setl_id="S-REJ")
    rejected, corrected = adjudicate(engine, make_case(bill=bad), make_case(bill=good))
    assert rejected.status == "rejected"
    # Not a duplicate, and the rejected 20,000.00 did not enter the cumulative base: 40%.
    assert outcome(corrected)["MA_IP"] == approved("400.00")
    assert summary(corrected) == ("approved", "600.00")


# ---------------------------------------------------------------- NOT_ENROLLED


def test_a_member_with_no_enrollment_gets_no_mutual_aid(engine):
    decision = decide(engine, make_case(enrollments=[]))
    assert outcome(decision) == {"MA_IP": NOT_ENROLLED, "MA_DA": NOT_ENROLLED, "MA_CI": NOT_ENROLLED, "CIR": NO_RELIEF}
    assert summary(decision) == ("denied", "0.00")


@pytest.mark.parametrize(
    ("begndate", "enddate", "submitted_on"),
    [("2027-01-02", "2027-01-05", "2027-01-10"), ("2024-12-20", "2024-12-30", "2025-01-10")],
)
def test_an_admission_outside_every_enrolled_period_is_not_enrolled(engine, begndate, enddate, submitted_on):
    case = make_case(enrollments=renewing(2025, 2026), begndate=begndate, enddate=enddate,
                     submitted_on=submitted_on, diag_code=LUNG_CANCER)
    lines = outcome(decide(engine, case))
    assert [lines[b] for b in ("MA_IP", "MA_DA", "MA_CI")] == [NOT_ENROLLED] * 3


def test_an_admission_on_the_last_day_of_the_period_is_covered(engine):
    case = make_case(begndate="2026-12-31", enddate="2027-01-04", submitted_on="2027-01-10")
    # Admission date decides the period; 4 days x 20.00.
    assert outcome(decide(engine, case)) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("80.00"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }


def test_not_enrolled_comes_before_the_scope_of_the_line(engine):
    lines = outcome(decide(engine, make_case(enrollments=[], med_type="11")))
    assert lines == {"MA_IP": NOT_ENROLLED, "MA_DA": NOT_ENROLLED, "MA_CI": NOT_ENROLLED, "CIR": NO_RELIEF}


# ---------------------------------------------------------------- INSURANCE_TYPE_NOT_COVERED


def test_a_resident_insurance_settlement_gets_no_mutual_aid_but_still_relief(engine):
    case = make_case(insutype="390", diag_code=LUNG_CANCER, hardship=hardship("near_dibao"))
    decision = decide(engine, case)
    # MA_IP denied, so CIR's base is all of B: 70% of 1,000.00.
    assert outcome(decision) == {
        "MA_IP": denied("INSURANCE_TYPE_NOT_COVERED"),
        "MA_DA": denied("INSURANCE_TYPE_NOT_COVERED"),
        "MA_CI": denied("INSURANCE_TYPE_NOT_COVERED"),
        "CIR": approved("700.00"),
    }
    assert summary(decision) == ("approved", "700.00")


def test_the_insurance_type_is_checked_before_the_hospital_grade(engine):
    lines = outcome(decide(engine, make_case(insutype="390", hosp_lv="11")))
    assert lines["MA_IP"] == denied("INSURANCE_TYPE_NOT_COVERED")
    assert lines["MA_DA"] == denied("INSURANCE_TYPE_NOT_COVERED")


# ---------------------------------------------------------------- HOSPITAL_NOT_ELIGIBLE


def test_a_provider_without_a_grade_gets_no_mutual_aid(engine):
    decision = decide(engine, make_case(hosp_lv="11"))
    # MA_CI is out of scope (not a catalog disease) before eligibility is looked at.
    assert outcome(decision) == {
        "MA_IP": denied("HOSPITAL_NOT_ELIGIBLE"), "MA_DA": denied("HOSPITAL_NOT_ELIGIBLE"),
        "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("denied", "0.00")


def test_the_hospital_grade_is_checked_before_the_deadline(engine):
    lines = outcome(decide(engine, make_case(hosp_lv="11", diag_code=LUNG_CANCER, submitted_on="2027-04-01")))
    assert [lines[b] for b in ("MA_IP", "MA_DA", "MA_CI")] == [denied("HOSPITAL_NOT_ELIGIBLE")] * 3


def test_a_graded_secondary_hospital_is_eligible(engine):
    assert outcome(decide(engine, make_case(hosp_lv="05")))["MA_IP"] == approved("400.00")


# ---------------------------------------------------------------- LATE_SUBMISSION


def test_mutual_aid_may_be_claimed_up_to_90_days_after_the_period_ends(engine):
    # 2026-12-31 + 90 days = 2027-03-31.
    decision = decide(engine, make_case(diag_code=LUNG_CANCER, submitted_on="2027-03-31"))
    assert outcome(decision) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("200.00"), "MA_CI": approved("10000.00"), "CIR": NO_RELIEF,
    }


def test_mutual_aid_claimed_91_days_after_the_period_ends_is_late(engine):
    decision = decide(engine, make_case(diag_code=LUNG_CANCER, submitted_on="2027-04-01"))
    assert outcome(decision) == {
        "MA_IP": denied("LATE_SUBMISSION"), "MA_DA": denied("LATE_SUBMISSION"),
        "MA_CI": denied("LATE_SUBMISSION"), "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("denied", "0.00")


def test_a_late_claim_is_late_before_it_is_inside_the_waiting_period(engine):
    case = make_case(enrollments=first_time("2026-03-01"), begndate="2026-03-10", enddate="2026-03-12",
                     submitted_on="2027-04-01")
    lines = outcome(decide(engine, case))
    assert lines["MA_IP"] == denied("LATE_SUBMISSION")
    assert lines["MA_DA"] == denied("LATE_SUBMISSION")


def test_relief_may_be_claimed_up_to_365_days_after_discharge_even_when_mutual_aid_is_late(engine):
    # Discharged 2026-05-12: relief until 2027-05-12; mutual aid only until 2027-03-31.
    case = make_case(diag_code=LUNG_CANCER, hardship=hardship("near_dibao"), submitted_on="2027-05-12")
    decision = decide(engine, case)
    # MA_IP denied, so CIR's base is all of B: 70% of 1,000.00.
    assert outcome(decision) == {
        "MA_IP": denied("LATE_SUBMISSION"), "MA_DA": denied("LATE_SUBMISSION"),
        "MA_CI": denied("LATE_SUBMISSION"), "CIR": approved("700.00"),
    }
    assert summary(decision) == ("approved", "700.00")


def test_relief_claimed_366_days_after_discharge_is_late(engine):
    case = make_case(enrollments=[], diag_code=LUNG_CANCER, hardship=hardship("near_dibao"), submitted_on="2027-05-13")
    decision = decide(engine, case)
    assert outcome(decision)["CIR"] == denied("LATE_SUBMISSION")
    assert summary(decision) == ("denied", "0.00")


# ---------------------------------------------------------------- WAITING_PERIOD(_REDUCED)


@pytest.mark.parametrize(
    ("begndate", "enddate", "days"),
    [
        ("2026-02-20", "2026-03-02", -9),  # admitted before enrolling
        ("2026-03-01", "2026-03-11", 0),
        ("2026-03-30", "2026-04-09", 29),
    ],
)
def test_a_first_time_member_admitted_within_30_days_of_enrolling_is_in_the_waiting_period(
    engine, begndate, enddate, days
):
    case = make_case(enrollments=first_time("2026-03-01"), begndate=begndate, enddate=enddate, diag_code=LUNG_CANCER)
    decision = decide(engine, case)
    assert outcome(decision) == {
        "MA_IP": denied("WAITING_PERIOD"), "MA_DA": denied("WAITING_PERIOD"),
        "MA_CI": denied("WAITING_PERIOD"), "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("denied", "0.00")


@pytest.mark.parametrize(
    ("begndate", "enddate", "days"), [("2026-03-31", "2026-04-10", 30), ("2026-05-29", "2026-06-08", 89)]
)
def test_from_day_30_to_day_89_mutual_aid_is_halved_and_the_grant_still_waits(engine, begndate, enddate, days):
    case = make_case(enrollments=first_time("2026-03-01"), begndate=begndate, enddate=enddate, diag_code=LUNG_CANCER)
    decision = decide(engine, case)
    # 40% of 1,000.00 = 400.00, halved; 10 days x 10.00 (year 1) = 100.00, halved.
    assert outcome(decision) == {
        "MA_IP": approved("200.00", "WAITING_PERIOD_REDUCED"),
        "MA_DA": approved("50.00", "WAITING_PERIOD_REDUCED"),
        "MA_CI": denied("WAITING_PERIOD"),
        "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("approved", "250.00")


def test_from_day_90_a_first_time_member_is_paid_in_full(engine):
    case = make_case(enrollments=first_time("2026-03-01"), begndate="2026-05-30", enddate="2026-06-09",
                     diag_code=LUNG_CANCER)
    decision = decide(engine, case)
    assert outcome(decision) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("100.00"), "MA_CI": approved("10000.00"), "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("approved", "10500.00")


def test_a_member_enrolled_before_the_period_waits_from_the_period_start(engine):
    # Coverage start = max(2026-01-01, 2025-12-01) = 2026-01-01.
    day_29 = make_case(enrollments=first_time("2025-12-01"), begndate="2026-01-30", enddate="2026-02-09")
    day_30 = make_case(enrollments=first_time("2025-12-01"), begndate="2026-01-31", enddate="2026-02-10")
    waiting, reduced = adjudicate(engine, day_29, day_30)
    assert outcome(waiting)["MA_IP"] == denied("WAITING_PERIOD")
    assert outcome(reduced)["MA_IP"] == approved("200.00", "WAITING_PERIOD_REDUCED")


def test_a_member_back_after_a_gap_waits_again(engine):
    enrollments = [enrollment(2024), enrollment(2026, "2025-12-20")]
    decision = decide(engine, make_case(enrollments=enrollments, begndate="2026-01-20", enddate="2026-01-30"))
    assert outcome(decision) == {
        "MA_IP": denied("WAITING_PERIOD"), "MA_DA": denied("WAITING_PERIOD"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }


def test_a_renewing_member_has_no_waiting_period_from_the_first_day_of_the_period(engine):
    case = make_case(begndate="2026-01-01", enddate="2026-01-11", diag_code=LUNG_CANCER)
    assert outcome(decide(engine, case)) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("200.00"), "MA_CI": approved("10000.00"), "CIR": NO_RELIEF,
    }


def test_a_renewing_member_is_covered_from_the_period_start_even_before_re_enrolling(engine):
    enrollments = [enrollment(2025), enrollment(2026, "2026-02-15")]
    case = make_case(enrollments=enrollments, begndate="2026-01-10", enddate="2026-01-20", diag_code=LUNG_CANCER)
    assert outcome(decide(engine, case)) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("200.00"), "MA_CI": approved("10000.00"), "CIR": NO_RELIEF,
    }


def test_halving_rounds_half_up_to_the_fen(engine):
    case = make_case("1000.03", enrollments=first_time("2026-03-01"), begndate="2026-04-15", enddate="2026-04-25")
    # 40% of 1,000.03 = 400.012 -> 400.01; halved 200.005 -> 200.01.
    assert outcome(decide(engine, case))["MA_IP"] == approved("200.01", "WAITING_PERIOD_REDUCED")


@pytest.mark.parametrize(("b", "paid"), [("300.00", "100.00"), ("100.00", "50.00")])
def test_the_minimum_payout_comes_before_the_waiting_reduction(engine, b, paid):
    case = make_case(b, enrollments=first_time("2026-03-01"), begndate="2026-04-15", enddate="2026-04-25")
    # 300.00: 40% = 120.00 < 200 -> min(200, 300) = 200.00, halved 100.00.
    # 100.00: 40% = 40.00 < 200 -> min(200, 100) = 100.00, halved 50.00.
    assert outcome(decide(engine, case))["MA_IP"] == approved(paid, "MINIMUM_PAYOUT_APPLIED", "WAITING_PERIOD_REDUCED")


# ---------------------------------------------------------------- DUPLICATE_BILL


def test_the_same_bill_posted_twice_is_denied_as_a_duplicate(engine):
    bill = make_bill(setl_id="S-DUP")
    first, again = adjudicate(engine, make_case(bill=bill), make_case(bill=dict(bill)))
    assert summary(first) == ("approved", "600.00")
    assert outcome(again) == {b: denied("DUPLICATE_BILL") for b in ("MA_IP", "MA_DA", "MA_CI", "CIR")}
    assert summary(again) == ("denied", "0.00")


def test_a_bill_already_claimed_by_another_member_is_a_duplicate(engine):
    bill = make_bill(setl_id="S-DUP")
    _, other = adjudicate(engine, make_case(member_id="M1", bill=bill), make_case(member_id="M2", bill=dict(bill)))
    assert outcome(other) == {b: denied("DUPLICATE_BILL") for b in ("MA_IP", "MA_DA", "MA_CI", "CIR")}


def test_a_duplicate_is_decided_before_enrollment_and_a_denied_bill_still_counts_as_adjudicated(engine):
    bill = make_bill(setl_id="S-DUP")
    first, again = adjudicate(
        engine, make_case(member_id="M1", enrollments=[], bill=bill), make_case(member_id="M2", bill=dict(bill))
    )
    assert summary(first) == ("denied", "0.00")
    assert outcome(again) == {b: denied("DUPLICATE_BILL") for b in ("MA_IP", "MA_DA", "MA_CI", "CIR")}


def test_a_duplicate_counts_nothing_twice(engine):
    bill = make_bill("20000.00", setl_id="S-DUP")
    first, again, later = adjudicate(
        engine, make_case(bill=bill), make_case(bill=dict(bill)), make_case("10000.00")
    )
    # 40% of 10,000 + 50% of 10,000 = 9,000.00.
    assert outcome(first)["MA_IP"] == approved("9000.00")
    assert summary(again) == ("denied", "0.00")
    # Cumulative base 20,000 (not 40,000): the next 10,000 is all in the 50% band.
    assert outcome(later)["MA_IP"] == approved("5000.00")


def test_the_same_settlement_id_at_another_hospital_or_another_id_at_the_same_hospital_is_not_a_duplicate(engine):
    decisions = adjudicate(
        engine,
        make_case(fixmedins_code="H1", setl_id="S1"),
        make_case(fixmedins_code="H2", setl_id="S1"),
        make_case(fixmedins_code="H1", setl_id="S2"),
    )
    # Each is new; the bands continue: cumulative base 0, 1,000, 2,000, all at 40%.
    assert [outcome(d)["MA_IP"] for d in decisions] == [approved("400.00")] * 3


# ---------------------------------------------------------------- MED_TYPE_NOT_COVERED


def test_an_ordinary_outpatient_visit_is_outside_every_line(engine):
    case = make_case(med_type="11", diag_code=LUNG_CANCER, hardship=hardship("near_dibao"))
    decision = decide(engine, case)
    assert outcome(decision) == {b: not_applicable("MED_TYPE_NOT_COVERED") for b in ("MA_IP", "MA_DA", "MA_CI", "CIR")}
    assert summary(decision) == ("denied", "0.00")


def test_a_special_outpatient_visit_is_covered_by_mutual_aid_and_relief_but_not_the_allowance_or_grant(engine):
    case = make_case(med_type="14", diag_code=LUNG_CANCER, hardship=hardship("near_dibao"))
    decision = decide(engine, case)
    # MA_IP 40% of 1,000.00 = 400.00; CIR 70% of (1,000.00 - 400.00) = 420.00.
    assert outcome(decision) == {
        "MA_IP": approved("400.00"),
        "MA_DA": not_applicable("MED_TYPE_NOT_COVERED"),
        "MA_CI": not_applicable("MED_TYPE_NOT_COVERED"),
        "CIR": approved("420.00"),
    }
    assert summary(decision) == ("approved", "820.00")


# ---------------------------------------------------------------- ZERO_BASE


def test_a_stay_with_nothing_self_paid_in_scope_gets_no_share_but_the_allowance_and_grant(engine):
    case = make_case("0.00", diag_code=LUNG_CANCER, hardship=hardship("near_dibao"))
    decision = decide(engine, case)
    assert outcome(decision) == {
        "MA_IP": denied("ZERO_BASE"), "MA_DA": approved("200.00"), "MA_CI": approved("10000.00"),
        "CIR": denied("ZERO_BASE"),
    }
    assert summary(decision) == ("approved", "10200.00")


def test_relief_has_nothing_left_when_mutual_aid_paid_all_of_b(engine):
    case = make_case("150.00", diag_code=LUNG_CANCER, hardship=hardship("dibao"))
    decision = decide(engine, case)
    # 40% of 150.00 = 60.00 < 200 -> min(200, 150) = 150.00 = all of B; CIR's base is 0.
    assert outcome(decision) == {
        "MA_IP": approved("150.00", "MINIMUM_PAYOUT_APPLIED"), "MA_DA": approved("200.00"),
        "MA_CI": approved("10000.00"), "CIR": denied("ZERO_BASE"),
    }
    assert summary(decision) == ("approved", "10350.00")


def test_an_unverified_registration_with_nothing_left_is_denied_not_pended(engine):
    case = make_case("0.00", enrollments=[], diag_code=LUNG_CANCER, hardship=hardship("near_dibao", verified=False))
    decision = decide(engine, case)
    assert outcome(decision)["CIR"] == denied("ZERO_BASE")
    assert summary(decision) == ("denied", "0.00")


# ---------------------------------------------------------------- MINIMUM_PAYOUT_APPLIED


@pytest.mark.parametrize(
    ("b", "line"),
    [
        ("300.00", approved("200.00", "MINIMUM_PAYOUT_APPLIED")),  # 120.00 -> 200.00
        ("100.00", approved("100.00", "MINIMUM_PAYOUT_APPLIED")),  # 40.00 -> min(200, B) = 100.00
        ("0.01", approved("0.01", "MINIMUM_PAYOUT_APPLIED")),  # 0.004 -> 0.00 -> 0.01
        ("499.98", approved("200.00", "MINIMUM_PAYOUT_APPLIED")),  # 199.992 -> 199.99 < 200
        ("499.99", approved("200.00")),  # 199.996 -> 200.00: not below the minimum
        ("500.00", approved("200.00")),
        ("500.03", approved("200.01")),  # 200.012 -> 200.01
    ],
)
def test_the_share_is_at_least_200_or_all_of_b(engine, b, line):
    assert outcome(decide(engine, make_case(b)))["MA_IP"] == line


# ---------------------------------------------------------------- ANNUAL_CAP_REACHED / CAP_APPLIED (MA_IP)

# Bands up to 200,000 of cumulative B pay 4,000 + 10,000 + 12,000 + 35,000 + 85,000
# = 146,000; above that 100%, so the 500,000 cap is reached at cumulative B 554,000.


def test_a_share_exactly_at_the_cap_is_not_cut(engine):
    decision = decide(engine, make_case("554000.00"))
    assert outcome(decision)["MA_IP"] == pended("500000.00", "HIGH_AMOUNT_REVIEW")


def test_a_share_above_the_cap_is_cut_to_it(engine):
    decision = decide(engine, make_case("560000.00"))
    # 146,000 + 360,000 = 506,000 -> 500,000.00.
    assert outcome(decision) == {
        "MA_IP": pended("500000.00", "CAP_APPLIED", "HIGH_AMOUNT_REVIEW"),
        "MA_DA": pended("200.00", "HIGH_AMOUNT_REVIEW"),
        "MA_CI": NO_GRANT,
        "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("pended", "500200.00")


def test_the_cap_is_cut_across_admissions_and_then_reached(engine):
    first, second, third = adjudicate(engine, make_case("549000.00"), make_case("6000.00"), make_case("1000.00"))
    # 146,000 + 349,000 = 495,000; then 6,000 at 100% but only 5,000 left; then nothing.
    assert outcome(first)["MA_IP"] == pended("495000.00", "HIGH_AMOUNT_REVIEW")
    assert outcome(second)["MA_IP"] == approved("5000.00", "CAP_APPLIED")
    assert summary(second) == ("approved", "5200.00")
    assert outcome(third) == {
        "MA_IP": denied("ANNUAL_CAP_REACHED"), "MA_DA": approved("200.00"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }
    assert summary(third) == ("approved", "200.00")


def test_the_next_period_starts_the_bands_and_the_cap_afresh(engine):
    enrollments = renewing(2025, 2026, 2027)
    capped = make_case("554000.00", enrollments=enrollments)
    next_year = make_case("1000.00", enrollments=enrollments, begndate="2027-03-01", enddate="2027-03-11",
                          submitted_on="2027-03-20")
    _, decision = adjudicate(engine, capped, next_year)
    # 40% band again; membership year 3: 10 days x 30.00.
    assert outcome(decision) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("300.00"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }


# ---------------------------------------------------------------- CIR caps


def relief_case(b, category="near_dibao", *, verified=True, **fields):
    """A hardship worker who is not in mutual aid: relief's base is all of B."""
    return make_case(b, enrollments=[], diag_code=LUNG_CANCER, hardship=hardship(category, verified=verified), **fields)


@pytest.mark.parametrize(
    ("category", "b", "paid"),
    [
        ("near_dibao", "1000.00", "700.00"),
        ("dibao", "1000.00", "900.00"),
        ("dibao_unenrolled", "1000.00", "900.00"),
        ("near_dibao", "1000.05", "700.04"),  # 700.035 -> 700.04
        ("dibao", "1000.05", "900.05"),  # 900.045 -> 900.05
    ],
)
def test_relief_pays_the_category_rate_of_what_is_left_rounded_half_up(engine, category, b, paid):
    decision = decide(engine, relief_case(b, category))
    assert outcome(decision) == {"MA_IP": NOT_ENROLLED, "MA_DA": NOT_ENROLLED, "MA_CI": NOT_ENROLLED,
                                 "CIR": approved(paid)}
    assert summary(decision) == ("approved", paid)


def test_near_dibao_relief_is_capped_at_40000_per_calendar_year_of_admission(engine):
    decisions = adjudicate(
        engine,
        relief_case("50000.00"),  # 35,000.00
        relief_case("10000.00"),  # 7,000.00, but 5,000.00 left
        relief_case("1000.00"),  # nothing left
        relief_case("1000.00", begndate="2026-12-30", enddate="2027-01-05", submitted_on="2027-01-20"),
        relief_case("1000.00", begndate="2027-01-06", enddate="2027-01-16", submitted_on="2027-01-20"),
    )
    assert [outcome(d)["CIR"] for d in decisions] == [
        approved("35000.00"),
        approved("5000.00", "CAP_APPLIED"),
        denied("ANNUAL_CAP_REACHED"),
        denied("ANNUAL_CAP_REACHED"),  # admitted in 2026, discharged in 2027: counts in 2026
        approved("700.00"),  # a new calendar year
    ]
    assert [summary(d)[0] for d in decisions] == ["approved", "approved", "denied", "denied", "approved"]


def test_dibao_relief_is_capped_at_60000(engine):
    first, second = adjudicate(engine, relief_case("70000.00", "dibao"), relief_case("1000.00", "dibao"))
    # 90% of 70,000 = 63,000 -> 60,000.00, above 50,000 so held for review.
    assert outcome(first)["CIR"] == pended("60000.00", "CAP_APPLIED", "HIGH_AMOUNT_REVIEW")
    assert outcome(second)["CIR"] == denied("ANNUAL_CAP_REACHED")


def test_relief_takes_what_is_left_after_the_final_halved_mutual_aid_amount(engine):
    case = make_case(enrollments=first_time("2026-03-01"), begndate="2026-04-15", enddate="2026-04-25",
                     diag_code=LUNG_CANCER, hardship=hardship("near_dibao"))
    decision = decide(engine, case)
    # MA_IP 400.00 halved = 200.00; CIR 70% of (1,000.00 - 200.00) = 560.00.
    assert outcome(decision) == {
        "MA_IP": approved("200.00", "WAITING_PERIOD_REDUCED"),
        "MA_DA": approved("50.00", "WAITING_PERIOD_REDUCED"),
        "MA_CI": denied("WAITING_PERIOD"),
        "CIR": approved("560.00"),
    }
    assert summary(decision) == ("approved", "810.00")


def test_relief_takes_what_is_left_after_the_banded_mutual_aid_share(engine):
    decision = decide(engine, make_case("14000.00", diag_code=LUNG_CANCER, hardship=hardship("dibao")))
    # MA_IP 40% x 10,000 + 50% x 4,000 = 6,000.00; CIR 90% of 8,000 = 7,200.00.
    assert outcome(decision) == {
        "MA_IP": approved("6000.00"), "MA_DA": approved("200.00"), "MA_CI": approved("10000.00"),
        "CIR": approved("7200.00"),
    }
    assert summary(decision) == ("approved", "23400.00")


# ---------------------------------------------------------------- DAYS_CAP_REACHED


def test_the_allowance_stops_at_180_days_in_the_period(engine):
    full = make_case(begndate="2026-01-01", enddate="2026-06-30", submitted_on="2026-08-01")  # 180 days
    more = make_case(begndate="2026-07-10", enddate="2026-07-15", submitted_on="2026-08-01")
    first, second = adjudicate(engine, full, more)
    assert outcome(first)["MA_DA"] == approved("3600.00")  # 180 x 20.00
    assert outcome(second) == {
        "MA_IP": approved("400.00"), "MA_DA": denied("DAYS_CAP_REACHED"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }


def test_the_allowance_pays_only_the_days_left(engine):
    most = make_case(begndate="2026-01-01", enddate="2026-06-25", submitted_on="2026-08-01")  # 175 days
    more = make_case(begndate="2026-07-01", enddate="2026-07-11", submitted_on="2026-08-01")  # 10 days, 5 left
    first, second = adjudicate(engine, most, more)
    assert outcome(first)["MA_DA"] == approved("3500.00")
    assert outcome(second)["MA_DA"] == approved("100.00", "CAP_APPLIED")


def test_halved_days_count_in_full_toward_the_180(engine):
    enrollments = first_time("2025-12-01")  # coverage from 2026-01-01
    reduced = make_case(enrollments=enrollments, begndate="2026-02-15", enddate="2026-08-09",  # day 45, 175 days
                        submitted_on="2026-09-20")
    full = make_case(enrollments=enrollments, begndate="2026-09-01", enddate="2026-09-11", submitted_on="2026-09-20")
    first, second = adjudicate(engine, reduced, full)
    # 175 x 10.00 = 1,750.00 halved = 875.00; then 5 days left x 10.00.
    assert outcome(first) == {
        "MA_IP": approved("200.00", "WAITING_PERIOD_REDUCED"),
        "MA_DA": approved("875.00", "WAITING_PERIOD_REDUCED"),
        "MA_CI": NO_GRANT,
        "CIR": NO_RELIEF,
    }
    # Cumulative base 1,000 (counted in full too): 40% of the next 1,000.
    assert outcome(second) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("50.00", "CAP_APPLIED"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }


def test_a_halved_allowance_for_the_days_left_is_cut_then_halved(engine):
    enrollments = first_time("2025-12-01")  # coverage from 2026-01-01
    most = make_case(enrollments=enrollments, begndate="2026-04-01", enddate="2026-09-23",  # day 90, 175 days
                     submitted_on="2026-10-10")
    reduced = make_case(enrollments=enrollments, begndate="2026-02-15", enddate="2026-02-25",  # day 45
                        submitted_on="2026-10-10")
    first, second = adjudicate(engine, most, reduced)
    assert outcome(first)["MA_DA"] == approved("1750.00")  # 175 x 10.00
    # 5 days left x 10.00 = 50.00, halved.
    assert outcome(second)["MA_DA"] == approved("25.00", "CAP_APPLIED", "WAITING_PERIOD_REDUCED")


# ---------------------------------------------------------------- DISEASE_NOT_IN_CATALOG


def test_a_disease_outside_the_catalog_gets_no_grant_and_no_relief(engine):
    decision = decide(engine, make_case(hardship=hardship("near_dibao")))
    assert outcome(decision) == {
        "MA_IP": approved("400.00"), "MA_DA": approved("200.00"),
        "MA_CI": not_applicable("DISEASE_NOT_IN_CATALOG"), "CIR": not_applicable("DISEASE_NOT_IN_CATALOG"),
    }
    assert summary(decision) == ("approved", "600.00")


def test_the_disease_is_out_of_scope_before_the_hardship_category_is_looked_at(engine):
    lines = outcome(decide(engine, make_case(hardship=hardship("accident"))))
    assert lines["CIR"] == not_applicable("DISEASE_NOT_IN_CATALOG")


# ---------------------------------------------------------------- ALREADY_PAID_FOR_DISEASE


def test_the_grant_is_paid_once_per_disease_per_period(engine):
    decisions = adjudicate(
        engine,
        make_case(diag_code=LUNG_CANCER),
        make_case(diag_code="C50.900"),  # breast cancer: the same catalog disease CI01
        make_case(diag_code=HEART_ATTACK),  # CI02: another disease
    )
    assert [outcome(d)["MA_CI"] for d in decisions] == [
        approved("10000.00"), denied("ALREADY_PAID_FOR_DISEASE"), approved("10000.00"),
    ]
    # The other lines go on: cumulative base 0, 1,000, 2,000 all at 40%.
    assert [summary(d) for d in decisions] == [("approved", "10600.00"), ("approved", "600.00"),
                                              ("approved", "10600.00")]


def test_the_grant_is_paid_again_for_the_same_disease_in_the_next_period(engine):
    enrollments = renewing(2025, 2026, 2027)
    first, second = adjudicate(
        engine,
        make_case(enrollments=enrollments, diag_code=LUNG_CANCER),
        make_case(enrollments=enrollments, diag_code=LUNG_CANCER, begndate="2027-02-01", enddate="2027-02-11",
                  submitted_on="2027-03-01"),
    )
    assert outcome(first)["MA_CI"] == approved("10000.00")
    assert outcome(second)["MA_CI"] == approved("10000.00")


def test_a_pended_grant_reserves_the_disease(engine):
    first, second = adjudicate(engine, make_case("84000.00", diag_code=LUNG_CANCER), make_case(diag_code=LUNG_CANCER))
    # 4,000 + 10,000 + 12,000 + 70% x 34,000 = 49,800; with 200 + 10,000 above 50,000.
    assert outcome(first) == {
        "MA_IP": pended("49800.00", "HIGH_AMOUNT_REVIEW"), "MA_DA": pended("200.00", "HIGH_AMOUNT_REVIEW"),
        "MA_CI": pended("10000.00", "HIGH_AMOUNT_REVIEW"), "CIR": NO_RELIEF,
    }
    # The pended base counts too: the next 1,000 is in the 70% band.
    assert outcome(second) == {
        "MA_IP": approved("700.00"), "MA_DA": approved("200.00"),
        "MA_CI": denied("ALREADY_PAID_FOR_DISEASE"), "CIR": NO_RELIEF,
    }
    assert summary(second) == ("approved", "900.00")


# ---------------------------------------------------------------- NOT_HARDSHIP_REGISTERED


@pytest.mark.parametrize(
    ("registered_on", "revoked_on", "line"),
    [
        ("2026-05-03", None, not_applicable("NOT_HARDSHIP_REGISTERED")),  # registered after admission
        ("2026-05-02", None, approved("700.00")),  # registered on the day of admission
        ("2024-06-01", "2026-05-02", not_applicable("NOT_HARDSHIP_REGISTERED")),  # revoked on that day
        ("2024-06-01", "2026-04-01", not_applicable("NOT_HARDSHIP_REGISTERED")),  # revoked before
        ("2024-06-01", "2026-05-03", approved("700.00")),  # revoked the day after
    ],
)
def test_relief_needs_a_registration_active_on_the_day_of_admission(engine, registered_on, revoked_on, line):
    registration = hardship("near_dibao", registered_on=registered_on, revoked_on=revoked_on)
    case = make_case(enrollments=[], diag_code=LUNG_CANCER, hardship=registration)
    assert outcome(decide(engine, case))["CIR"] == line


def test_a_member_without_a_registration_gets_no_relief(engine):
    assert outcome(decide(engine, make_case(diag_code=LUNG_CANCER)))["CIR"] == NO_RELIEF


# ---------------------------------------------------------------- HARDSHIP_CATEGORY_NOT_ELIGIBLE


@pytest.mark.parametrize("verified", [True, False])
def test_an_accident_hardship_household_is_not_eligible_for_relief(engine, verified):
    decision = decide(engine, relief_case("1000.00", "accident", verified=verified))
    assert outcome(decision)["CIR"] == denied("HARDSHIP_CATEGORY_NOT_ELIGIBLE")
    assert summary(decision) == ("denied", "0.00")


def test_the_category_is_checked_before_the_relief_deadline(engine):
    decision = decide(engine, relief_case("1000.00", "accident", submitted_on="2027-06-01"))
    assert outcome(decision)["CIR"] == denied("HARDSHIP_CATEGORY_NOT_ELIGIBLE")


# ---------------------------------------------------------------- HARDSHIP_UNVERIFIED


def test_relief_for_an_unverified_registration_is_pended_with_its_amount(engine):
    case = make_case("7000.00", begndate="2026-05-02", enddate="2026-05-09", diag_code=LUNG_CANCER,
                     hardship=hardship("dibao", verified=False))
    decision = decide(engine, case)
    # MA_IP 40% of 7,000 = 2,800.00; 7 days x 20.00; CIR 90% of 4,200 = 3,780.00.
    assert outcome(decision) == {
        "MA_IP": approved("2800.00"), "MA_DA": approved("140.00"), "MA_CI": approved("10000.00"),
        "CIR": pended("3780.00", "HARDSHIP_UNVERIFIED"),
    }
    assert summary(decision) == ("pended", "16720.00")


def test_pended_relief_reserves_the_yearly_cap(engine):
    first, second = adjudicate(engine, relief_case("50000.00", verified=False), relief_case("10000.00", verified=False))
    assert outcome(first)["CIR"] == pended("35000.00", "HARDSHIP_UNVERIFIED")
    assert outcome(second)["CIR"] == pended("5000.00", "CAP_APPLIED", "HARDSHIP_UNVERIFIED")
    assert summary(second) == ("pended", "5000.00")


# ---------------------------------------------------------------- HIGH_AMOUNT_REVIEW


def test_a_claim_of_exactly_50000_is_not_held_for_review(engine):
    decision = decide(engine, make_case("84000.00"))
    # 49,800.00 + 200.00 = 50,000.00: not strictly above.
    assert outcome(decision) == {
        "MA_IP": approved("49800.00"), "MA_DA": approved("200.00"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("approved", "50000.00")


def test_a_claim_one_fen_above_50000_is_held_for_review(engine):
    decision = decide(engine, make_case("84000.02"))
    # 26,000 + 70% x 34,000.02 = 49,800.014 -> 49,800.01; with 200.00: 50,000.01.
    assert outcome(decision) == {
        "MA_IP": pended("49800.01", "HIGH_AMOUNT_REVIEW"), "MA_DA": pended("200.00", "HIGH_AMOUNT_REVIEW"),
        "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("pended", "50000.01")


def test_lines_already_pended_keep_their_own_reason_and_count_toward_the_high_amount(engine):
    case = make_case("50000.00", diag_code=LUNG_CANCER, hardship=hardship("dibao", verified=False))
    decision = decide(engine, case)
    # Approved: 26,000 + 200 + 10,000 = 36,200 (not above 50,000 alone);
    # with CIR 90% of 24,000 = 21,600 pended: 57,800.
    assert outcome(decision) == {
        "MA_IP": pended("26000.00", "HIGH_AMOUNT_REVIEW"),
        "MA_DA": pended("200.00", "HIGH_AMOUNT_REVIEW"),
        "MA_CI": pended("10000.00", "HIGH_AMOUNT_REVIEW"),
        "CIR": pended("21600.00", "HARDSHIP_UNVERIFIED"),
    }
    assert summary(decision) == ("pended", "57800.00")


# ---------------------------------------------------------------- membership year and daily rate


@pytest.mark.parametrize(
    ("enrollments", "allowance"),
    [
        (first_time("2025-12-01"), "100.00"),  # year 1, admitted on day 121
        (renewing(2025, 2026), "200.00"),  # year 2
        (renewing(2024, 2025, 2026), "300.00"),  # year 3
        (renewing(2021, 2022, 2023, 2024, 2025, 2026), "300.00"),  # year 6 pays the year-3 rate
        ([enrollment(2026), enrollment(2024), enrollment(2025)], "300.00"),  # listed in any order
        ([enrollment(2023), enrollment(2024), enrollment(2026)], "100.00"),  # a gap restarts at year 1
        (renewing(2026, 2027), "100.00"),  # later periods do not count
    ],
)
def test_the_daily_allowance_follows_the_membership_year(engine, enrollments, allowance):
    # 10 days at 10.00, 20.00 or 30.00.
    assert outcome(decide(engine, make_case(enrollments=enrollments)))["MA_DA"] == approved(allowance)


# ---------------------------------------------------------------- cumulative bands


def test_second_admission_continues_the_bands_from_the_cumulative_base(engine):
    first, second = adjudicate(engine, make_case("8000.00"), make_case("30000.00"))
    # 40% x 8,000 = 3,200; then 40% x 2,000 + 50% x 20,000 + 60% x 8,000 = 800 + 10,000 + 4,800.
    assert outcome(first)["MA_IP"] == approved("3200.00")
    assert outcome(second)["MA_IP"] == approved("15600.00")
    (whole,) = adjudicate(engine, make_case("38000.00"))
    # 4,000 + 10,000 + 4,800 = 18,800 = 3,200 + 15,600: splitting changes nothing.
    assert outcome(whole)["MA_IP"] == approved("18800.00")


def test_the_band_shares_of_a_claim_are_rounded_once_not_band_by_band(engine):
    first, second = adjudicate(engine, make_case("9999.98"), make_case("10000.03"))
    # 40% x 9,999.98 = 3,999.992 -> 3,999.99.
    # Then 40% x 0.02 + 50% x 10,000.01 = 0.008 + 5,000.005 = 5,000.013 -> 5,000.01
    # (band by band it would be 0.01 + 5,000.01 = 5,000.02).
    assert outcome(first)["MA_IP"] == approved("3999.99")
    assert outcome(second)["MA_IP"] == approved("5000.01")


def test_a_denied_share_adds_nothing_to_the_cumulative_base(engine):
    enrollments = first_time("2026-03-01")
    waiting = make_case("20000.00", enrollments=enrollments, begndate="2026-03-11", enddate="2026-03-21")
    later = make_case("1000.00", enrollments=enrollments, begndate="2026-06-01", enddate="2026-06-11")
    first, second = adjudicate(engine, waiting, later)
    assert outcome(first)["MA_IP"] == denied("WAITING_PERIOD")
    assert outcome(second)["MA_IP"] == approved("400.00")


def test_a_halved_share_adds_its_whole_base_to_the_cumulative_base(engine):
    enrollments = first_time("2026-03-01")
    reduced = make_case("10000.00", enrollments=enrollments, begndate="2026-04-15", enddate="2026-04-25")
    later = make_case("1000.00", enrollments=enrollments, begndate="2026-06-01", enddate="2026-06-11")
    first, second = adjudicate(engine, reduced, later)
    assert outcome(first)["MA_IP"] == approved("2000.00", "WAITING_PERIOD_REDUCED")  # 4,000 halved
    assert outcome(second)["MA_IP"] == approved("500.00")  # cumulative 10,000: 50% band


def test_members_do_not_share_cumulative_bases(engine):
    first, other = adjudicate(engine, make_case("20000.00", member_id="M1"), make_case("1000.00", member_id="M2"))
    assert outcome(first)["MA_IP"] == approved("9000.00")
    assert outcome(other)["MA_IP"] == approved("400.00")


# ---------------------------------------------------------------- informational reasons on denied lines


def test_a_halved_share_that_meets_an_exhausted_cap_carries_only_the_cap_reason(engine):
    enrollments = first_time("2026-03-01")
    capped = make_case("554000.00", enrollments=enrollments, begndate="2026-06-01", enddate="2026-06-11")
    reduced = make_case("300.00", enrollments=enrollments, begndate="2026-04-15", enddate="2026-04-25")
    first, second = adjudicate(engine, capped, reduced)
    assert outcome(first)["MA_IP"] == pended("500000.00", "HIGH_AMOUNT_REVIEW")
    assert outcome(second) == {
        "MA_IP": denied("ANNUAL_CAP_REACHED"),
        "MA_DA": approved("50.00", "WAITING_PERIOD_REDUCED"),
        "MA_CI": NO_GRANT,
        "CIR": NO_RELIEF,
    }


def test_a_halved_allowance_with_no_days_left_carries_only_the_days_reason(engine):
    enrollments = first_time("2025-12-01")  # coverage from 2026-01-01
    full = make_case(enrollments=enrollments, begndate="2026-04-01", enddate="2026-09-28",  # day 90, 180 days
                     submitted_on="2026-10-10")
    reduced = make_case(enrollments=enrollments, begndate="2026-02-15", enddate="2026-02-25",  # day 45
                        submitted_on="2026-10-10")
    first, second = adjudicate(engine, full, reduced)
    assert outcome(first)["MA_DA"] == approved("1800.00")  # 180 x 10.00
    assert outcome(second) == {
        "MA_IP": approved("200.00", "WAITING_PERIOD_REDUCED"),  # cumulative 1,000: 40% of 1,000, halved
        "MA_DA": denied("DAYS_CAP_REACHED"),
        "MA_CI": NO_GRANT,
        "CIR": NO_RELIEF,
    }


# ---------------------------------------------------------------- claim status (section 8)


def test_a_claim_with_any_pended_line_is_pended_even_when_every_other_line_is_not_applicable(engine):
    decision = decide(engine, relief_case("1000.00", verified=False))
    assert outcome(decision) == {"MA_IP": NOT_ENROLLED, "MA_DA": NOT_ENROLLED, "MA_CI": NOT_ENROLLED,
                                 "CIR": pended("700.00", "HARDSHIP_UNVERIFIED")}
    assert summary(decision) == ("pended", "700.00")


def test_a_claim_that_pays_anything_is_approved_even_when_other_lines_are_denied(engine):
    decision = decide(engine, make_case("0.00"))
    assert outcome(decision) == {
        "MA_IP": denied("ZERO_BASE"), "MA_DA": approved("200.00"), "MA_CI": NO_GRANT, "CIR": NO_RELIEF,
    }
    assert summary(decision) == ("approved", "200.00")


def test_a_claim_that_pays_nothing_is_denied(engine):
    decision = decide(engine, make_case(diag_code=LUNG_CANCER, submitted_on="2027-04-01"))
    assert summary(decision) == ("denied", "0.00")


def test_every_benefit_line_of_the_plan_appears_once_in_the_plan_order(engine):
    for case in (make_case(), make_case(enrollments=[]), make_case(med_type="11")):
        assert [line.benefit for line in decide(engine, case).lines] == ["MA_IP", "MA_DA", "MA_CI", "CIR"]
