"""Hospitals post settlements: validated in full, stored once per (hospital, setl_id)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from claims.dates import china_today
from claims.errors import BillInconsistent, ClaimsError
from claims.money import format_fen
from claims.settlement import AMOUNT_FIELDS, OPTIONAL_TEXT_FIELDS, Settlement, parse_posted_settlement
from service import audit
from service.auth import Principal, Role
from service.errors import BillInconsistentProblem, Conflict, Invalid, NotFound
from service.schemas import SettlementRead
from store import models
from store.repositories import paginate, prebuilt

_PROVINCIAL_CODE = re.compile(r"[0-9A-Za-z]{1,8}")


def parse_med_types(text: str | None) -> frozenset[str]:
    """Provincial ``med_type`` codes a deployment accepts besides the national ones: "9901,9902"."""
    codes = frozenset(c.strip() for c in (text or "").split(",") if c.strip())
    bad = sorted(c for c in codes if not _PROVINCIAL_CODE.fullmatch(c))
    if bad:
        raise ValueError(f"a med_type code is 1 to 8 letters or digits: {', '.join(bad)}")
    return codes


def canonical_record(raw: dict[str, Any], bill: Settlement) -> dict[str, Any]:
    """The record as we keep it: amounts as two-decimal strings, dates ISO, codes trimmed.

    ``raw`` is the record with its identifiers normalised (``parse_posted_settlement``),
    so ``ZW-1`` and a full-width ``ＺＷ－１`` make the same record.

    Two posts that mean the same bill have the same canonical record (and hash), so a
    hospital that retries gets its settlement back instead of a conflict.
    """
    record: dict[str, Any] = {
        "fixmedins_code": bill.fixmedins_code, "hosp_lv": bill.hosp_lv, "setl_id": bill.setl_id,
        "insutype": bill.insutype, "med_type": bill.med_type,
        "begndate": bill.begndate.isoformat(), "enddate": bill.enddate.isoformat(), "certno": raw["certno"],
    }
    for name in OPTIONAL_TEXT_FIELDS:
        value = raw.get(name)
        if isinstance(value, str) and value.strip():
            record[name] = value.strip()
    for name in AMOUNT_FIELDS:
        record[name] = format_fen(getattr(bill, name))
    record["diagnoses"] = [
        {"diag_code": d.diag_code.strip(), "diag_name": d.diag_name, "maindiag_flag": "1" if d.is_main else "0"}
        for d in bill.diagnoses
    ]
    return record


def content_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def to_read(row: models.Settlement) -> SettlementRead:
    return SettlementRead(
        id=row.id, fixmedins_code=row.fixmedins_code, setl_id=row.setl_id, begndate=row.begndate,
        enddate=row.enddate, medfee_sumamt=format_fen(row.medfee_sumamt),
        in_policy_self_pay=format_fen(row.in_policy_self_pay), record=row.record, posted_at=row.posted_at,
    )


@dataclass(frozen=True, slots=True)
class PostedBill:
    """A posted record checked in full: the bill, its canonical record and that record's hash."""

    bill: Settlement
    record: dict[str, Any]
    digest: str


def check_posted(session: Session, who: Principal, raw: Any,
                 provincial_med_types: frozenset[str] = frozenset()) -> PostedBill:
    """A posted record checked as a settlement post checks it, nothing stored (the desk's preview reuses it).

    The bill must be true (``parse_posted_settlement``) and posted at the grade the
    registry holds for its hospital; ``provincial_med_types`` are the deployment's own
    ``med_type`` codes.
    """
    who.require(Role.ADMIN, Role.HOSPITAL)
    try:
        normalised, bill = parse_posted_settlement(raw, today=china_today(),
                                                   provincial_med_types=provincial_med_types)
    except BillInconsistent as err:
        raise BillInconsistentProblem(err.message, [{"field": err.field, "message": err.message}]) from None
    except ClaimsError as err:
        raise Invalid.at(err.field or "body", err.message) from None
    who.require_hospital(bill.fixmedins_code)
    if who.hospital_code == bill.fixmedins_code and who.hospital_grade is not None:
        grade = who.hospital_grade  # read with the hospital's key in this request
    else:
        grade = session.scalar(select(models.Hospital.grade).where(models.Hospital.code == bill.fixmedins_code))
    if grade is None:
        raise Invalid.at("fixmedins_code", f"no hospital {bill.fixmedins_code} is registered")
    if bill.hosp_lv != grade:
        raise Invalid.at("hosp_lv", f"hospital {bill.fixmedins_code} is registered at grade {grade}, not {bill.hosp_lv}")
    record = canonical_record(normalised, bill)
    return PostedBill(bill, record, content_hash(record))


