"""Hospitals post settlements: validated in full, stored once per (hospital, setl_id)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.errors import BillInconsistent, InvalidCase
from claims.money import format_fen
from claims.settlement import AMOUNT_FIELDS, Settlement, parse_settlement
from service import audit
from service.auth import Principal, Role
from service.errors import BillInconsistentProblem, Conflict, Forbidden, Invalid, NotFound
from service.schemas import SettlementRead
from store import models
from store.repositories import paginate

_OPTIONAL_TEXT = ("fixmedins_name", "psn_no", "mdtrt_id")


def canonical_record(raw: dict[str, Any], bill: Settlement) -> dict[str, Any]:
    """The record as we keep it: amounts as two-decimal strings, dates ISO, codes trimmed.

    Two posts that mean the same bill have the same canonical record (and hash), so a
    hospital that retries gets its settlement back instead of a conflict.
    """
    record: dict[str, Any] = {
        "fixmedins_code": bill.fixmedins_code, "hosp_lv": bill.hosp_lv, "setl_id": bill.setl_id,
        "insutype": bill.insutype, "med_type": bill.med_type,
        "begndate": bill.begndate.isoformat(), "enddate": bill.enddate.isoformat(),
    }
    for name in _OPTIONAL_TEXT:
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


def post_settlement(session: Session, who: Principal, raw: Any) -> tuple[models.Settlement, bool]:
    """Store a settlement; returns (row, created). The same content again returns the stored row."""
    who.require(Role.ADMIN, Role.HOSPITAL)
    try:
        bill = parse_settlement(raw, prefix="")
    except BillInconsistent as err:
        raise BillInconsistentProblem(err.message, [{"field": err.field, "message": err.message}]) from None
    except InvalidCase as err:
        raise Invalid.at(err.field or "body", err.message) from None
    _check_stored_text(bill, raw)
    who.require_hospital(bill.fixmedins_code)
    hospital = session.get(models.Hospital, bill.fixmedins_code)
    if hospital is None:
        raise Invalid.at("fixmedins_code", f"no hospital {bill.fixmedins_code} is registered")
    record = canonical_record(raw, bill)
    digest = content_hash(record)
    existing = _find(session, bill.fixmedins_code, bill.setl_id)
    if existing is None:
        row = models.Settlement(
            fixmedins_code=bill.fixmedins_code, setl_id=bill.setl_id, psn_no=record.get("psn_no", ""),
            begndate=bill.begndate, enddate=bill.enddate, medfee_sumamt=bill.medfee_sumamt,
            in_policy_self_pay=bill.in_policy_self_pay, record=record, content_hash=digest,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            # Another request stored the same bill first: answer as if we came second.
            existing = _find(session, bill.fixmedins_code, bill.setl_id)
            if existing is None:
                raise
        else:
            audit.record(session, who, "settlement.posted", "settlement", row.id,
                         fixmedins_code=row.fixmedins_code, setl_id=row.setl_id, content_hash=digest)
            return row, True
    if existing.content_hash != digest:
        raise Conflict(
            f"settlement {bill.setl_id} of hospital {bill.fixmedins_code} was already posted with different content"
        )
    return existing, False


# The record's codes that go into columns of their own, with the columns' lengths.
_STORED_TEXT = {"fixmedins_code": 32, "setl_id": 64, "psn_no": 64}


def _check_stored_text(bill: Settlement, raw: dict[str, Any]) -> None:
    """Refuse, by field, a code its column cannot hold (SQLite would keep it; PostgreSQL would fail)."""
    psn_no = raw.get("psn_no")
    values = {"fixmedins_code": bill.fixmedins_code, "setl_id": bill.setl_id,
              "psn_no": psn_no.strip() if isinstance(psn_no, str) else ""}
    for name, limit in _STORED_TEXT.items():
        if len(values[name]) > limit:
            raise Invalid.at(name, f"at most {limit} characters")
        if "\x00" in values[name]:
            raise Invalid.at(name, "contains a NUL character")


def _find(session: Session, code: str, setl_id: str) -> models.Settlement | None:
    return session.scalar(
        select(models.Settlement).where(models.Settlement.fixmedins_code == code, models.Settlement.setl_id == setl_id)
    )


def get_settlement(session: Session, who: Principal, settlement_id: int) -> models.Settlement:
    row = session.get(models.Settlement, settlement_id)
    if row is None:
        raise NotFound(f"no settlement {settlement_id}")
    if who.role is Role.HOSPITAL:
        who.require_hospital(row.fixmedins_code)
    elif who.role is Role.OFFICER:
        # A settlement holds a patient's diagnoses: an officer sees it once a member of
        # their union has claimed it, not before (claims name it by hospital and setl_id).
        claimed_here = session.scalar(
            select(models.Claim.id)
            .join(models.Member, models.Member.id == models.Claim.member_id)
            .where(models.Claim.settlement_id == row.id, models.Member.union_id == who.union_id)
            .limit(1)
        )
        if claimed_here is None:
            raise Forbidden(f"settlement {settlement_id} is not claimed by a member of union {who.union_id}")
    else:
        who.require(Role.ADMIN)
    return row


def list_settlements(session: Session, who: Principal, hospital: str | None, page: int, page_size: int):
    who.require(Role.ADMIN, Role.HOSPITAL)
    query = select(models.Settlement)
    if who.role is Role.HOSPITAL:
        query = query.where(models.Settlement.fixmedins_code == who.hospital_code)
    elif hospital:
        query = query.where(models.Settlement.fixmedins_code == hospital)
    return paginate(session, query, models.Settlement.id, page, page_size)
