"""The facts a federation report groups claims by, written in the same transaction as the decision.

``record_claims`` is called once from ``claim_aggregate.insert_claims``: one select of
the members' unions and one insert for the whole batch. A claim's facts never change
afterwards (``models.ClaimFact`` says why), so reviews and re-adjudication leave them be.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from claims.catalog import normalise_icd
from claims.dates import china_today
from store import models


def main_diagnosis(record: dict) -> str:
    """The normalised main ICD-10 code of a settlement record as stored ('' if it names none)."""
    for item in record.get("diagnoses") or ():
        if isinstance(item, dict) and str(item.get("maindiag_flag", "")).strip() == "1":
            return normalise_icd(str(item.get("diag_code", "")))[:32]
    return ""


def record_claims(session: Session, claims: Sequence[models.Claim], settlements: Sequence[models.Settlement]) -> None:
    """Write the report facts of newly decided claims (their ids set), with their settlements in the same order."""
    if not claims:
        return
    member_ids = sorted({c.member_id for c in claims})
    unions = dict(session.execute(select(models.Member.id, models.Member.union_id)
                                  .where(models.Member.id.in_(member_ids))).all())
    today = china_today()
    session.execute(insert(models.ClaimFact), [
        {"claim_id": c.id, "member_id": c.member_id, "union_id": unions[c.member_id], "submitted_on": c.submitted_on,
         "decided_on": today, "admitted_on": s.begndate, "hosp_lv": str(s.record.get("hosp_lv", ""))[:2],
         "main_diagnosis": main_diagnosis(s.record)}
        for c, s in zip(claims, settlements)
    ])
