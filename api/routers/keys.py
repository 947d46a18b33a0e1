"""API keys: issued, listed and revoked by administrators, and by officers for their union's members."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentCaller, PagingDep, RowId, SessionDep
from api.problems import answers
from api.routers import CREATED
from service import audit
from service.auth import Role, issue_key, key_status, list_keys, revoke_key
from service.errors import Invalid
from service.schemas import KeyCreate, KeyCreated, KeyRead, Page

router = APIRouter(prefix="/v1", tags=["keys"])


def _read(row) -> KeyRead:
    return KeyRead(id=row.id, prefix=row.prefix, role=row.role, hospital_code=row.hospital_code,
                   member_id=row.member_id, union_id=row.union_id, label=row.label, created_at=row.created_at,
                   expires_at=row.expires_at, revoked_at=row.revoked_at, status=key_status(row))


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreated, summary="Make an API key",
             responses={**CREATED, **answers(404, s404="No such hospital, member or union to scope the key to")})
def create_api_key(data: KeyCreate, response: Response, session: SessionDep, caller: CurrentCaller):
    """Make an API key; the key is in this answer once and never again.

    Administrators make any key; an officer makes member keys for their own union's
    members (another union's member is 404, as an unknown one; another role is 403).
    """
    try:
        row, key = issue_key(session, caller, Role(data.role), hospital_code=data.hospital_code,
                             member_id=data.member_id, union_id=data.union_id, label=data.label,
                             expires_at=data.expires_at)
    except Invalid as err:
        # create_key names the scopes as the command line does (--hospital); name the body's fields.
        fields = {"hospital": "hospital_code", "member": "member_id", "union": "union_id"}
        errors = [{**e, "field": fields.get(e["field"], e["field"])} for e in err.errors]
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors) from None
    audit.record(session, caller, "key.created", "api_key", row.id, role=row.role, label=row.label,
                 member_id=row.member_id, expires_at=row.expires_at)
    response.headers["Location"] = f"/v1/keys/{row.id}"
    return KeyCreated(id=row.id, role=row.role, key=key, expires_at=row.expires_at)


@router.get("/keys", response_model=Page[KeyRead], summary="List API keys")
def get_keys(session: SessionDep, caller: CurrentCaller, paging: PagingDep,
             role: Annotated[Literal["admin", "officer", "finance", "hospital", "member"] | None, Query()] = None,
             active: Annotated[bool | None, Query(description="true: usable keys only; false: revoked or expired")] = None):
    """Keys, newest first, never their secret or hash: an administrator all, an officer their union's members'."""
    rows, total = list_keys(session, caller, role=role, active=active, page=paging.page, page_size=paging.page_size)
    return Page[KeyRead](items=[_read(r) for r in rows], total=total, page=paging.page, page_size=paging.page_size)


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Revoke an API key")
def delete_key(key_id: RowId, session: SessionDep, caller: CurrentCaller):
    """Revoke a key: refused (401) from this moment. Revoking a revoked key changes nothing."""
    row, revoked = revoke_key(session, caller, key_id)
    if revoked:
        audit.record(session, caller, "key.revoked", "api_key", row.id, role=row.role, member_id=row.member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
