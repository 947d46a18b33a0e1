"""The hospital settlement: the section-2 checks, in the plan's order, and B and LOS."""

import datetime as dt
import json

import pytest

from builders import adjudicate, decide, make_bill, make_case, outcome
from claims.errors import BillInconsistent, InvalidCase
from claims.settlement import parse_settlement

REQUIRED_IN_ORDER = [
    "fixmedins_code",
    "setl_id",
    "hosp_lv",
    "insutype",
    "med_type",
    "begndate",
    "enddate",
    "diagnoses",
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
]
AMOUNTS_IN_ORDER = [
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "hifp_pay",
    "hifob_pay",
    "hifmi_pay",
    "cvlserv_pay",
    "hifes_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
]
COMPONENT_FUNDS = ["hifp_pay", "hifob_pay", "hifmi_pay", "cvlserv_pay", "hifes_pay", "maf_pay", "oth_pay"]


def rejected_field(bill) -> str:
    with pytest.raises(BillInconsistent) as err:
        parse_settlement(bill)
    return err.value.field


def test_a_bill_that_adds_up_is_accepted_with_every_amount_in_fen():
    bill = parse_settlement(make_bill("1000.00", fund="4000.00", own_pay="250.50"))
    assert bill.medfee_sumamt == 525050
    assert bill.fulamt_ownpay_amt == 25050
    assert bill.inscp_scp_amt == 500000
    assert bill.fund_pay_sumamt == bill.hifp_pay == 400000
    assert bill.psn_part_amt == bill.psn_cash_pay == 125050


# ------------------------------------------------------------------ presence


@pytest.mark.parametrize("field", REQUIRED_IN_ORDER)
def test_a_missing_required_field_rejects_the_bill_naming_it(field):
    bill = make_bill()
    del bill[field]
    assert rejected_field(bill) == field


@pytest.mark.parametrize("field", REQUIRED_IN_ORDER)
def test_a_null_required_field_counts_as_missing(field):
    assert rejected_field(make_bill(**{field: None})) == field


@pytest.mark.parametrize("field", [f for f in REQUIRED_IN_ORDER if f != "diagnoses"])
def test_an_empty_or_blank_required_field_counts_as_missing(field):
    assert rejected_field(make_bill(**{field: ""})) == field
    assert rejected_field(make_bill(**{field: "   "})) == field


def test_the_first_missing_field_in_the_plan_order_is_named():
    bill = make_bill()
    del bill["psn_cash_pay"], bill["med_type"], bill["setl_id"]
    assert rejected_field(bill) == "setl_id"


def test_presence_is_checked_before_any_amount_is_read():
    bill = make_bill(medfee_sumamt="-1.00")
    del bill["psn_cash_pay"]
    assert rejected_field(bill) == "psn_cash_pay"


@pytest.mark.parametrize("fund", COMPONENT_FUNDS)
def test_an_absent_or_null_component_fund_counts_as_zero(fund):
    # Nothing paid by any fund: every component may be left out.
    absent = make_bill("1000.00", fund="0.00")
    del absent[fund]
    assert getattr(parse_settlement(absent), fund) == 0
    assert getattr(parse_settlement(make_bill("1000.00", fund="0.00", **{fund: None})), fund) == 0


def test_a_bill_without_any_component_fund_adds_up_when_the_funds_paid_nothing():
    bill = make_bill("1000.00", fund="0.00")
    for fund in COMPONENT_FUNDS:
        del bill[fund]
    settlement = parse_settlement(bill)
    assert settlement.fund_pay_sumamt == 0
    assert settlement.in_policy_self_pay == 100000


def test_an_absent_component_fund_still_has_to_add_up_to_the_fund_total():
    bill = make_bill("1000.00", fund="4000.00")
    del bill["hifp_pay"]  # the 4,000.00 of the pool is now unaccounted for
    assert rejected_field(bill) == "fund_pay_sumamt"


# ------------------------------------------------------------------ amounts


@pytest.mark.parametrize("field", AMOUNTS_IN_ORDER)
@pytest.mark.parametrize("bad", ["abc", "-1.00", "-0.01", "12.345", "NaN", "Infinity", "1,000.00"])
def test_an_amount_that_is_not_a_non_negative_two_decimal_number_is_named(field, bad):
    assert rejected_field(make_bill(**{field: bad})) == field


@pytest.mark.parametrize("field", AMOUNTS_IN_ORDER)
def test_a_float_amount_is_refused(field):
    assert rejected_field(make_bill(**{field: 100.5})) == field


@pytest.mark.parametrize("field", AMOUNTS_IN_ORDER)
def test_an_amount_above_a_hundred_million_yuan_is_named(field):
    """Sixteen-digit amounts were taken, and a hospital's day totals overflowed SQLite's SUM."""
    assert rejected_field(make_bill(**{field: "100000000.01"})) == field
    assert rejected_field(make_bill(**{field: "9999999999999999.99"})) == field


def test_a_bill_of_a_hundred_million_yuan_is_the_largest_taken():
    bill = parse_settlement(make_bill("1000.00", fund="99999000.00"))
    assert bill.medfee_sumamt == 100_000_000 * 100


