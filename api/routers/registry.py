"""Registry endpoints for union officers and administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi import Path as PathParam

from api.deps import CurrentCaller, PagingDep, RowId, SessionDep
from api.problems import answers
from api.routers import CREATED
from claims.members import HardshipCategory
from service import registry
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
    MemberCorrection,
    MemberCreate,
    MemberDetail,
    MemberRead,
    Page,
    UnionCreate,
    UnionRead,
    WrittenDay,
)

router = APIRouter(prefix="/v1", tags=["registry"])


@router.post("/unions", status_code=status.HTTP_201_CREATED, response_model=UnionRead, summary="Register a union",
             responses={**CREATED, **answers(409, s409="A union with this id is registered already")})
def create_union(data: UnionCreate, response: Response, session: SessionDep, caller: CurrentCaller):
    """A trade union (administrators only); its officers' keys are then made for it."""
    union = registry.create_union(session, caller, data)
    response.headers["Location"] = f"/v1/unions/{union.id}"
    return union


@router.get("/unions", response_model=Page[UnionRead], summary="List unions")
def list_unions(session: SessionDep, caller: CurrentCaller, paging: PagingDep):
    """Unions by id; an officer sees their own union and every union beneath it."""
    rows, total = registry.list_unions(session, caller, paging.page, paging.page_size)
    return Page[UnionRead](items=[UnionRead.model_validate(r) for r in rows], total=total, page=paging.page,
                           page_size=paging.page_size)


@router.get("/unions/{union_id}", response_model=UnionRead, summary="Read a union")
def get_union(union_id: Annotated[str, PathParam(max_length=32)], session: SessionDep, caller: CurrentCaller):
    """A union, to administrators and the officers of it or a union above it (any other is 404, as if none)."""
    return registry.get_union(session, caller, union_id)


@router.post("/hospitals", status_code=status.HTTP_201_CREATED, response_model=HospitalRead,
             summary="Register a hospital",
             responses={**CREATED, **answers(409, s409="A hospital with this code is registered already")})
def create_hospital(data: HospitalCreate, response: Response, session: SessionDep, caller: CurrentCaller):
    """A designated hospital (定点医疗机构) with its grade (administrators only); settlements must carry this grade."""
    hospital = registry.create_hospital(session, caller, data)
    response.headers["Location"] = f"/v1/hospitals/{hospital.code}"
    return hospital


@router.get("/hospitals", response_model=Page[HospitalRead], summary="List hospitals")
def list_hospitals(session: SessionDep, caller: CurrentCaller, paging: PagingDep):
    """Registered hospitals by code, to every key."""
    rows, total = registry.list_hospitals(session, caller, paging.page, paging.page_size)
    return Page[HospitalRead](items=[HospitalRead.model_validate(r) for r in rows], total=total, page=paging.page,
                              page_size=paging.page_size)


@router.get("/hospitals/{code}", response_model=HospitalRead, summary="Read a hospital")
def get_hospital(code: Annotated[str, PathParam(max_length=32)], session: SessionDep, caller: CurrentCaller):
    """A registered hospital, to every key."""
    return registry.get_hospital(session, caller, code)


@router.post("/members", status_code=status.HTTP_201_CREATED, response_model=MemberRead, summary="Register a member",
             responses={**CREATED, **answers(404, 409, s404="No such union (or not the officer's)",
                                             s409="A member with this id or certno is registered already")})
def create_member(data: MemberCreate, response: Response, session: SessionDep, caller: CurrentCaller):
    """A worker of a union, with their resident identity number (certno); officers register into their own union."""
    member = registry.create_member(session, caller, data)
    response.headers["Location"] = f"/v1/members/{member.id}"
    return member


@router.get("/members", response_model=Page[MemberRead], summary="List members")
def list_members(session: SessionDep, caller: CurrentCaller, paging: PagingDep,
                 union_id: Annotated[str | None, Query(max_length=32)] = None):
    """Members by id; an officer sees their own union's."""
    rows, total = registry.list_members(session, caller, union_id, paging.page, paging.page_size)
    return Page[MemberRead](items=[MemberRead.model_validate(r) for r in rows], total=total,
                            page=paging.page, page_size=paging.page_size)


@router.get("/members/{member_id}", response_model=MemberDetail, summary="Read a member")
def get_member(member_id: str, session: SessionDep, caller: CurrentCaller):
    """A member with their enrollments and hardship registrations."""
    return registry.get_member(session, caller, member_id, detail=True)


@router.patch("/members/{member_id}", response_model=MemberRead, summary="Correct a member",
              responses=answers(409, s409="The resident identity number belongs to another member"))
def correct_member(member_id: str, data: MemberCorrection, session: SessionDep, caller: CurrentCaller):
    """Correct a member's name or resident identity number (a typo); the audit log keeps the values before and after.

    The number must pass its check digit and belong to no other member (409). An officer
    corrects their own union's members; any other member is answered as an unknown id (404).
    """
    return registry.correct_member(session, caller, member_id, data)


