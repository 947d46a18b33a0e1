"""Small builders for the service tests: registry entries, settlements and claims over HTTP.

Each builder takes the client and the API key to act with, asserts the status it
expects (``expect=``) and returns the JSON answer, so a test reads as the story it
tells and fails where the story breaks. Expected amounts are worked out by hand in
the tests.

Dates are in ``YEAR``, last calendar year: a claim is never submitted in the future
and never late, whatever day the suite runs. Only an officer (or administrator) may
give a claim's receipt date, with a note (``received_on``); a member's claim is dated
by the service, today in China, so a member's claim on a bill of ``YEAR`` may be late.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from fastapi.testclient import TestClient

from tests.builders import certno_for, make_bill

YEAR = dt.date.today().year - 1
SUBMITTED = f"{YEAR}-06-30"
PAPER_NOTE = "纸质申请表已于当日交至工会办公室"  # why an officer records an earlier receipt date

LUNG_CANCER = "C34.900"  # catalog disease CI01
PNEUMONIA = "J18.900"  # not in the catalog

_setl_ids = itertools.count(1)

# The cast's members' resident identity numbers (tests/api/conftest.py); every other
# member a test registers with ``create_member`` gets ``certno_for`` its id too.
CERTNO = {member: certno_for(member) for member in ("M1", "M2", "M3")}


def auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _expect(response, expect: int) -> Any:
    assert response.status_code == expect, (
        f"{response.request.method} {response.request.url.path}: expected {expect}, "
        f"got {response.status_code}: {response.text}"
    )
    return response.json()


# ----------------------------------------------------------------------------- registry


def create_union(client: TestClient, key: str, union_id: str, *, expect: int = 201, **fields: Any) -> dict:
    body = {"id": union_id, "name": f"{union_id} 总工会", "region": "呼和浩特市", **fields}
    return _expect(client.post("/v1/unions", json=body, headers=auth(key)), expect)


def create_hospital(client: TestClient, key: str, code: str, *, grade: str = "02", expect: int = 201, **fields: Any) -> dict:
    body = {"code": code, "name": f"{code} 医院", "grade": grade, **fields}
    return _expect(client.post("/v1/hospitals", json=body, headers=auth(key)), expect)


def create_member(client: TestClient, key: str, member_id: str, *, union_id: str | None = None,
                  expect: int = 201, **fields: Any) -> dict:
    body: dict[str, Any] = {"id": member_id, "certno": certno_for(member_id), "name": "王秀英", "gender": "F",
                            "birth_date": "1979-03-14", **fields}
    if union_id is not None:
        body["union_id"] = union_id
    return _expect(client.post("/v1/members", json=body, headers=auth(key)), expect)


def enrollment(year: int, enrolled_on: str | None = None) -> dict[str, str]:
    """A calendar-year period; enrolled in early December before it unless told."""
    return {"period_start": f"{year}-01-01", "period_end": f"{year}-12-31",
            "enrolled_on": enrolled_on or f"{year - 1}-12-01"}


def enroll(client: TestClient, key: str, member_id: str, year: int = YEAR, *, enrolled_on: str | None = None,
           expect: int = 201) -> dict:
    return _expect(client.post(f"/v1/members/{member_id}/enrollments", json=enrollment(year, enrolled_on),
                               headers=auth(key)), expect)


def enroll_renewing(client: TestClient, key: str, member_id: str) -> None:
    """Enrolled the year before ``YEAR`` and in ``YEAR``: renewing, second membership year."""
    enroll(client, key, member_id, YEAR - 1)
    enroll(client, key, member_id, YEAR)


def register_hardship(client: TestClient, key: str, member_id: str, *, category: str = "near_dibao",
                      verified: bool = True, registered_on: str = f"{YEAR - 2}-06-01", expect: int = 201,
                      **fields: Any) -> dict:
    body: dict[str, Any] = {"category": category, "registered_on": registered_on, "verified": verified, **fields}
    if verified and "verified_on" not in body:
        body["verified_on"] = registered_on
    return _expect(client.post(f"/v1/members/{member_id}/hardship", json=body, headers=auth(key)), expect)


# ----------------------------------------------------------------------------- settlements


def settlement(
    b: str = "1000.00",
    *,
    fund: str = "4000.00",
    own_pay: str = "0.00",
    diag_code: str = PNEUMONIA,
    begndate: str = f"{YEAR}-05-02",
    enddate: str = f"{YEAR}-05-12",
    fixmedins_code: str = "H1",
    patient: str = "M1",
    **fields: Any,
) -> dict[str, Any]:
    """A settlement of member ``patient`` that adds up (default-plan.md section 2) with in-policy self-pay B = ``b``.

    The pooled fund pays ``fund``; ``own_pay`` is outside the lists; the person pays
    the rest in cash. Ten days in a grade-02 hospital, employee insurance, inpatient.
    The bill carries the patient's ``certno`` (``certno_for(patient)``), so that member can claim it.
    ``fields`` replace any field afterwards (so a test can also make one that does not
    add up).
    """
    return make_bill(b, fund=fund, own_pay=own_pay, diag_code=diag_code, begndate=begndate, enddate=enddate, **{
        "fixmedins_code": fixmedins_code, "fixmedins_name": f"{fixmedins_code} 医院", "hosp_lv": "02",
        "setl_id": f"S{YEAR}{next(_setl_ids):06d}", "psn_no": "150102197903140021", "certno": certno_for(patient),
        **fields})


def post_settlement(client: TestClient, key: str, *, expect: int = 201, **overrides: Any) -> dict:
    """Post ``settlement(**overrides)``; returns the stored settlement (or the problem)."""
    return _expect(client.post("/v1/settlements", json=settlement(**overrides), headers=auth(key)), expect)


# ----------------------------------------------------------------------------- claims


def received_on(submitted_on: str = SUBMITTED) -> dict[str, str]:
    """An officer's record that a paper claim reached the union office on ``submitted_on``."""
    return {"submitted_on": submitted_on, "note": PAPER_NOTE}


