"""An administrator's pages: plan versions, console users, API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request

from api.console.web import attempt, form_errors, pages_router, redirect, render, requires
from api.deps import SessionDep
from service import audit, plans, users
from service.auth import Role, issue_key, key_status, list_keys, revoke_key
from service.errors import Invalid
from service.users import Visit

router = pages_router("/console/admin")
Admin = Annotated[Visit, Depends(requires(Role.ADMIN))]
ROLES = [r.value for r in Role]


@router.get("")
def plan_versions(request: Request, session: SessionDep, visit: Admin):
    """Plan versions: drafts, published (with the date each takes effect), retired."""
    rows, total = plans.list_versions(session, visit.principal)
    return render(request, "admin/plans.html", rows=rows, total=total)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Invalid.at("role", f"one of {', '.join(ROLES)}") from None


def _scope(role: str, scope: str) -> dict[str, str | None]:
    """The one scope field of the form, as the role names it (a hospital code, a member id, a union id)."""
    name = {"hospital": "hospital_code", "member": "member_id", "officer": "union_id", "finance": "union_id"}.get(role)
    return {name: scope.strip() or None} if name else {}


@router.get("/users")
def users_page(request: Request, session: SessionDep, visit: Admin):
    rows, total = users.list_users(session, visit.principal, 1, 200)
    return render(request, "admin/users.html", rows=rows, total=total, roles=ROLES, values={}, errors={})


@router.post("/users")
def create_user(request: Request, session: SessionDep, visit: Admin,
                username: Annotated[str, Form(max_length=64)] = "", role: Annotated[str, Form(max_length=16)] = "",
                scope: Annotated[str, Form(max_length=64)] = "", password: Annotated[str, Form(max_length=300)] = ""):
    """Make a console user with a role and its scope; the password is chosen by the administrator."""
    made, error = attempt(session, lambda: users.create_user(session, visit.principal, _role(role), username, password,
                                                              **_scope(role, scope)))
    if error is not None:
        rows, total = users.list_users(session, visit.principal, 1, 200)
        return render(request, "admin/users.html", status=error.status, rows=rows, total=total, roles=ROLES,
                      values={"username": username, "role": role, "scope": scope}, errors=_scoped(form_errors(error)))
    return redirect("/console/admin/users")


def _scoped(errors: dict[str, str]) -> dict[str, str]:
    # The service names the scope by its kind (hospital, member, union); the form has one field for it.
    return {("scope" if k in ("hospital", "member", "union") else k): v for k, v in errors.items()}


@router.get("/keys")
def keys_page(request: Request, session: SessionDep, visit: Admin):
    rows, total = list_keys(session, visit.principal, role=None, active=None, page=1, page_size=200)
    return render(request, "admin/keys.html", rows=rows, total=total, status_of=key_status, roles=ROLES, values={},
                  errors={}, made=None)


@router.post("/keys")
def issue(request: Request, session: SessionDep, visit: Admin, role: Annotated[str, Form(max_length=16)] = "",
          scope: Annotated[str, Form(max_length=64)] = "", label: Annotated[str, Form(max_length=200)] = ""):
    """Issue an API key; it is shown on this page once (only its hash is stored)."""
    def make():
        row, key = issue_key(session, visit.principal, _role(role), label=label.strip(),
                             **{k: v for k, v in _scope(role, scope).items()})
        audit.record(session, visit.principal, "key.created", "api_key", row.id, role=row.role, label=row.label,
                     member_id=row.member_id, expires_at=row.expires_at)
        return row, key

    made, error = attempt(session, make)
    rows, total = list_keys(session, visit.principal, role=None, active=None, page=1, page_size=200)
    return render(request, "admin/keys.html", status=error.status if error else 201, rows=rows, total=total,
                  status_of=key_status, roles=ROLES, made=made[1] if made else None,
                  values={"role": role, "scope": scope, "label": label} if error else {},
                  errors=_scoped(form_errors(error)) if error else {})


@router.post("/keys/{key_id}/revoke")
def revoke(request: Request, session: SessionDep, visit: Admin, key_id: int):
    row, revoked = revoke_key(session, visit.principal, key_id)
    if revoked:
        audit.record(session, visit.principal, "key.revoked", "api_key", row.id, role=row.role, member_id=row.member_id)
    return redirect("/console/admin/keys", request)