@router.patch("/enrollments/{enrollment_id}", response_model=EnrollmentRead, summary="Correct an enrollment's end",
              responses=answers(409, s409="Claims were decided under the period"))
def correct_enrollment(enrollment_id: RowId, data: EnrollmentCorrection, session: SessionDep, caller: CurrentCaller):
    """Correct an enrollment's end date: never before its start nor overlapping another period (422).

    Once a claim has been decided under the period (its totals are kept under the
    period's dates), the end no longer moves: 409 with the number of claims.
    """
    return registry.correct_enrollment(session, caller, enrollment_id, data)


@router.post("/members/{member_id}/enrollments", status_code=status.HTTP_201_CREATED, response_model=EnrollmentRead,
             summary="Enroll a member for a period", responses=CREATED)
def add_enrollment(member_id: str, data: EnrollmentCreate, response: Response, session: SessionDep,
                   caller: CurrentCaller):
    """A period of cover (a year's mutual-aid membership) for a member."""
    enrollment = registry.add_enrollment(session, caller, member_id, data)
    # An enrollment is read with its member.
    response.headers["Location"] = f"/v1/members/{enrollment.member_id}"
    return enrollment


async def _uploaded_csv(request: Request) -> bytes:
    """The CSV file as sent: the request body, or the ``file`` field of a multipart form (a browser upload)."""
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await request.form()
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise Invalid.at("file", "send the CSV file as the form's file field 'file'")
            return await upload.read()
        finally:
            await form.close()
    return await request.body()


IMPORT_BODY = {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
}}


@router.post("/enrollments/import", response_model=ImportResult, summary="Import enrollments from CSV",
             responses=answers(404, s404="No such union (or not the officer's)"), openapi_extra={"requestBody": IMPORT_BODY})
def import_enrollments(
    # The file first: it is read before the unit of work begins, so a slow upload holds no lock.
    data: Annotated[bytes, Depends(_uploaded_csv)],
    session: SessionDep,
    caller: CurrentCaller,
    union_id: Annotated[str | None, Query(max_length=32, description="Admins name the union; officers import into their own")] = None,
):
    """A unit enrolling its staff: CSV with member_id,certno,name,gender,birth_date,period_start,period_end,enrolled_on.

    Sent as a ``text/csv`` body or as the file field ``file`` of a ``multipart/form-data``
    upload; UTF-8 (with or without a BOM) or GB18030/GBK, as Excel saves it; dates
    ``YYYY-MM-DD`` or ``YYYY/M/D``. All or nothing: any bad row refuses the file, each
    error named ``row N.column``.
    """
    return registry.import_enrollments(session, caller, data, union_id)


@router.post("/members/{member_id}/hardship", status_code=status.HTTP_201_CREATED, response_model=HardshipRead,
             summary="Register a member as a hardship worker",
             responses={**CREATED, **answers(409, s409="The member holds an active registration already (it is named)")})
def register_hardship(member_id: str, data: HardshipCreate, response: Response, session: SessionDep,
                      caller: CurrentCaller):
    """A registration on the hardship register (困难职工) in a category; the relief needs it verified."""
    registration = registry.register_hardship(session, caller, member_id, data)
    # A registration is read with its member.
    response.headers["Location"] = f"/v1/members/{registration.member_id}"
    return registration


@router.get("/hardship", response_model=HardshipPage, summary="List the hardship register")
def list_hardship(
    session: SessionDep,
    caller: CurrentCaller,
    paging: PagingDep,
    union_id: Annotated[str | None, Query(max_length=32, description="Admins may name a union; officers see their own")] = None,
    category: HardshipCategory | None = None,
    verified: bool | None = None,
    active_on: Annotated[WrittenDay | None, Query(description="Registrations in force on this day")] = None,
    member_id: Annotated[str | None, Query(max_length=64)] = None,
):
    """The hardship register (困难职工档案), by id, with counts by category over every page."""
    rows, total, counts = registry.list_hardship(
        session, caller, union_id=union_id, category=category, verified=verified, active_on=active_on,
        member_id=member_id, page=paging.page, page_size=paging.page_size)
    return HardshipPage(items=[HardshipRead.model_validate(r) for r in rows], total=total, page=paging.page,
                        page_size=paging.page_size, counts=counts)


@router.post("/hardship/{registration_id}/verify", response_model=HardshipRead,
             summary="Verify a hardship registration", responses=answers(409, s409="The registration was revoked"))
def verify_hardship(registration_id: RowId, data: HardshipVerify, session: SessionDep, caller: CurrentCaller):
    """Record that the union verified the household's hardship; pended relief can then be approved."""
    return registry.verify_hardship(session, caller, registration_id, data)


@router.post("/hardship/{registration_id}/revoke", response_model=HardshipRead,
             summary="Revoke a hardship registration", responses=answers(409, s409="The registration was revoked already"))
def revoke_hardship(registration_id: RowId, data: HardshipRevoke, session: SessionDep, caller: CurrentCaller):
    """End a registration from a date; claims admitted after it get no relief."""
    return registry.revoke_hardship(session, caller, registration_id, data)
