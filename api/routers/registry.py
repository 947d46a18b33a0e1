"""Registry endpoints for union officers and administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from api.deps import CurrentCaller, PagingDep, RowId, SessionDep
from service import registry
from service.schemas import (
    EnrollmentCreate,
    EnrollmentRead,
    HardshipCreate,
    HardshipRead,
    HardshipRevoke,
    HardshipVerify,
    HospitalCreate,
    HospitalRead,
    ImportResult,
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


@router.post("/hardship/{registration_id}/verify", response_model=HardshipRead)
def verify_hardship(registration_id: RowId, data: HardshipVerify, session: SessionDep, caller: CurrentCaller):
    return registry.verify_hardship(session, caller, registration_id, data)


@router.post("/hardship/{registration_id}/revoke", response_model=HardshipRead)
def revoke_hardship(registration_id: RowId, data: HardshipRevoke, session: SessionDep, caller: CurrentCaller):
    return registry.revoke_hardship(session, caller, registration_id, data)
