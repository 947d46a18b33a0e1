"""Disease catalog matching (plan section 10) on the shipped 21-disease list."""

from pathlib import Path

import pytest

from builders import LUNG_CANCER, PNEUMONIA, decide, hardship, make_case, outcome
from claims.catalog import DiseaseCatalog, IcdToken, normalise_icd
from tests.shared_dir import SHARED

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CSV = ROOT / "rules" / "plans" / "critical-illness-21.csv"
SPEC_CSV = SHARED / "spec" / "critical-illness-21.csv"


@pytest.fixture(scope="module")
def catalog() -> DiseaseCatalog:
    return DiseaseCatalog.from_csv(SHIPPED_CSV.read_text(encoding="utf-8"))


def code_of(catalog: DiseaseCatalog, icd: str) -> str | None:
    disease = catalog.match(icd)
    return disease.code if disease else None


def test_the_shipped_catalog_is_the_one_of_the_spec_with_21_diseases(catalog):
    assert SHIPPED_CSV.read_text(encoding="utf-8") == SPEC_CSV.read_text(encoding="utf-8")
    assert [d.code for d in catalog.diseases] == [f"CI{i:02d}" for i in range(1, 22)]


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("c349", "C34.9"),
        ("C34.9", "C34.9"),
        (" c34.900 ", "C34.900"),
        ("C34", "C34"),
        ("c34", "C34"),
        ("N18500X001", "N18.500X001"),
        ("C3.49", "C3.49"),  # has a dot already: left alone (and then matches nothing)
    ],
)
def test_codes_are_trimmed_upper_cased_and_dotted_after_the_category(raw, normal):
    assert normalise_icd(raw) == normal


@pytest.mark.parametrize("raw", ["c349", "C349", " C34.9 ", "c34.900", "C34", "C34.9X001"])
def test_any_spelling_of_a_lung_cancer_code_is_a_malignant_neoplasm(catalog, raw):
    assert code_of(catalog, raw) == "CI01"


@pytest.mark.parametrize("raw", ["C3.49", "34.9", "349", "CC4.9", "C34-9", "C34.9.1", "C34.", "", "  ", "C3"])
def test_a_malformed_code_matches_no_disease(catalog, raw):
    assert code_of(catalog, raw) is None


@pytest.mark.parametrize(
    ("raw", "disease"),
    [
        ("C00.0", "CI01"),  # both ends of C00-C97 are inside
        ("C97", "CI01"),
        ("C97.X00", "CI01"),
        ("I21.0", "CI02"),
        ("I22.9", "CI02"),
        ("I22.999X001", "CI02"),
        ("I60.9", "CI03"),
        ("I64", "CI03"),
        ("D66", "CI07"),
        ("D67.X00", "CI07"),
        ("Q20.0", "CI14"),
        ("Q26.9", "CI14"),
        ("B20", "CI19"),
        ("B24.X01", "CI19"),
    ],
)
def test_a_range_matches_every_code_whose_category_lies_in_it_inclusive(catalog, raw, disease):
    assert code_of(catalog, raw) == disease


@pytest.mark.parametrize(
    "raw", ["D00.0", "B99", "I20.0", "I23.0", "I59.9", "I65", "D65", "D68.0", "Q19.9", "Q27.0", "B19.9", "B25.0"]
)
def test_a_code_just_outside_a_range_is_not_matched_by_it(catalog, raw):
    assert code_of(catalog, raw) is None


@pytest.mark.parametrize(
    ("raw", "disease"),
    [
        ("N18.5", "CI05"),
        ("N18.500", "CI05"),
        ("N18.500X001", "CI05"),
        ("n18500", "CI05"),
        ("N18.0", "CI05"),
        ("G70.0", "CI09"),
        ("G70.000X002", "CI09"),
        ("K72.1", "CI11"),
        ("K74.6", "CI11"),
        ("F20.0", "CI13"),
        ("F31.9", "CI13"),
        ("G20", "CI16"),
        ("G20.X00", "CI16"),
        ("I71.0", "CI21"),
    ],
)
def test_a_code_token_matches_the_codes_that_start_with_it(catalog, raw, disease):
    assert code_of(catalog, raw) == disease


