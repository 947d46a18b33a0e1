"""The rule document: the shipped plan, its identity, edits that need no code, and refusals."""

import copy
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from builders import LUNG_CANCER, decide, first_time, make_case, outcome
from rules.document import PlanError, load_plan, parse_plan, validate_plan
from rules.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "rules" / "plans"
SHIPPED_YAML = PLANS / "default-2026.yaml"
SHIPPED_CSV = PLANS / "critical-illness-21.csv"

FIRST_BAND = '{from: "0", to: "10000", rate: "0.40"}'
MA_IP_CAP = 'cap: "500000.00"'


def write_plan(directory: Path, *replacements: tuple[str, str], name="plan.yaml") -> Path:
    """A copy of the shipped plan with text replaced (each old text must be there); its catalog is the shipped one."""
    text = SHIPPED_YAML.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, f"the shipped plan no longer contains {old!r}"
        text = text.replace(old, new)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def shipped_document() -> dict:
    """The shipped plan as a mapping (its catalog inline), to edit as an administrator would over HTTP."""
    return copy.deepcopy(load_plan().content)


def document_errors(document: dict) -> list[tuple[str, str]]:
    with pytest.raises(PlanError) as err:
        validate_plan(document)
    return err.value.errors


def errors_of(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(PlanError) as err:
        load_plan(path)
    return err.value.errors


def error_paths(path: Path) -> list[str]:
    return [p for p, _ in errors_of(path)]


# ---------------------------------------------------------------- identity


def test_the_shipped_plan_is_default_2026_at_a_content_hash():
    plan = load_plan()
    assert re.fullmatch(r"default-2026@[0-9a-f]{12}", plan.version)
    assert plan.version == f"default-2026@{plan.content_hash[:12]}"
    assert [b.code for b in plan.document.benefits] == ["MA_IP", "MA_DA", "MA_CI", "CIR"]


def test_the_shipped_plan_has_the_same_version_at_every_load_and_from_its_file():
    assert load_plan().version == load_plan().version
    assert load_plan(SHIPPED_YAML).version == load_plan().version
    assert load_plan(SHIPPED_YAML).content_hash == load_plan().content_hash


def test_decisions_carry_the_version_of_the_plan_that_made_them(engine):
    assert decide(engine, make_case()).plan_version == load_plan().version


def test_an_identical_copy_elsewhere_has_the_same_version(tmp_path):
    assert load_plan(write_plan(tmp_path)).version == load_plan().version


# ---------------------------------------------------------------- edits without code


def test_a_changed_band_rate_changes_decisions_and_the_version(tmp_path, engine):
    path = write_plan(tmp_path, (FIRST_BAND, FIRST_BAND.replace('"0.40"', '"0.45"')))
    edited = Engine(load_plan(path))
    assert edited.version != engine.version
    assert edited.version.startswith("default-2026@")
    case = make_case("1000.00")
    assert outcome(decide(engine, case))["MA_IP"] == ("approved", "400.00", [])
    assert outcome(decide(edited, case))["MA_IP"] == ("approved", "450.00", [])  # 45% of 1,000.00


def test_a_changed_cap_changes_decisions_and_the_version(tmp_path, engine):
    edited = Engine(load_plan(write_plan(tmp_path, (MA_IP_CAP, 'cap: "1000.00"'))))
    assert edited.version != engine.version
    # 40% of 5,000.00 = 2,000.00, cut to the 1,000.00 cap.
    assert outcome(decide(edited, make_case("5000.00")))["MA_IP"] == ("approved", "1000.00", ["CAP_APPLIED"])


def test_a_longer_waiting_period_in_the_document_denies_what_the_default_halves(tmp_path, engine):
    rule = "days_since_coverage_start: {lt: 30}}, then: denied"
    edited = Engine(load_plan(write_plan(tmp_path, (rule, rule.replace("30", "60")))))
    case = make_case(enrollments=first_time("2026-03-01"), begndate="2026-04-15", enddate="2026-04-25")  # day 45
    assert outcome(decide(engine, case))["MA_IP"] == ("approved", "200.00", ["WAITING_PERIOD_REDUCED"])
    assert outcome(decide(edited, case))["MA_IP"] == ("denied", "0.00", ["WAITING_PERIOD"])


def test_an_edited_inline_catalog_changes_which_diseases_count(tmp_path, engine):
    document = shipped_document()
    catalog = document["catalogs"]["critical_illness_21"]
    catalog["diseases"] = [d for d in catalog["diseases"] if d["code"] != "CI01"]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    edited = Engine(load_plan(path))
    assert edited.version != engine.version
    case = make_case(diag_code=LUNG_CANCER)
    assert outcome(decide(engine, case))["MA_CI"] == ("approved", "10000.00", [])
    assert outcome(decide(edited, case))["MA_CI"] == ("not_applicable", "0.00", ["DISEASE_NOT_IN_CATALOG"])


def test_an_unquoted_yaml_decimal_is_read_exactly(tmp_path):
    # As a binary float 0.45 would be 0.4500000000000000111...; the loader keeps it decimal.
    quoted = load_plan(write_plan(tmp_path, (FIRST_BAND, FIRST_BAND.replace('"0.40"', '"0.45"'))))
    unquoted = load_plan(write_plan(tmp_path, (FIRST_BAND, FIRST_BAND.replace('"0.40"', "0.45")), name="b.yaml"))
    assert str(unquoted.document.benefits[0].amount.bands[0].rate) == "0.45"
    assert unquoted.version == quoted.version
    assert outcome(decide(Engine(unquoted), make_case("1000.00")))["MA_IP"] == ("approved", "450.00", [])


def test_an_unquoted_yaml_amount_is_read_exactly(tmp_path):
    plan = load_plan(write_plan(tmp_path, (MA_IP_CAP, "cap: 1000.10")))
    assert plan.document.benefits[0].amount.cap == Decimal("1000.10")
    assert outcome(decide(Engine(plan), make_case("5000.00")))["MA_IP"] == ("approved", "1000.10", ["CAP_APPLIED"])


def test_the_plan_written_as_json_works_and_has_the_same_version(tmp_path):
    document = yaml.safe_load(SHIPPED_YAML.read_text(encoding="utf-8"))
    path = tmp_path / "default-2026.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    plan = load_plan(path)
    assert plan.version == load_plan().version
    assert outcome(decide(Engine(plan), make_case()))["MA_IP"] == ("approved", "400.00", [])


def test_a_json_number_in_a_plan_is_read_as_an_exact_decimal(tmp_path):
    document = yaml.safe_load(SHIPPED_YAML.read_text(encoding="utf-8"))
    text = json.dumps(document).replace('"rate": "0.40"', '"rate": 0.45', 1)
    plan = parse_plan(text, "plan.json")
    assert str(plan.document.benefits[0].amount.bands[0].rate) == "0.45"


# ---------------------------------------------------------------- refusals, with paths


def test_an_unknown_fact_in_a_condition_is_refused_at_its_path(tmp_path):
    path = write_plan(tmp_path, ("when: {enrolled: false}", "when: {enroled: false}"))
    errors = errors_of(path)
    paths = [p for p, _ in errors]
    # The typo is in every mutual-aid line's first rule.
    assert paths == [f"benefits[{i}].rules[0].when.enroled" for i in range(3)]
    assert "unknown fact 'enroled'" in errors[0][1]


def test_an_unknown_reason_code_is_refused_at_its_path(tmp_path):
    # MA_IP's third rule (rules[2]) is the insurance-type rule.
    rule = "then: denied, reason: INSURANCE_TYPE_NOT_COVERED}"
    path = write_plan(tmp_path, (rule, rule.replace("INSURANCE_TYPE_NOT_COVERED", "NOT_A_REASON")))
    # MA_CI has its disease rule before it, so there it is rules[3].
    assert error_paths(path) == [
        "benefits[0].rules[2].reason", "benefits[1].rules[2].reason", "benefits[2].rules[3].reason",
    ]


def test_a_rate_above_one_is_refused_at_its_path(tmp_path):
    path = write_plan(tmp_path, (FIRST_BAND, FIRST_BAND.replace('"0.40"', '"1.5"')))
    assert errors_of(path) == [("benefits[0].amount.bands[0].rate", "a rate is between 0 and 1")]


def test_a_negative_cap_is_refused_at_its_path(tmp_path):
    path = write_plan(tmp_path, (MA_IP_CAP, 'cap: "-1.00"'))
    assert error_paths(path) == ["benefits[0].amount.cap"]


def test_every_error_of_a_document_is_listed(tmp_path):
    path = write_plan(
        tmp_path,
        (FIRST_BAND, FIRST_BAND.replace('"0.40"', '"1.5"')),
        (MA_IP_CAP, 'cap: "-1.00"'),
        ('near_dibao: {rate: "0.70"', 'near_dibao: {rate: "-0.70"'),
    )
    assert error_paths(path) == [
        "benefits[0].amount.bands[0].rate",
        "benefits[0].amount.cap",
        "benefits[3].amount.by_hardship_category.near_dibao.rate",
    ]


def test_bands_that_leave_a_gap_are_refused(tmp_path):
    path = write_plan(tmp_path, ('{from: "10000", to: "30000"', '{from: "12000", to: "30000"'))
    errors = errors_of(path)
    assert [p for p, _ in errors] == ["benefits[0].amount"]
    assert "band 1" in errors[0][1]


def test_a_grant_on_an_unknown_catalog_is_refused_at_its_path(tmp_path):
    path = write_plan(tmp_path, ("\n      catalog: critical_illness_21", "\n      catalog: nope"))
    errors = errors_of(path)
    assert [p for p, _ in errors] == ["benefits[2].amount.catalog"]
    assert "nope" in errors[0][1]


def test_relief_after_a_line_that_does_not_come_before_it_is_refused_at_its_path(tmp_path):
    path = write_plan(tmp_path, ("after: [MA_IP]", "after: [MA_XX]"))
    errors = errors_of(path)
    # And, since MA_IP is no longer in 'after', relief could pay B again on top of it.
    assert [p for p, _ in errors] == ["benefits[3].amount.after[0]", "benefits[3].amount.after"]
    assert "MA_XX" in errors[0][1]


def test_a_repeated_benefit_code_is_refused_at_its_path(tmp_path):
    path = write_plan(tmp_path, ("  - code: MA_DA\n", "  - code: MA_IP\n"))
    errors = errors_of(path)
    # The funding section still names MA_DA, which the plan no longer has.
    assert [p for p, _ in errors] == ["benefits[1].code", "funding.funds.MA_DA"]
    assert "MA_IP" in errors[0][1]


def test_a_condition_on_an_unknown_catalog_is_refused_at_its_path(tmp_path):
    text = SHIPPED_YAML.read_text(encoding="utf-8").replace(
        "{main_diagnosis: {not_in_catalog: critical_illness_21}}", "{main_diagnosis: {not_in_catalog: nope}}", 1
    )
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    errors = errors_of(path)
    assert [p for p, _ in errors] == ["benefits[2].rules[2].when.main_diagnosis.not_in_catalog"]
    assert "nope" in errors[0][1]


def test_a_catalog_file_beside_the_plan_is_never_read(tmp_path):
    # 'file:' names the shipped catalog; a file of that name beside the plan is not it.
    path = write_plan(tmp_path)
    (tmp_path / SHIPPED_CSV.name).write_text("code,name_zh,name_en,include,exclude\nCI01,x,x,G7.00,\n", encoding="utf-8")
    assert load_plan(path).version == load_plan().version


def test_a_malformed_icd_token_in_an_inline_catalog_is_refused_at_its_path(tmp_path):
    inline = (
        "critical_illness_21:\n"
        "    diseases:\n"
        "      - {code: CI01, include: [C00-C97]}\n"
        "      - {code: CI02, include: [I21, '34.9']}\n"
    )
    path = write_plan(tmp_path, ("critical_illness_21:\n    file: critical-illness-21.csv\n", inline))
    assert error_paths(path) == ["catalogs.critical_illness_21.diseases[1].include"]


@pytest.mark.parametrize("name", [
    "/etc/shadow", "/etc/passwd", "../plans/critical-illness-21.csv", "plans/critical-illness-21.csv",
    "./critical-illness-21.csv", "..", "..\\critical-illness-21.csv", "C:critical-illness-21.csv",
    "critical-illness-21", "default-2026.yaml", "__init__.py", "", 21,
])
def test_a_catalog_file_that_is_not_a_shipped_catalog_is_refused_at_its_path(tmp_path, name):
    path = write_plan(tmp_path, ("file: critical-illness-21.csv", f"file: {json.dumps(name)}"))
    errors = errors_of(path)
    assert [p for p, _ in errors] == ["catalogs.critical_illness_21.file"]
    message = errors[0][1]
    assert "critical-illness-21.csv" in message  # what may be named instead
    # Nothing read from the server's files, and no OS error, reaches the message.
    assert "root:" not in message and "Errno" not in message and "No such file" not in message


def test_a_fifo_named_as_a_catalog_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "catalog.csv"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    for name in (str(fifo), fifo.name):
        path = write_plan(tmp_path, ("file: critical-illness-21.csv", f"file: {json.dumps(name)}"))
        assert error_paths(path) == ["catalogs.critical_illness_21.file"]


def test_a_catalog_with_a_file_and_diseases_is_refused_at_its_path():
    raw = yaml.load(SHIPPED_YAML.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    raw["catalogs"]["critical_illness_21"]["diseases"] = [{"code": "X", "include": ["C00"]}]
    with pytest.raises(PlanError) as err:
        parse_plan(json.dumps(raw), "plan.json")
    assert [p for p, _ in err.value.errors] == ["catalogs.critical_illness_21"]


# ---------------------------------------------------------------- lines sharing B never pay more than B


def test_relief_no_longer_after_the_share_is_refused_because_both_could_pay_b(tmp_path):
    # The derived plan of issue 9: MA_IP 40% and CIR 90% of the same B would pay 130% of it.
    errors = errors_of(write_plan(tmp_path, ("after: [MA_IP]", "after: []")))
    assert [p for p, _ in errors] == ["benefits[3].amount.after"]
    assert "MA_IP" in errors[0][1]


def test_relief_with_no_after_at_all_is_refused_at_its_after():
    document = shipped_document()
    del document["benefits"][3]["amount"]["after"]
    assert [p for p, _ in document_errors(document)] == ["benefits[3].amount.after"]


def test_a_second_banded_share_of_b_is_refused_at_its_kind():
    document = shipped_document()
    second = copy.deepcopy(document["benefits"][0])
    second["code"] = "MA_IP2"
    document["benefits"].insert(1, second)
    document["benefits"][4]["amount"]["after"] = ["MA_IP", "MA_IP2"]  # relief itself is in order
    errors = document_errors(document)
    assert [p for p, _ in errors] == ["benefits[1].amount.kind"]
    assert "MA_IP" in errors[0][1]


def test_a_banded_share_after_a_residual_share_is_refused():
    document = shipped_document()
    relief = document["benefits"].pop(3)
    relief["amount"]["after"] = []
    document["benefits"].insert(0, relief)  # CIR first (alone it is fine), MA_IP after it
    assert [p for p, _ in document_errors(document)] == ["benefits[1].amount.kind"]


def test_a_minimum_payout_above_the_cap_is_refused_at_its_path(tmp_path):
    errors = errors_of(write_plan(tmp_path, (MA_IP_CAP, 'cap: "100.00"')))
    assert errors == [("benefits[0].amount.minimum_payout",
                       "benefit MA_IP: the minimum payout 200.00 is above the cap 100.00")]


def test_residual_shares_each_after_every_earlier_share_are_valid():
    document = shipped_document()
    second = copy.deepcopy(document["benefits"][3])
    second["code"] = "CIR2"
    second["amount"]["after"] = ["MA_IP", "CIR", "MA_DA"]  # naming a line that is not a share only pays less
    document["benefits"].append(second)
    plan = validate_plan(document)
    assert [b.code for b in plan.document.benefits][-1] == "CIR2"


def test_rules_out_of_step_order_are_refused(tmp_path):
    programme = (
        "      - {id: not_enrolled, step: programme, when: {enrolled: false}, "
        "then: not_applicable, reason: NOT_ENROLLED}\n"
    )
    scope = (
        '      - {id: med_type, step: scope, when: {med_type: {not_in: ["21", "14"]}}, '
        "then: not_applicable, reason: MED_TYPE_NOT_COVERED}\n"
    )
    path = write_plan(tmp_path, (programme + scope, scope + programme))
    errors = errors_of(path)
    # Only MA_IP (benefits[0]) has this programme rule followed by this scope rule.
    assert [p for p, _ in errors] == ["benefits[0]"]
    assert "not_enrolled" in errors[0][1]


def test_a_document_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    assert error_paths(path) == ["(document)"]


def test_a_missing_plan_file_is_refused(tmp_path):
    errors = errors_of(tmp_path / "absent.yaml")
    assert errors[0][0] == "(document)"
    assert "absent.yaml" in errors[0][1]


def test_the_cli_refuses_an_invalid_plan_naming_the_path_of_the_error(tmp_path):
    bad = write_plan(tmp_path, (FIRST_BAND, FIRST_BAND.replace('"0.40"', '"1.5"')))
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(make_case()) + "\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "cli.main", "adjudicate", str(cases), "--plan", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0
    assert "benefits[0].amount.bands[0].rate" in run.stderr
    assert "between 0 and 1" in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("command", [["adjudicate"], ["simulate", "--workers", "1"]])
def test_the_cli_refuses_a_plan_naming_a_file_that_is_not_a_shipped_catalog(tmp_path, command):
    bad = write_plan(tmp_path, ("file: critical-illness-21.csv", "file: /etc/passwd"))
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(make_case()) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "cli.main", *command, str(cases), "--plan", str(bad), "-o", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert "catalogs.critical_illness_21.file" in run.stderr and "root:" not in run.stderr
    assert not out.exists()