def post_settlement(session: Session, who: Principal, raw: Any,
                    provincial_med_types: frozenset[str] = frozenset()) -> tuple[models.Settlement, bool]:
    """Store a settlement; returns (row, created). The same content again returns the stored row."""
    posted = check_posted(session, who, raw, provincial_med_types)
    row, created = store_posted(session, posted)
    if created:
        audit.record_entries(session, who, [posted_entry(row)])
    return row, created


def posted_entry(row: models.Settlement) -> tuple[str, str, int, dict[str, Any]]:
    """The audit entry of a stored settlement: (action, entity, id, details)."""
    return ("settlement.posted", "settlement", row.id,
            {"fixmedins_code": row.fixmedins_code, "setl_id": row.setl_id, "content_hash": row.content_hash})


def store_posted(session: Session, posted: PostedBill) -> tuple[models.Settlement, bool]:
    """Store a checked bill once per (hospital, setl_id); returns (row, created), no audit entry.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: a new bill costs one statement.
    When another request stored the same bill first (on PostgreSQL the insert waits for
    that transaction to end), the stored row is read and answered as if we came second;
    the same (hospital, setl_id) with other content is a conflict.
    """
    bill, record = posted.bill, posted.record
    values = {
        "fixmedins_code": bill.fixmedins_code, "setl_id": bill.setl_id, "psn_no": record.get("psn_no", ""),
        "certno": record["certno"], "begndate": bill.begndate, "enddate": bill.enddate,
        "medfee_sumamt": bill.medfee_sumamt, "in_policy_self_pay": bill.in_policy_self_pay, "record": record,
        "content_hash": posted.digest, "posted_at": dt.datetime.now(dt.timezone.utc),
    }
    row_id = session.scalar(prebuilt(session, _store_once), values)
    if row_id is not None:
        row = models.Settlement(id=row_id, **values)
        make_transient_to_detached(row)
        session.add(row)  # known to the session (it was written), never read back
        return row, True
    existing = find(session, bill.fixmedins_code, bill.setl_id)
    assert existing is not None  # the insert found it there
    if existing.content_hash != posted.digest:
        raise Conflict(
            f"settlement {bill.setl_id} of hospital {bill.fixmedins_code} was already posted with different content"
        )
    return existing, False


def _store_once(dialect: str):
    table = models.Settlement.__table__
    return ((postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
            .on_conflict_do_nothing(index_elements=["fixmedins_code", "setl_id"]).returning(table.c.id))


def find(session: Session, code: str, setl_id: str) -> models.Settlement | None:
    return session.scalar(
        select(models.Settlement).where(models.Settlement.fixmedins_code == code, models.Settlement.setl_id == setl_id)
    )


def get_settlement(session: Session, who: Principal, settlement_id: int) -> models.Settlement:
    """A settlement, to those it concerns: its hospital, the patient, the officers of the patient's union.

    To anyone else it is answered exactly as an id never posted (404, not 403), so the
    ids of other people's bills, and their diagnoses, are not revealed.
    """
    row = session.get(models.Settlement, settlement_id)
    if row is None or not may_read(session, who, row):
        raise NotFound(f"no settlement {settlement_id}")
    return row


def may_read(session: Session, who: Principal, row: models.Settlement) -> bool:
    if who.role is Role.ADMIN:
        return True
    if who.role is Role.HOSPITAL:
        return row.fixmedins_code == who.hospital_code
    if row.certno is None:  # posted before bills carried the patient's number: nobody's to read
        return False
    patient = models.Member.certno == row.certno
    if who.role is Role.OFFICER:
        scope = who.union_scope(models.Member.union_id)
    elif who.role is Role.MEMBER:
        scope = models.Member.id == who.member_id
    else:
        return False
    return session.scalar(select(models.Member.id).where(patient, scope)) is not None


def owned_by(row: models.Settlement | None, member: models.Member) -> models.Settlement | None:
    """The settlement if it is the member's own bill (its ``certno`` is theirs), else None.

    A claim for a bill of someone else is then refused exactly as one for a bill never
    posted, so the answer tells nothing about other people's bills.
    """
    if row is None or row.certno is None or row.certno != member.certno:
        return None
    return row


def list_settlements(session: Session, who: Principal, hospital: str | None, page: int, page_size: int):
    who.require(Role.ADMIN, Role.HOSPITAL)
    query = select(models.Settlement)
    if who.role is Role.HOSPITAL:
        query = query.where(models.Settlement.fixmedins_code == who.hospital_code)
    elif hospital:
        query = query.where(models.Settlement.fixmedins_code == hospital)
    return paginate(session, query, models.Settlement.id, page, page_size)