@pytest.mark.parametrize(
    "raw", ["N18", "N18.4", "N18.9", "G70", "G70.1", "K72", "K72.9", "F21", "G21", "I72.0", "K74.5"]
)
def test_a_code_that_does_not_start_with_a_code_token_is_not_matched_by_it(catalog, raw):
    assert code_of(catalog, raw) is None


@pytest.mark.parametrize("raw", ["C44", "C44.9", "C44.300X011", "C77", "C77.0", "C78.0", "C79.9", "C79.500"])
def test_skin_cancers_and_secondary_tumours_are_excluded_from_malignant_neoplasm(catalog, raw):
    assert code_of(catalog, raw) is None


@pytest.mark.parametrize("raw", ["C43.9", "C45.0", "C76.0", "C80", "C80.900"])
def test_the_neighbours_of_the_exclusions_are_still_malignant_neoplasms(catalog, raw):
    assert code_of(catalog, raw) == "CI01"


def test_a_cornea_transplant_is_excluded_from_organ_transplant(catalog):
    assert code_of(catalog, "Z94.5") is None
    assert code_of(catalog, "Z94.500") is None
    assert code_of(catalog, "Z94.0") == "CI04"
    assert code_of(catalog, "Z94.8") == "CI04"
    assert code_of(catalog, "Z94") == "CI04"


def test_when_two_diseases_match_the_first_in_the_catalog_counts():
    header = "code,name_zh,name_en,icd10_include,icd10_exclude\n"
    lung = "LUNG,肺癌,Lung cancer,C34,\n"
    any_cancer = "ANY,恶性肿瘤,Any cancer,C00-C97,\n"
    lung_first = DiseaseCatalog.from_csv(header + lung + any_cancer)
    assert code_of(lung_first, "C34.9") == "LUNG"
    assert code_of(lung_first, "C50.9") == "ANY"
    range_first = DiseaseCatalog.from_csv(header + any_cancer + lung)
    assert code_of(range_first, "C34.9") == "ANY"


def test_an_excluded_code_falls_through_to_the_next_disease_that_matches():
    catalog = DiseaseCatalog.from_csv(
        "code,name_zh,name_en,icd10_include,icd10_exclude\n"
        "ANY,恶性肿瘤,Any cancer,C00-C97,C34\n"
        "LUNG,肺癌,Lung cancer,C34,\n"
    )
    assert code_of(catalog, "C34.9") == "LUNG"
    assert code_of(catalog, "C50.9") == "ANY"


def test_tokens_are_normalised_like_codes():
    assert IcdToken.parse(" n185 ").text == "N18.5"
    assert IcdToken.parse("c00-c97").text == "C00-C97"


@pytest.mark.parametrize("token", ["34.9", "C3.49", "C97-C00", "C00-C9", "C00.1-C97", "X"])
def test_a_malformed_token_is_refused(token):
    with pytest.raises(ValueError):
        IcdToken.parse(token)


def test_only_the_main_diagnosis_is_matched_not_a_secondary_one(engine):
    diagnoses = [
        {"diag_code": LUNG_CANCER, "diag_name": "", "maindiag_flag": "0"},
        {"diag_code": PNEUMONIA, "diag_name": "", "maindiag_flag": "1"},
    ]
    lines = outcome(decide(engine, make_case(diagnoses=diagnoses, hardship=hardship())))
    assert lines["MA_CI"] == ("not_applicable", "0.00", ["DISEASE_NOT_IN_CATALOG"])
    assert lines["CIR"] == ("not_applicable", "0.00", ["DISEASE_NOT_IN_CATALOG"])


def test_a_main_diagnosis_in_the_catalog_listed_after_others_is_matched(engine):
    diagnoses = [
        {"diag_code": PNEUMONIA, "diag_name": "", "maindiag_flag": "0"},
        {"diag_code": "c349", "diag_name": "", "maindiag_flag": "1"},
    ]
    lines = outcome(decide(engine, make_case(diagnoses=diagnoses)))
    assert lines["MA_CI"] == ("approved", "10000.00", [])


def test_a_malformed_main_diagnosis_is_not_in_the_catalog(engine):
    lines = outcome(decide(engine, make_case(diag_code="C3.49")))
    assert lines["MA_CI"] == ("not_applicable", "0.00", ["DISEASE_NOT_IN_CATALOG"])
    assert lines["MA_IP"] == ("approved", "400.00", [])