def test_a_third_decimal_that_is_zero_is_accepted():
    bill = make_bill("1000.00", fund="4000.00")
    bill["medfee_sumamt"] = "5000.000"
    bill["psn_cash_pay"] = "1000.0000"
    settlement = parse_settlement(bill)
    assert settlement.medfee_sumamt == 500000
    assert settlement.psn_cash_pay == 100000


def test_integer_amounts_are_read_as_whole_yuan():
    bill = make_bill("1000.00", fund="4000.00", medfee_sumamt=5000, hifp_pay=4000)
    assert parse_settlement(bill).medfee_sumamt == 500000


def test_amounts_are_checked_in_the_order_of_the_field_list():
    assert rejected_field(make_bill(psn_cash_pay="x", hifob_pay="-1", medfee_sumamt="1.001")) == "medfee_sumamt"
    assert rejected_field(make_bill(psn_cash_pay="x", hifob_pay="-1")) == "hifob_pay"
    assert rejected_field(make_bill(psn_cash_pay="x", fund_pay_sumamt="1.001")) == "fund_pay_sumamt"


def test_a_bad_amount_is_named_before_the_dates_are_compared():
    assert rejected_field(make_bill(begndate="2026-05-12", enddate="2026-05-02", acct_pay="-5")) == "acct_pay"


# ------------------------------------------------------------------ dates and diagnoses


def test_a_discharge_before_the_admission_is_named_as_enddate():
    assert rejected_field(make_bill(begndate="2026-05-12", enddate="2026-05-11")) == "enddate"


def test_dates_are_compared_before_the_main_diagnosis_is_counted():
    bill = make_bill(begndate="2026-05-12", enddate="2026-05-11", diagnoses=[])
    assert rejected_field(bill) == "enddate"


def test_a_bill_without_a_main_diagnosis_is_named_as_diagnoses():
    no_main = [{"diag_code": "C34.900", "diag_name": "", "maindiag_flag": "0"}]
    assert rejected_field(make_bill(diagnoses=no_main)) == "diagnoses"
    assert rejected_field(make_bill(diagnoses=[])) == "diagnoses"


def test_a_bill_with_two_main_diagnoses_is_named_as_diagnoses():
    two = [
        {"diag_code": "C34.900", "diag_name": "", "maindiag_flag": "1"},
        {"diag_code": "J18.900", "diag_name": "", "maindiag_flag": "1"},
    ]
    assert rejected_field(make_bill(diagnoses=two)) == "diagnoses"


def test_the_main_diagnosis_is_checked_before_the_sums():
    two = [
        {"diag_code": "C34.900", "diag_name": "", "maindiag_flag": "1"},
        {"diag_code": "J18.900", "diag_name": "", "maindiag_flag": "1"},
    ]
    assert rejected_field(make_bill(diagnoses=two, fund_pay_sumamt="1.00")) == "diagnoses"


def test_the_main_diagnosis_is_the_one_flagged_1():
    diagnoses = [
        {"diag_code": "J18.900", "diag_name": "肺炎", "maindiag_flag": "0"},
        {"diag_code": "C34.900", "diag_name": "肺恶性肿瘤", "maindiag_flag": "1"},
    ]
    assert parse_settlement(make_bill(diagnoses=diagnoses)).main_diagnosis.diag_code == "C34.900"


@pytest.mark.parametrize(
    ("begndate", "enddate"),
    [
        ("2026-05-02 08:30:00", "2026-05-12 17:45:00"),
        ("2026-05-02T08:30:00", "2026-05-12T07:00:00"),
        ("2026-05-02", "2026-05-12 23:59:59"),
    ],
)
def test_a_time_of_day_is_ignored_only_the_date_counts(begndate, enddate):
    bill = parse_settlement(make_bill(begndate=begndate, enddate=enddate))
    assert bill.begndate == dt.date(2026, 5, 2)
    assert bill.enddate == dt.date(2026, 5, 12)
    assert bill.length_of_stay == 10


def test_a_discharge_earlier_in_the_day_of_admission_is_not_before_it():
    bill = parse_settlement(make_bill(begndate="2026-05-02 18:00:00", enddate="2026-05-02 08:00:00"))
    assert bill.length_of_stay == 1


def test_a_date_that_does_not_parse_makes_the_case_invalid_not_the_bill_inconsistent():
    with pytest.raises(InvalidCase) as err:
        parse_settlement(make_bill(begndate="2026-02-30"))
    assert err.value.field == "bill.begndate"


# ------------------------------------------------------------------ the four sums


def test_the_fund_total_must_be_the_sum_of_the_seven_funds():
    assert rejected_field(make_bill(hifp_pay="3999.99")) == "fund_pay_sumamt"
    assert rejected_field(make_bill(hifob_pay="0.01")) == "fund_pay_sumamt"


