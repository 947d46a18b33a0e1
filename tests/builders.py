"""Small builders for cases in the batch case format (spec/case-format.md).

``make_case()`` is a valid claim of a renewing member (second membership year) for a
ten-day inpatient stay whose in-policy self-pay B is 1,000.00, with a diagnosis outside
the critical-illness catalog and no hardship registration. Each test overrides only
what it is about; expected amounts are worked out by hand in the tests themselves.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from decimal import Decimal
from typing import Any

from claims.decision import Decision
from claims.identity import with_check_digit
from rules.batch import adjudicate_lines
from rules.engine import Engine

LUNG_CANCER = "C34.900"  # CI01 malignant neoplasm
HEART_ATTACK = "I21.000"  # CI02 acute myocardial infarction
PNEUMONIA = "J18.900"  # not in the catalog

_setl_ids = itertools.count(1)
_case_ids = itertools.count(1)


def certno_for(member_id: str) -> str:
    """A valid resident identity number (GB 11643 check digit) that is always the same for ``member_id``.

    Made from a hash of the id, so different members of a test have different numbers
    (13 hashed digits after an Inner Mongolia region prefix: a clash is a 1 in 10^13 chance).
    """
    digest = int.from_bytes(hashlib.sha256(member_id.encode()).digest()[:8], "big")
    return with_check_digit(f"1501{digest % 10**13:013d}")


def enrollment(year: int, enrolled_on: str | None = None) -> dict[str, str]:
    """A calendar-year mutual-aid period; enrolled in early December before it by default."""
    return {
        "period_start": f"{year}-01-01",
        "period_end": f"{year}-12-31",
        "enrolled_on": enrolled_on or f"{year - 1}-12-01",
    }


def renewing(*years: int) -> list[dict[str, str]]:
    """Consecutive yearly enrollments (2025 and 2026 unless told): a renewing member."""
    return [enrollment(y) for y in (years or (2025, 2026))]


def first_time(enrolled_on: str, year: int = 2026) -> list[dict[str, str]]:
    """One enrollment only: a first-time member, covered from max(period start, enrolled_on)."""
    return [enrollment(year, enrolled_on)]


def hardship(
    category: str = "near_dibao",
    *,
    verified: bool = True,
    registered_on: str = "2024-06-01",
    revoked_on: str | None = None,
) -> dict[str, Any]:
    return {"category": category, "verified": verified, "registered_on": registered_on, "revoked_on": revoked_on}


def make_bill(
    b: str = "1000.00",
    *,
    fund: str = "4000.00",
    own_pay: str = "0.00",
    diag_code: str = PNEUMONIA,
    begndate: str = "2026-05-02",
    enddate: str = "2026-05-12",
    **fields: Any,
) -> dict[str, Any]:
    """A settlement that adds up, with in-policy self-pay ``b`` left after ``fund``.

    ``fund`` is all paid by the pooled fund (hifp_pay), ``own_pay`` is fully self-paid
    (outside the lists), the person pays everything else in cash. ``fields`` replace
    any field afterwards, so a test can also build a bill that does not add up.
    """
    b_, fund_, own_ = Decimal(b), Decimal(fund), Decimal(own_pay)
    in_scope = fund_ + b_
    total = in_scope + own_
    bill: dict[str, Any] = {
        "fixmedins_code": "H15010001",
        "fixmedins_name": "内蒙古医科大学附属医院",
        "hosp_lv": "01",
        "setl_id": f"S{next(_setl_ids):06d}",
        "insutype": "310",
        "med_type": "21",
        "begndate": begndate,
        "enddate": enddate,
        "medfee_sumamt": f"{total:.2f}",
        "fulamt_ownpay_amt": f"{own_:.2f}",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00",
        "inscp_scp_amt": f"{in_scope:.2f}",
        "hifp_pay": f"{fund_:.2f}",
        "hifob_pay": "0.00",
        "hifmi_pay": "0.00",
        "cvlserv_pay": "0.00",
        "hifes_pay": "0.00",
        "maf_pay": "0.00",
        "oth_pay": "0.00",
        "fund_pay_sumamt": f"{fund_:.2f}",
        "psn_part_amt": f"{total - fund_:.2f}",
        "acct_pay": "0.00",
        "psn_cash_pay": f"{total - fund_:.2f}",
        "diagnoses": [{"diag_code": diag_code, "diag_name": "", "maindiag_flag": "1"}],
    }
    bill.update(fields)
    return bill


def make_case(
    b: str | None = None,
    *,
    case_id: str | None = None,
    member_id: str = "M0001",
    member: dict[str, Any] | None = None,
    submitted_on: str = "2026-06-30",
    enrollments: list[dict[str, str]] | None = None,
    hardship: dict[str, Any] | None = None,
    bill: dict[str, Any] | None = None,
    **bill_fields: Any,
) -> dict[str, Any]:
    """A valid case for a renewing member; ``b`` and ``bill_fields`` go to ``make_bill``."""
    if b is not None:
        bill_fields["b"] = b
    return {
        "case_id": case_id or f"t-{next(_case_ids):05d}",
        "submitted_on": submitted_on,
        "member": member or {"id": member_id, "gender": "F", "birth_date": "1979-03-14"},
        "enrollments": renewing() if enrollments is None else enrollments,
        "hardship": hardship,
        "bill": bill if bill is not None else make_bill(**bill_fields),
    }


def adjudicate(engine: Engine, *cases: dict[str, Any] | str) -> list[Decision]:
    """Decide cases in order through the batch path (one ledger, shared accumulators).

    A ``str`` is taken as a raw line of the case file.
    """
    lines = [c if isinstance(c, str) else json.dumps(c, ensure_ascii=False) for c in cases]
    return list(adjudicate_lines(engine, lines))


def decide(engine: Engine, case: dict[str, Any]) -> Decision:
    """One case on its own."""
    (decision,) = adjudicate(engine, case)
    return decision


def outcome(decision: Decision) -> dict[str, tuple[str, str, list[str]]]:
    """Each benefit line as (status, amount, reasons), e.g. ('approved', '400.00', [])."""
    return {
        line["benefit"]: (line["status"], line["amount"], line["reasons"])
        for line in decision.to_json()["lines"]
    }


def summary(decision: Decision) -> tuple[str, str]:
    """The claim's (status, total)."""
    out = decision.to_json()
    return out["status"], out["total"]
