"""The resident identity number (GB 11643-1999) and bills posted to the service: no database."""

import datetime as dt

import pytest

from builders import make_bill
from claims.errors import BillInconsistent, InvalidCase
from claims.identity import InvalidIdentity, check_digit, hidden_character, parse_certno, with_check_digit
from claims.settlement import parse_posted_settlement, parse_settlement

# Published examples: the standard's own (X for 10) and numbers checked by hand.
# 150102197903140024: 1*7+5*9+0*10+1*5+0*8+2*4+1*2+9*1+7*6+9*3+0*7+3*9+1*10+4*5+0*8+0*4+2*2 = 206;
# 206 % 11 = 8, and "10X98765432"[8] is 4.
VALID = ["11010519491231002X", "440524188001010014", "150102197903140024"]
TODAY = dt.date(2026, 11, 30)


def refused(text, field: str = "certno") -> str:
    with pytest.raises(InvalidIdentity) as err:
        parse_certno(text)
    assert err.value.field == field
    return err.value.message


@pytest.mark.parametrize("certno", VALID)
def test_a_resident_identity_number_with_its_check_digit_is_accepted_as_it_is(certno):
    assert parse_certno(certno) == certno


def test_the_check_digit_of_the_standard_s_example_is_x_for_ten():
    assert check_digit("11010519491231002") == "X"
    assert with_check_digit("11010519491231002") == "11010519491231002X"


def test_a_lower_case_x_is_read_and_stored_as_upper_case():
    assert parse_certno("11010519491231002x") == "11010519491231002X"


def test_full_width_digits_are_read_as_digits_after_nfkc():
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "11010519491231002X")  # １１０…Ｘ
    assert parse_certno(full_width) == "11010519491231002X"
    assert parse_certno(" 440524188001010014 ") == "440524188001010014"  # spaces around are trimmed


@pytest.mark.parametrize("wrong", ["110105194912310021", "440524188001010015", "15010219790314002X"])
def test_a_wrong_check_digit_is_refused_naming_the_right_one(wrong):
    assert "check digit" in refused(wrong)
    assert check_digit(wrong[:17]) in refused(wrong)


@pytest.mark.parametrize("text", ["11010519491231002", "11010519491231002X0", "1101051949123100", "X"])
def test_a_number_of_the_wrong_length_is_refused(text):
    assert "18 characters" in refused(text)


@pytest.mark.parametrize("text", ["1101051949123100AX", "ABCDEFGHIJKLMNOPQX", "1101051949 231002X", "11010519491231002Y",
                                  "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"])  # Arabic-Indic digits stay letters to us after NFKC
def test_letters_in_a_number_are_refused(text):
    refused(text)


@pytest.mark.parametrize("text", [None, "", "   ", 11010519491231002, ["11010519491231002X"]])
def test_a_missing_number_is_refused(text):
    assert "required" in refused(text)


@pytest.mark.parametrize("hidden", ["\x00", "\n", "\u200b", "\u200e", "\ufeff"])
def test_a_number_with_a_hidden_character_is_refused(hidden):
    assert f"U+{ord(hidden):04X}" in refused("11010519491231002X" + hidden)
    assert hidden_character("ZW-1" + hidden) == f"U+{ord(hidden):04X}"


def test_with_check_digit_takes_seventeen_digits_only():
    for body in ("1101051949123100", "1101051949123100A"):
        with pytest.raises(ValueError):
            with_check_digit(body)


# ----------------------------------------------------------------------------- a posted bill


def posted(**fields):
    return parse_posted_settlement(make_bill(**{"certno": VALID[0], **fields}), today=TODAY)


def posted_refusal(bill_fields: dict, *, provincial=frozenset()) -> str:
    with pytest.raises((InvalidCase, BillInconsistent, InvalidIdentity)) as err:
        parse_posted_settlement(make_bill(**{"certno": VALID[0], **bill_fields}), today=TODAY,
                                provincial_med_types=provincial)
    return err.value.field


def test_a_true_bill_is_read_as_parse_settlement_reads_it_with_its_identifiers_normalised():
    record, bill = posted(setl_id="ＺＷ－１", certno="11010519491231002x",
                          diagnoses=[{"diag_code": "Ｊ１８.９００", "diag_name": "肺炎", "maindiag_flag": "1"}])
    assert (record["setl_id"], record["certno"], record["diagnoses"][0]["diag_code"]) == ("ZW-1", "11010519491231002X",
                                                                                          "J18.900")
    assert bill == parse_settlement({**record}, prefix="")


@pytest.mark.parametrize(("fields", "field"), [
    ({"certno": None}, "certno"),
    ({"certno": "110105194912310021"}, "certno"),
    ({"psn_cert_type": "08"}, "psn_cert_type"),
    ({"hosp_lv": "12"}, "hosp_lv"),
    ({"insutype": "311"}, "insutype"),
    ({"med_type": "9901"}, "med_type"),
    ({"enddate": "2026-12-01"}, "enddate"),
    ({"submitted_on": "2026-06-30"}, "submitted_on"),
    ({"setl_id": "ZW-1\u200b"}, "setl_id"),
    ({"psn_name": "王\u202e秀英"}, "psn_name"),
    ({"psn_name": "王" * 51}, "psn_name"),
    ({"mdtrt_id": "M" * 65}, "mdtrt_id"),
    ({"fixmedins_name": "医" * 201}, "fixmedins_name"),
    ({"psn_no": 150102}, "psn_no"),
    ({"diagnoses": [{"diag_code": "J18.900", "diag_name": "肺炎\x00", "maindiag_flag": "1"}]}, "diagnoses[0].diag_name"),
    ({"diagnoses": [{"diag_code": "J" * 33, "diag_name": "", "maindiag_flag": "1"}]}, "diagnoses[0].diag_code"),
    ({"diagnoses": [{"diag_code": "J18.900", "diag_name": "名" * 201, "maindiag_flag": "1"}]}, "diagnoses[0].diag_name"),
    ({"diagnoses": [{"diag_code": "J18.900", "maindiag_flag": 1}]}, "diagnoses[0].maindiag_flag"),
])
def test_an_untrue_bill_is_refused_naming_its_field(fields, field):
    assert posted_refusal(fields) == field


def test_a_stay_ending_today_in_china_is_accepted():
    assert posted(begndate="2026-11-20", enddate="2026-11-30")[1].enddate == TODAY


def test_a_provincial_med_type_is_accepted_only_where_the_deployment_lists_it():
    assert posted_refusal({"med_type": "9901"}) == "med_type"
    record, bill = parse_posted_settlement(make_bill(certno=VALID[0], med_type="9901"), today=TODAY,
                                           provincial_med_types=frozenset({"9901"}))
    assert bill.med_type == "9901"


def test_the_batch_reading_is_unchanged_a_bill_without_certno_is_still_a_bill():
    assert parse_settlement(make_bill(), prefix="").setl_id.startswith("S")
