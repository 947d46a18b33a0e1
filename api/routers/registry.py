"""Registry endpoints for union officers and administrators."""

from __future__ import annotations

from typing import Annotated

import datetime as dt

from fastapi import APIRouter, Body, Query, status

from api.deps import CurrentCaller, PagingDep, RowId, SessionDep
from service import registry
from claims.members import HardshipCategory
from service.auth import create_key, Role
from service import audit
from service.errors import Invalid
from service.schemas import (
    EnrollmentCorrection,
    EnrollmentCreate,
    EnrollmentRead,
    HardshipCreate,
    HardshipPage,
    HardshipRead,
    HardshipRevoke,
    HardshipVerify,
    HospitalCreate,
    HospitalRead,
    ImportResult,
    KeyCreate,
    KeyCreated,
    MemberCorrection,
    MemberCreate,
    MemberDetail,
    MemberRead,
    Page,
    UnionCreate,
    UnionRead,
)

router = APIRouter(prefix="/v1", tags=["registry"])


@router.post("/unions", status_code=status.HTTP_201_CREATED, response_model=UnionRead)
def create_union(data: UnionCreate, session: SessionDep, caller: CurrentCaller):
    return registry.create_union(session, caller, data)


@router.get("/unions", response_model=list[UnionRead])
def list_unions(session: SessionDep, caller: CurrentCaller):
    return registry.list_unions(session, caller)


@router.post("/hospitals", status_code=status.HTTP_201_CREATED, response_model=HospitalRead)
def create_hospital(data: HospitalCreate, session: SessionDep, caller: CurrentCaller):
    return registry.create_hospital(session, caller, data)


@router.get("/hospitals", response_model=list[HospitalRead])
def list_hospitals(session: SessionDep, caller: CurrentCaller):
    return registry.list_hospitals(session, caller)


@router.post("/members", status_code=status.HTTP_201_CREATED, response_model=MemberRead)
def create_member(data: MemberCreate, session: SessionDep, caller: CurrentCaller):
    return registry.create_member(session, caller, data)


@router.get("/members", response_model=Page[MemberRead])
def list_members(session: SessionDep, caller: CurrentCaller, paging: PagingDep,
                 union_id: Annotated[str | None, Query(max_length=32)] = None):
    rows, total = registry.list_members(session, caller, union_id, paging.page, paging.page_size)
    return Page[MemberRead](items=[MemberRead.model_validate(r) for r in rows], total=total,
                            page=paging.page, page_size=paging.page_size)


@router.get("/members/{member_id}", response_model=MemberDetail)
def get_member(member_id: str, session: SessionDep, caller: CurrentCaller):
    return registry.get_member(session, caller, member_id, detail=True)


@router.patch("/members/{member_id}", response_model=MemberRead)
def correct_member(member_id: str, data: MemberCorrection, session: SessionDep, caller: CurrentCaller):
    """Correct a member's name or resident identity number (a typo); the audit log keeps the values before and after.

    The number must pass its check digit and belong to no other member (409). An officer
    corrects their own union's members; any other member is answered as an unknown id (404).
    """
    return registry.correct_member(session, caller, member_id, data)


@router.patch("/enrollments/{enrollment_id}", response_model=EnrollmentRead)
def correct_enrollment(enrollment_id: RowId, data: EnrollmentCorrection, session: SessionDep, caller: CurrentCaller):
    """Correct an enrollment's end date: never before its start nor overlapping another period (422).

    Once a claim has been decided under the period (its totals are kept under the
    period's dates), the end no longer moves: 409 with the number of claims.
    """
    return registry.correct_enrollment(session, caller, enrollment_id, data)


@router.post("/members/{member_id}/enrollments", status_code=status.HTTP_201_CREATED, response_model=EnrollmentRead)
def add_enrollment(member_id: str, data: EnrollmentCreate, session: SessionDep, caller: CurrentCaller):
    return registry.add_enrollment(session, caller, member_id, data)


@router.post(
    "/enrollments/import",
    response_model=ImportResult,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def import_enrollments(
    session: SessionDep,
    caller: CurrentCaller,
    csv_text: Annotated[str, Body(media_type="text/csv", include_in_schema=False)] = "",
    union_id: Annotated[str | None, Query(max_length=32, description="Admins name the union; officers import into their own")] = None,
):
    """A unit enrolling its staff: CSV with member_id,name,gender,birth_date,period_start,period_end,enrolled_on."""
    return registry.import_enrollments(session, caller, csv_text, union_id)


@router.post("/members/{member_id}/hardship", status_code=status.HTTP_201_CREATED, response_model=HardshipRead)
def register_hardship(member_id: str, data: HardshipCreate, session: SessionDep, caller: CurrentCaller):
    return registry.register_hardship(session, caller, member_id, data)


@router.get("/hardship", response_model=HardshipPage)
def list_hardship(
    session: SessionDep,
    caller: CurrentCaller,
    paging: PagingDep,
    union_id: Annotated[str | None, Query(max_length=32, description="Admins may name a union; officers see their own")] = None,
    category: HardshipCategory | None = None,
    verified: bool | None = None,
    active_on: Annotated[dt.date | None, Query(description="Registrations in force on this day")] = None,
    member_id: Annotated[str | None, Query(max_length=64)] = None,
):
    """The hardship register (困难职工档案), by id, with counts by category over every page."""
    rows, total, counts = registry.list_hardship(
        session, caller, union_id=union_id, category=category, verified=verified, active_on=active_on,
        member_id=member_id, page=paging.page, page_size=paging.page_size)
    return HardshipPage(items=[HardshipRead.model_validate(r) for r in rows], total=total, page=paging.page,
                        page_size=paging.page_size, counts=counts)


@router.post("/hardship/{registration_id}/verify", response_model=HardshipRead)
def verify_hardship(registration_id: RowId, data: HardshipVerify, session: SessionDep, caller: CurrentCaller):
    return registry.verify_hardship(session, caller, registration_id, data)


@router.post("/hardship/{registration_id}/revoke", response_model=HardshipRead)
def revoke_hardship(registration_id: RowId, data: HardshipRevoke, session: SessionDep, caller: CurrentCaller):
    return registry.revoke_hardship(session, caller, registration_id, data)


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreated, tags=["admin"])
def create_api_key(data: KeyCreate, session: SessionDep, caller: CurrentCaller):
    """Make an API key (admins only); the key is in this answer once and never again."""
    caller.require(Role.ADMIN)
    try:
        row, key = create_key(session, Role(data.role), hospital_code=data.hospital_code, member_id=data.member_id,
                              union_id=data.union_id, label=data.label)
    except Invalid as err:
        # create_key names the scopes as the command line does (--hospital); name the body's fields.
        fields = {"hospital": "hospital_code", "member": "member_id", "union": "union_id"}
        errors = [{**e, "field": fields.get(e["field"], e["field"])} for e in err.errors]
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors) from None
    audit.record(session, caller, "key.created", "api_key", row.id, role=row.role, label=row.label)
    return KeyCreated(id=row.id, role=row.role, key=key)
