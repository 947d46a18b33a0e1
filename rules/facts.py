"""The facts a claim is decided on: what rule conditions may name.

The engine derives one flat fact per claim (plain JSON: strings, integers, booleans;
money in integer fen) and asserts it into the plan's ruleset. Every fact is always
present, so the negations the compiler writes ("no earlier rule held") are exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from claims.cases import Claim
from claims.catalog import normalise_icd
from claims.members import Enrollment, HardshipRegistration, Member, Membership, membership_on

FactType = Literal["bool", "int", "str", "money"]


@dataclass(frozen=True, slots=True)
class FactSpec:
    type: FactType
    description: str


FACTS: dict[str, FactSpec] = {
    "enrolled": FactSpec("bool", "a mutual-aid enrollment period contains the admission date"),
    "renewing": FactSpec("bool", "another enrollment ends the day before this period starts"),
    "membership_year": FactSpec("int", "consecutive enrollments counted back from this one (0: not enrolled)"),
    "days_since_coverage_start": FactSpec("int", "admission date minus coverage start, in days (negative: before enrolling)"),
    "days_after_period_end": FactSpec("int", "submission date minus the period end, in days"),
    "hardship_registered": FactSpec("bool", "a hardship registration is active on the admission date"),
    "hardship_category": FactSpec("str", "dibao, dibao_unenrolled, near_dibao, accident; empty if not registered"),
    "hardship_verified": FactSpec("bool", "the registration was verified by a home visit"),
    "days_after_discharge": FactSpec("int", "submission date minus the discharge date, in days"),
    "med_type": FactSpec("str", "settlement med_type: 21 inpatient, 14 special outpatient, 11 outpatient..."),
    "insutype": FactSpec("str", "settlement insutype: 310 employee basic insurance..."),
    "hosp_lv": FactSpec("str", "hospital grade 01..11 (11: no grade)"),
    "length_of_stay": FactSpec("int", "days in hospital, at least 1"),
    "member_gender": FactSpec("str", "F or M; empty if not given"),
    "member_age": FactSpec("int", "age in whole years on the admission date; -1 if unknown"),
    "in_policy_self_pay": FactSpec("money", "B: in-policy self-pay left after every fund"),
    "medfee_sumamt": FactSpec("money", "total cost of the stay"),
    "main_diagnosis": FactSpec("str", "the main ICD-10 code, normalised; use in_catalog / not_in_catalog"),
}


def catalog_fact(catalog: str) -> str:
    """The fact holding the main diagnosis' disease code in a catalog ('' if none)."""
    return f"catalog__{catalog}"


def _age(birth, day) -> int:
    if birth is None:
        return -1
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# The facts a day alone settles for a member, with no bill and no submission: what the
# member's remaining benefits on a date read (``standing_facts``).
STANDING_FACTS = frozenset({"enrolled", "renewing", "membership_year", "days_since_coverage_start",
                            "hardship_registered", "hardship_category", "hardship_verified", "member_gender",
                            "member_age"})


def standing_facts(member: Member, enrollments: Iterable[Enrollment], hardship: HardshipRegistration | None,
                   day: dt.date) -> tuple[dict[str, Any], Membership | None]:
    """The ``STANDING_FACTS`` of a member admitted on ``day``, and the membership found (it sets the period).

    ``hardship``: the registration that decides that day (``hardship_on``), if any.
    """
    membership = membership_on(list(enrollments), day)
    registered = hardship is not None and hardship.active_on(day)
    facts: dict[str, Any] = {
        "enrolled": membership is not None,
        "renewing": membership.renewing if membership else False,
        "membership_year": membership.membership_year if membership else 0,
        "days_since_coverage_start": (day - membership.coverage_start).days if membership else 0,
        "hardship_registered": registered,
        "hardship_category": hardship.category.value if registered and hardship else "",
        "hardship_verified": hardship.verified if registered and hardship else False,
        "member_gender": member.gender.value if member.gender else "",
        "member_age": _age(member.birth_date, day),
    }
    return facts, membership


def derive_facts(claim: Claim, catalogs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The claim's facts, and the membership found (it sets the claim's period)."""
    bill = claim.settlement
    facts, membership = standing_facts(claim.member, claim.enrollments, claim.hardship, bill.begndate)
    main = bill.main_diagnosis.diag_code
    facts |= {
        "days_after_period_end": (claim.submitted_on - membership.enrollment.period_end).days if membership else 0,
        "days_after_discharge": (claim.submitted_on - bill.enddate).days,
        "med_type": bill.med_type,
        "insutype": bill.insutype,
        "hosp_lv": bill.hosp_lv,
        "length_of_stay": bill.length_of_stay,
        "in_policy_self_pay": bill.in_policy_self_pay,
        "medfee_sumamt": bill.medfee_sumamt,
        "main_diagnosis": normalise_icd(main),
    }
    for name, catalog in catalogs.items():
        disease = catalog.match(main)
        facts[catalog_fact(name)] = disease.code if disease else ""
    return facts, membership
