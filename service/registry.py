"""The registry union officers keep: unions, hospitals, members, enrollments, hardship."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from claims.identity import InvalidIdentity, hidden_character, parse_certno
from claims.members import HardshipCategory
from service import audit
from service.auth import Principal, Role
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.schemas import (
    EnrollmentCreate,
    HardshipCreate,
    HardshipRevoke,
    HardshipVerify,
    HospitalCreate,
    ImportResult,
    MemberCreate,
    UnionCreate,
)
from store import models
from store.repositories import paginate


def create_union(session: Session, who: Principal, data: UnionCreate) -> models.Union:
    who.require(Role.ADMIN)
    if session.get(models.Union, data.id) is not None:
        raise Conflict(f"union {data.id} exists")
    union = models.Union(**data.model_dump())
    session.add(union)
    session.flush()
    audit.record(session, who, "union.created", "union", union.id, **data.model_dump())
    return union


def list_unions(session: Session, who: Principal, page: int, page_size: int) -> tuple[list[models.Union], int]:
    who.require(Role.ADMIN, Role.OFFICER)
    query = select(models.Union)
    if who.role is Role.OFFICER:
        query = query.where(models.Union.id == who.union_id)
    return paginate(session, query, models.Union.id, page, page_size)


def get_union(session: Session, who: Principal, union_id: str) -> models.Union:
    union = session.get(models.Union, union_id)
    # A union not the caller's is answered as one that does not exist.
    if union is None or not (who.role is Role.ADMIN or (who.role is Role.OFFICER and union.id == who.union_id)):
        raise NotFound(f"no union {union_id}")
    return union


def create_hospital(session: Session, who: Principal, data: HospitalCreate) -> models.Hospital:
    who.require(Role.ADMIN)
    if session.get(models.Hospital, data.code) is not None:
        raise Conflict(f"hospital {data.code} exists")
    hospital = models.Hospital(**data.model_dump())
    session.add(hospital)
    session.flush()
    audit.record(session, who, "hospital.created", "hospital", hospital.code, **data.model_dump())
    return hospital


def list_hospitals(session: Session, who: Principal, page: int, page_size: int) -> tuple[list[models.Hospital], int]:
    return paginate(session, select(models.Hospital), models.Hospital.code, page, page_size)


def get_hospital(session: Session, who: Principal, code: str) -> models.Hospital:
    hospital = session.get(models.Hospital, code)
    if hospital is None:
        raise NotFound(f"no hospital {code}")
    return hospital


def get_member(session: Session, who: Principal, member_id: str, *, detail: bool = False) -> models.Member:
    query = select(models.Member).where(models.Member.id == member_id)
    if detail:
        query = query.options(
            selectinload(models.Member.enrollments), selectinload(models.Member.hardship_registrations)
        )
    member = session.scalar(query)
    if member is None:
        raise NotFound(f"no member {member_id}")
    who.require_member(member)
    return member


def _union_for(session: Session, who: Principal, union_id: str | None) -> str:
    if who.role is Role.OFFICER:
        if union_id is not None and union_id != who.union_id:
            raise Forbidden(f"an officer of union {who.union_id} registers members of that union only")
        return who.union_id  # type: ignore[return-value]
    who.require(Role.ADMIN)
    if union_id is None:
        raise Invalid.at("union_id", "required")
    if session.get(models.Union, union_id) is None:
        raise Invalid.at("union_id", f"no union {union_id}")
    return union_id


def create_member(session: Session, who: Principal, data: MemberCreate) -> models.Member:
    who.require(Role.ADMIN, Role.OFFICER)
    union_id = _union_for(session, who, data.union_id)
    if session.get(models.Member, data.id) is not None:
        raise Conflict(f"member {data.id} exists")
    if _holder_of(session, data.certno) is not None:
        raise _certno_taken("certno")
    member = models.Member(id=data.id, union_id=union_id, certno=data.certno, name=data.name, gender=data.gender,
                           birth_date=data.birth_date)
    try:
        with session.begin_nested():
            session.add(member)
            session.flush()
    except IntegrityError:
        # Registered by another request since we looked: the unique index decides.
        if _holder_of(session, data.certno) is not None:
            raise _certno_taken("certno") from None
        raise Conflict(f"member {data.id} exists") from None
    audit.record(session, who, "member.created", "member", member.id, union_id=union_id)
    return member


def _holder_of(session: Session, certno: str) -> str | None:
    """The id of the member registered with this resident identity number, if any."""
    return session.scalar(select(models.Member.id).where(models.Member.certno == certno))


def _certno_taken(field: str) -> Conflict:
    # The holder is not named: an officer of one union must not learn who is registered
    # in another (409, like a member id that exists).
    message = "this resident identity number is already registered to another member"
    return Conflict(f"{field}: {message}", [{"field": field, "message": message}])


def list_members(session: Session, who: Principal, union_id: str | None, page: int, page_size: int) -> tuple[list[models.Member], int]:
    who.require(Role.ADMIN, Role.OFFICER)
    query = select(models.Member)
    if who.role is Role.OFFICER:
        query = query.where(models.Member.union_id == who.union_id)
    elif union_id:
        query = query.where(models.Member.union_id == union_id)
    return paginate(session, query, models.Member.id, page, page_size)


def _overlap(session: Session, member_id: str, start: dt.date, end: dt.date) -> models.Enrollment | None:
    return session.scalar(
        select(models.Enrollment).where(
            models.Enrollment.member_id == member_id,
            models.Enrollment.period_start <= end,
            models.Enrollment.period_end >= start,
        )
    )


def add_enrollment(session: Session, who: Principal, member_id: str, data: EnrollmentCreate) -> models.Enrollment:
    who.require(Role.ADMIN, Role.OFFICER)
    member = get_member(session, who, member_id)
    clash = _overlap(session, member.id, data.period_start, data.period_end)
    if clash is not None:
        raise Invalid.at(
            "period_start", f"overlaps the enrollment {clash.period_start}..{clash.period_end} (periods never overlap)"
        )
    enrollment = models.Enrollment(member_id=member.id, **data.model_dump())
    session.add(enrollment)
    session.flush()
    audit.record(session, who, "enrollment.created", "member", member.id, **data.model_dump())
    return enrollment


_MEMBER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # as MemberCreate.id
IMPORT_COLUMNS = ("member_id", "certno", "name", "gender", "birth_date", "period_start", "period_end", "enrolled_on")


def import_enrollments(session: Session, who: Principal, text: str, union_id: str | None) -> ImportResult:
    """A unit enrolling its staff: one CSV row per member and period, all or nothing.

    Members are made when new (in the importing union), with the row's resident
    identity number; a row of a member already registered must carry that member's own
    number. An enrollment already there with the same dates is left alone; any bad row
    refuses the whole file, each error named by row and column.
    """
    who.require(Role.ADMIN, Role.OFFICER)
    union = _union_for(session, who, union_id)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("member_id", "certno", "period_start", "period_end", "enrolled_on")
               if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid.at("header", f"the CSV needs the columns {', '.join(IMPORT_COLUMNS)}; missing {', '.join(missing)}")
    errors: list[dict[str, str]] = []
    rows = []
    for n, row in enumerate(reader, start=2):
        try:
            dates = {k: dt.date.fromisoformat((row.get(k) or "").strip()) for k in ("period_start", "period_end", "enrolled_on")}
        except ValueError:
            bad = next(k for k in ("period_start", "period_end", "enrolled_on") if not _is_date(row.get(k)))
            errors.append({"field": f"row {n}.{bad}", "message": f"not an ISO date: {row.get(bad)!r}"})
            continue
        member_id = (row.get("member_id") or "").strip()
        gender = (row.get("gender") or "").strip() or None
        birth = (row.get("birth_date") or "").strip() or None
        name = (row.get("name") or "").strip()
        if not member_id:
            errors.append({"field": f"row {n}.member_id", "message": "required"})
        elif not _MEMBER_ID.fullmatch(member_id):
            errors.append({"field": f"row {n}.member_id",
                           "message": "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"})
        elif (certno_error := _certno_error(row.get("certno"))) is not None:
            errors.append({"field": f"row {n}.certno", "message": certno_error})
        elif len(name) > 100 or hidden_character(name):
            errors.append({"field": f"row {n}.name", "message": "at most 100 characters, no control or invisible ones"})
        elif gender not in (None, "F", "M"):
            errors.append({"field": f"row {n}.gender", "message": "F or M"})
        elif birth is not None and not _is_date(birth):
            errors.append({"field": f"row {n}.birth_date", "message": f"not an ISO date: {birth!r}"})
        elif dates["period_end"] < dates["period_start"]:
            errors.append({"field": f"row {n}.period_end", "message": "before period_start"})
        else:
            rows.append((n, member_id, parse_certno(row["certno"]), name, gender, birth, dates))
    created = enrolled = unchanged = 0
    seen: dict[str, list[tuple[dt.date, dt.date]]] = {}
    for n, member_id, certno, name, gender, birth, dates in rows:
        member = session.get(models.Member, member_id)
        if member is None:
            if _holder_of(session, certno) is not None:
                errors.append({"field": f"row {n}.certno",
                               "message": "this resident identity number is already registered to another member"})
                continue
            member = models.Member(id=member_id, union_id=union, certno=certno, name=name, gender=gender,
                                   birth_date=dt.date.fromisoformat(birth) if birth else None)
            session.add(member)
            session.flush()
            created += 1
        elif member.union_id != union:
            errors.append({"field": f"row {n}.member_id", "message": f"member {member_id} belongs to union {member.union_id}"})
            continue
        elif member.certno != certno:
            # A file must not re-point a registered member at another person's number.
            errors.append({"field": f"row {n}.certno", "message": f"not the resident identity number of member {member_id}"})
            continue
        start, end = dates["period_start"], dates["period_end"]
        same = session.scalar(select(models.Enrollment).where(
            models.Enrollment.member_id == member_id, models.Enrollment.period_start == start,
            models.Enrollment.period_end == end, models.Enrollment.enrolled_on == dates["enrolled_on"]))
        if same is not None:
            unchanged += 1
            continue
        if _overlap(session, member_id, start, end) is not None or any(
            s <= end and e >= start for s, e in seen.get(member_id, [])
        ):
            errors.append({"field": f"row {n}.period_start", "message": "overlaps another enrollment of this member"})
            continue
        seen.setdefault(member_id, []).append((start, end))
        session.add(models.Enrollment(member_id=member_id, **dates))
        enrolled += 1
    if errors:
        # Nothing of the file is kept: the unit of work rolls the transaction back.
        raise Invalid(f"{len(errors)} row(s) of the enrollment file are invalid; nothing was imported", errors)
    session.flush()
    audit.record(session, who, "enrollments.imported", "union", union,
                 members_created=created, enrollments_created=enrolled, enrollments_unchanged=unchanged)
    return ImportResult(members_created=created, enrollments_created=enrolled, enrollments_unchanged=unchanged)


def _certno_error(value: str | None) -> str | None:
    try:
        parse_certno(value)
    except InvalidIdentity as err:
        return err.message
    return None


def _is_date(value: str | None) -> bool:
    try:
        dt.date.fromisoformat((value or "").strip())
        return True
    except ValueError:
        return False


def register_hardship(session: Session, who: Principal, member_id: str, data: HardshipCreate) -> models.HardshipRegistration:
    who.require(Role.ADMIN, Role.OFFICER)
    member = get_member(session, who, member_id)
    if data.verified and data.verified_on is None:
        raise Invalid.at("verified_on", "required when verified is true")
    reg = models.HardshipRegistration(
        member_id=member.id, category=HardshipCategory(data.category).value, registered_on=data.registered_on,
        verified=data.verified, verified_on=data.verified_on, note=data.note,
    )
    session.add(reg)
    session.flush()
    audit.record(session, who, "hardship.registered", "hardship", reg.id, member_id=member.id,
                 category=reg.category, registered_on=data.registered_on, verified=data.verified)
    return reg


def _registration(session: Session, who: Principal, registration_id: int) -> models.HardshipRegistration:
    reg = session.get(models.HardshipRegistration, registration_id)
    if reg is None:
        raise NotFound(f"no hardship registration {registration_id}")
    get_member(session, who, reg.member_id)
    return reg


def verify_hardship(session: Session, who: Principal, registration_id: int, data: HardshipVerify) -> models.HardshipRegistration:
    who.require(Role.ADMIN, Role.OFFICER)
    reg = _registration(session, who, registration_id)
    if reg.revoked_on is not None:
        raise Conflict(f"hardship registration {reg.id} was revoked on {reg.revoked_on}")
    reg.verified, reg.verified_on = True, data.verified_on
    if data.note:
        reg.note = data.note
    session.flush()
    audit.record(session, who, "hardship.verified", "hardship", reg.id, verified_on=data.verified_on, note=data.note)
    return reg


def revoke_hardship(session: Session, who: Principal, registration_id: int, data: HardshipRevoke) -> models.HardshipRegistration:
    who.require(Role.ADMIN, Role.OFFICER)
    reg = _registration(session, who, registration_id)
    if reg.revoked_on is not None:
        raise Conflict(f"hardship registration {reg.id} was already revoked on {reg.revoked_on}")
    if data.revoked_on < reg.registered_on:
        raise Invalid.at("revoked_on", f"before the registration date {reg.registered_on}")
    reg.revoked_on = data.revoked_on
    if data.note:
        reg.note = data.note
    session.flush()
    audit.record(session, who, "hardship.revoked", "hardship", reg.id, revoked_on=data.revoked_on, note=data.note)
    return reg