def submit_claim(client: TestClient, key: str, member_id: str, settlement_id: int, *,
                 submitted_on: str | None = SUBMITTED, expect: int = 201) -> dict:
    """Claim as ``key``; an officer's or administrator's key records ``submitted_on`` with a note,
    a member's key must pass ``submitted_on=None`` (the service dates it)."""
    body = {"member_id": member_id, "settlement_id": settlement_id,
            **(received_on(submitted_on) if submitted_on is not None else {})}
    return _expect(client.post("/v1/claims", json=body, headers=auth(key)), expect)


def claim_for(client: TestClient, key: str, member_id: str, *, expect: int = 201, **bill: Any) -> dict:
    """Post a settlement of the member (as ``key``, an admin's) and claim it for them at once."""
    posted = post_settlement(client, key, patient=member_id, **bill)
    return submit_claim(client, key, member_id, posted["id"], expect=expect)


def review(client: TestClient, key: str, claim_id: int, *lines: dict[str, Any], expect: int = 200) -> dict:
    return _expect(client.post(f"/v1/claims/{claim_id}/review", json={"lines": list(lines)}, headers=auth(key)),
                   expect)


def line(claim: dict, benefit: str) -> dict:
    """A benefit line of a claim's decision."""
    return next(ln for ln in claim["lines"] if ln["benefit"] == benefit)


def codes(claim_line: dict) -> list[str]:
    return [r["code"] for r in claim_line["reasons"]]


# A pended claim: B = 150,000.00 pays MA_IP 103,500.00 (bands 4,000 + 10,000 + 12,000 +
# 35,000 + 42,500), above the 50,000.00 review threshold, so MA_IP and MA_DA (10 days
# at 20.00) are pended with HIGH_AMOUNT_REVIEW.
HIGH_B = "150000.00"


# ----------------------------------------------------------------------------- funds

_references = itertools.count(1)


def allocate(client: TestClient, key: str, source: str, amount: str, *, year: int = YEAR, league_id: str | None = None,
             reference: str | None = None, received_on: str | None = None, expect: int = 201) -> dict:
    """Record a relief allocation (a fresh reference unless one is given)."""
    body = {"source": source, "year": year, "amount": amount, "reference": reference or f"拨款-{next(_references)}",
            "received_on": received_on or f"{YEAR}-01-15", **({"league_id": league_id} if league_id else {})}
    return _expect(client.post("/v1/funds/allocations", json=body, headers=auth(key)), expect)


def fund_relief(client: TestClient, key: str, amount: str = "10000000.00", year: int = YEAR) -> None:
    """Relief money for ``year`` from central, region and charity (charity covers the league shares):
    for tests about something else, where every relief line should be paid."""
    for source in ("central", "region", "charity"):
        allocate(client, key, source, amount, year=year)