def test_the_fund_total_may_be_spread_over_several_funds():
    bill = make_bill("1000.00", fund="4000.00", hifp_pay="1000.00", hifob_pay="500.00", hifmi_pay="400.00",
                     cvlserv_pay="300.00", hifes_pay="200.00", maf_pay="100.00", oth_pay="1500.00")
    assert parse_settlement(bill).fund_pay_sumamt == 400000


def test_the_total_cost_must_be_the_funds_plus_the_person_share():
    assert rejected_field(make_bill(medfee_sumamt="5000.01")) == "medfee_sumamt"
    # The person's share is wrong on both sides of its own equation: the total is named first.
    assert rejected_field(make_bill(psn_part_amt="999.99", psn_cash_pay="999.99")) == "medfee_sumamt"


def test_the_in_scope_amount_must_be_the_total_less_the_self_paid_parts():
    assert rejected_field(make_bill(inscp_scp_amt="4999.99")) == "inscp_scp_amt"
    assert rejected_field(make_bill(preselfpay_amt="0.01")) == "inscp_scp_amt"
    assert rejected_field(make_bill(overlmt_selfpay="10.00")) == "inscp_scp_amt"
    assert rejected_field(make_bill(fulamt_ownpay_amt="1.00")) == "inscp_scp_amt"


def test_the_person_share_must_be_account_plus_cash():
    assert rejected_field(make_bill(psn_cash_pay="999.99")) == "psn_part_amt"
    assert rejected_field(make_bill(acct_pay="0.01")) == "psn_part_amt"


def test_the_person_share_may_be_split_between_account_and_cash():
    bill = parse_settlement(make_bill("1000.00", acct_pay="400.00", psn_cash_pay="600.00"))
    assert (bill.acct_pay, bill.psn_cash_pay, bill.psn_part_amt) == (40000, 60000, 100000)


def test_the_sums_are_checked_in_the_plan_order():
    # Every sum is wrong: the first equation is named, then the next once it is fixed.
    broken = {"hifp_pay": "3000.00", "medfee_sumamt": "9000.00", "inscp_scp_amt": "1.00", "acct_pay": "7.00"}
    assert rejected_field(make_bill(**broken)) == "fund_pay_sumamt"
    del broken["hifp_pay"]
    assert rejected_field(make_bill(**broken)) == "medfee_sumamt"
    del broken["medfee_sumamt"]
    assert rejected_field(make_bill(**broken)) == "inscp_scp_amt"
    del broken["inscp_scp_amt"]
    assert rejected_field(make_bill(**broken)) == "psn_part_amt"


def test_json_numbers_are_exact_decimals_so_point_one_plus_point_two_is_point_three(engine):
    # In binary floating point 0.1 + 0.2 != 0.3; the case file reads numbers as decimals.
    bill = make_bill("1000.00", fund="0.30", hifp_pay="@HIFP", hifob_pay="@HIFOB", fund_pay_sumamt="@FUND")
    line = json.dumps(make_case(bill=bill), ensure_ascii=False)
    line = line.replace('"@HIFP"', "0.1").replace('"@HIFOB"', "0.2").replace('"@FUND"', "0.30")
    (decision,) = adjudicate(engine, line)
    assert decision.status == "approved"
    assert outcome(decision)["MA_IP"] == ("approved", "400.00", [])


# ------------------------------------------------------------------ B and LOS


def test_b_is_the_in_scope_amount_less_every_fund():
    bill = parse_settlement(make_bill("1234.56", fund="8765.44", own_pay="300.00"))
    assert bill.in_policy_self_pay == 123456


def test_b_is_zero_when_the_funds_paid_more_than_the_in_scope_amount():
    # 10,000 in total, 3,000 of it outside the lists, 8,000 paid by funds: in scope 7,000.
    bill = make_bill(medfee_sumamt="10000.00", fulamt_ownpay_amt="3000.00", inscp_scp_amt="7000.00",
                     hifp_pay="8000.00", fund_pay_sumamt="8000.00", psn_part_amt="2000.00",
                     psn_cash_pay="2000.00")
    assert parse_settlement(bill).in_policy_self_pay == 0


@pytest.mark.parametrize(
    ("begndate", "enddate", "days"),
    [
        ("2026-05-02", "2026-05-02", 1),  # same-day discharge
        ("2026-05-02", "2026-05-03", 1),
        ("2026-05-02", "2026-05-04", 2),
        ("2026-05-02", "2026-05-12", 10),
        ("2026-12-25", "2027-01-05", 11),
        ("2028-02-28", "2028-03-01", 2),  # leap year
    ],
)
def test_days_in_hospital_are_the_dates_apart_and_at_least_one(begndate, enddate, days):
    assert parse_settlement(make_bill(begndate=begndate, enddate=enddate)).length_of_stay == days


def test_a_rejected_bill_has_no_lines_and_names_its_field(engine):
    decision = decide(engine, make_case(fund_pay_sumamt="3999.99"))
    out = decision.to_json()
    assert out["status"] == "rejected"
    assert out["total"] == "0.00"
    assert out["lines"] == []
    assert out["reasons"] == ["BILL_INCONSISTENT"]
    assert out["field"] == "fund_pay_sumamt"
    assert "fund_pay_sumamt" in out["message"]
