"""`claims adjudicate`: a case file in, one decision per case out, in file order."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from builders import adjudicate, enrollment, make_bill, make_case
from rules.document import load_plan
from rules.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "adjudicate", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def write_cases(path: Path, *lines: dict | str) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def decisions_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_every_case_gets_one_decision_in_file_order_with_the_plan_version_and_a_trace(tmp_path):
    bill = make_bill("1000.00", setl_id="S-1")
    cases = write_cases(
        tmp_path / "cases.jsonl",
        make_case(case_id="c-1", bill=bill),
        make_case(case_id="c-2", bill=dict(bill)),  # the same bill again
        make_case(case_id="c-3", fund_pay_sumamt="1.00"),  # does not add up
        make_case(case_id="c-4", member_id="M2", enrollments=[]),
    )
    run = run_cli(str(cases))
    assert run.returncode == 0, run.stderr  # a rejected bill is not an invalid case
    out = decisions_of(run.stdout)
    assert [d["case_id"] for d in out] == ["c-1", "c-2", "c-3", "c-4"]
    assert [(d["status"], d["total"]) for d in out] == [
        ("approved", "600.00"), ("denied", "0.00"), ("rejected", "0.00"), ("denied", "0.00"),
    ]
    version = load_plan().version
    assert re.fullmatch(r"default-2026@[0-9a-f]{12}", version)
    for decision in out:
        assert decision["plan_version"] == version
        assert isinstance(decision["trace"], list) and decision["trace"]
    assert [line["reasons"] for line in out[1]["lines"]] == [["DUPLICATE_BILL"]] * 4
    assert (out[2]["reasons"], out[2]["field"], out[2]["lines"]) == (["BILL_INCONSISTENT"], "fund_pay_sumamt", [])
    assert out[0]["lines"][0] == {"benefit": "MA_IP", "status": "approved", "amount": "400.00", "reasons": []}
    # The trace names what decided each line, with the numbers it used.
    by_rule = {entry["rule"]: entry for entry in out[0]["trace"]}
    assert by_rule["MA_IP.amount"]["numbers"]["base"] == "1000.00"
    assert by_rule["MA_IP.amount"]["numbers"]["raw"] == "400.00"
    assert by_rule["CIR.not_registered"]["reason"] == "NOT_HARDSHIP_REGISTERED"
    assert [(t["rule"], t["field"]) for t in out[2]["trace"]] == [("claim.bill_consistency", "fund_pay_sumamt")]
    assert [t["rule"] for t in out[1]["trace"]] == ["claim.duplicate_bill"]


def test_invalid_lines_are_reported_in_place_and_do_not_stop_or_count(tmp_path):
    missing_member_id = make_case(case_id="c-3", member={"gender": "F"})
    bad_date = make_case(case_id="c-4", submitted_on="2026-02-30")
    bad_category = make_case(case_id="c-6", hardship={"category": "poor", "verified": True,
                                                      "registered_on": "2024-06-01", "revoked_on": None})
    overlapping = make_case(case_id="c-7", enrollments=[enrollment(2026), {"period_start": "2026-06-01",
                                                                          "period_end": "2027-05-31",
                                                                          "enrolled_on": "2026-05-01"}])
    bad_gender_bill = make_bill("20000.00", setl_id="S-X")
    bad_gender = make_case(case_id="c-8", member={"id": "M0001", "gender": "X"}, bill=bad_gender_bill)
    bad_bill_date = make_case(case_id="c-9", begndate="2026-13-01")
    same_bill_valid = make_case(case_id="c-10", bill=dict(bad_gender_bill))
    cases = write_cases(
        tmp_path / "cases.jsonl",
        make_case("1000.00", case_id="c-1"),  # line 1
        '{"case_id": "c-2", not json',  # line 2
        missing_member_id,  # line 3
        bad_date,  # line 4
        "",  # line 5: blank, skipped
        bad_category,  # line 6
        overlapping,  # line 7
        bad_gender,  # line 8
        bad_bill_date,  # line 9
        same_bill_valid,  # line 10
        "[1, 2, 3]",  # line 11: JSON, but not an object
    )
    run = run_cli(str(cases))
    assert run.returncode == 1
    out = decisions_of(run.stdout)
    assert len(out) == 10
    invalid = [d for d in out if d["status"] == "invalid"]
    assert [(d["case_id"], d["field"]) for d in invalid] == [
        (None, "case"),
        ("c-3", "member.id"),
        ("c-4", "submitted_on"),
        ("c-6", "hardship.category"),
        ("c-7", "enrollments"),
        ("c-8", "member.gender"),
        ("c-9", "bill.begndate"),
        (None, "case"),
    ]
    for decision, line_no in zip(invalid, (2, 3, 4, 6, 7, 8, 9, 11), strict=True):
        assert decision["reasons"] == ["INVALID_CASE"]
        assert decision["total"] == "0.00" and decision["lines"] == []
        assert f"line {line_no}:" in decision["message"]
        assert decision["plan_version"] == out[0]["plan_version"]
    assert (out[0]["case_id"], out[0]["status"], out[0]["total"]) == ("c-1", "approved", "600.00")
    last = out[-2]
    # The invalid c-8 posted the same bill for the same member: it counted for nothing, so
    # c-10 is no duplicate and its bands start from c-1's 1,000 only:
    # 40% x 9,000 + 50% x 11,000 = 3,600 + 5,500 = 9,100.00 (11,100.00 had c-8 counted).
    assert last["case_id"] == "c-10"
    assert last["lines"][0] == {"benefit": "MA_IP", "status": "approved", "amount": "9100.00", "reasons": []}
    assert (last["status"], last["total"]) == ("approved", "9300.00")


def test_decisions_go_to_the_file_given_with_o_exactly_as_the_engine_decides_in_process(tmp_path):
    relief = {"category": "near_dibao", "verified": True, "registered_on": "2024-06-01", "revoked_on": None}
    cases = [
        make_case("14000.00", case_id="x-1", diag_code="C34.900", hardship=relief),
        make_case("25000.00", case_id="x-2", diag_code="C34.900", hardship=relief),
    ]
    out_file = tmp_path / "decisions.jsonl"
    run = run_cli(str(write_cases(tmp_path / "cases.jsonl", *cases)), "-o", str(out_file))
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    written = decisions_of(out_file.read_text(encoding="utf-8"))
    assert [(d["case_id"], d["status"], d["total"]) for d in written] == [
        ("x-1", "approved", "21800.00"),  # 6,000 + 200 + 10,000 + 70% x 8,000
        ("x-2", "approved", "21720.00"),  # 13,400 + 200 + 0 (grant already paid) + 70% x 11,600
    ]
    in_process = [d.to_json() for d in adjudicate(Engine(), *cases)]
    assert written == json.loads(json.dumps(in_process, ensure_ascii=False))


def test_a_missing_case_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere.jsonl"
    run = run_cli(str(missing))
    assert run.returncode != 0
    assert str(missing) in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def _case_with(**changes) -> dict:
    case = make_case(case_id="bad")
    for path, value in changes.items():
        target, *keys = path.split("__")
        if not keys:
            case[target] = value
        else:
            case[target][keys[0]] = value
    return case


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ({k: v for k, v in make_case().items() if k != "case_id"}, "case_id"),
        ({k: v for k, v in make_case().items() if k != "submitted_on"}, "submitted_on"),
        ({k: v for k, v in make_case().items() if k != "hardship"}, "hardship"),
        ({k: v for k, v in make_case().items() if k != "enrollments"}, "enrollments"),
        ({k: v for k, v in make_case().items() if k != "bill"}, "bill"),
        (_case_with(member="M0001"), "member"),
        (_case_with(member__id=""), "member.id"),
        (_case_with(member__birth_date="1979-02-30"), "member.birth_date"),
        (_case_with(enrollments={"period_start": "2026-01-01"}), "enrollments"),
        (_case_with(enrollments=[{"period_start": "2026-01-01", "period_end": "2026-12-31"}]), "enrollments[0].enrolled_on"),
        (_case_with(enrollments=[{"period_start": "2026-01-01", "period_end": "2025-12-31", "enrolled_on": "2025-12-01"}]),
         "enrollments[0].period_end"),
        (_case_with(hardship={"category": "dibao", "verified": "yes", "registered_on": "2024-06-01"}), "hardship.verified"),
        (_case_with(hardship={"category": "dibao", "registered_on": "2024-06-01"}), "hardship.verified"),
        (_case_with(hardship={"category": "DIBAO", "verified": True, "registered_on": "2024-06-01"}), "hardship.category"),
        (_case_with(hardship={"category": "dibao", "verified": True}), "hardship.registered_on"),
        (_case_with(hardship={"category": "dibao", "verified": True, "registered_on": "2024-06-01",
                              "revoked_on": "someday"}), "hardship.revoked_on"),
        (_case_with(bill="S0001"), "bill"),
        (_case_with(bill__enddate="2026-05-32"), "bill.enddate"),
    ],
)
def test_a_malformed_case_is_invalid_naming_its_field_and_line(engine, case, field):
    first, decision = adjudicate(engine, make_case(case_id="ok"), case)
    out = decision.to_json()
    assert (out["status"], out["reasons"], out["field"], out["total"], out["lines"]) == (
        "invalid", ["INVALID_CASE"], field, "0.00", [],
    )
    assert out["message"].startswith("line 2: ")
    assert first.status == "approved"
