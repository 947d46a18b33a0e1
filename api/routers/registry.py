"""Registry endpoints for union officers and administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from api.deps import CurrentCaller, PagingDep, RowId, SessionDep
from service import registry
from service.auth import create_key, Role
from service import audit
from service.errors import Invalid
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
    KeyCreate,
    KeyCreated,
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


@router.post("/enrollments/import", response_model=ImportResult, openapi_extra={"requestBody": IMPORT_BODY})
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


@router.post("/members/{member_id}/hardship", status_code=status.HTTP_201_CREATED, response_model=HardshipRead)
def register_hardship(member_id: str, data: HardshipCreate, session: SessionDep, caller: CurrentCaller):
    return registry.register_hardship(session, caller, member_id, data)


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
