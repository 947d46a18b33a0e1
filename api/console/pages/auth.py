"""Signing in and out, the language switch, the console's front door."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Form, Query, Request

from api.console.i18n import LOCALES
from api.console.web import (
    LANG_COOKIE,
    PRE_SESSION_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    check_csrf,
    current_visit,
    home_of,
    new_pre_session_token,
    pages_router,
    redirect,
    render,
    safe_next,
    settings,
)
from api.deps import SessionDep
from service import users
from service.errors import TooManyRequests, Unauthorized
from service.users import Visit

router = pages_router(PREFIX)


def _sign_in_page(request: Request, status: int = 200, **context):
    token = request.cookies.get(PRE_SESSION_COOKIE) or new_pre_session_token()
    response = render(request, "sign_in.html", status=status, pre_csrf=token,
                      next=safe_next(request.query_params.get("next") or context.pop("next", None)), **context)
    response.set_cookie(PRE_SESSION_COOKIE, token, path=PREFIX, httponly=True, samesite="strict",
                        secure=settings(request).secure_cookie)
    return response


@router.get("")
def front_door(request: Request, visit: Annotated[Visit | None, Depends(current_visit)]):
    """The signed-in user's home, else the sign-in page."""
    return redirect(home_of(visit.user.role) if visit else f"{PREFIX}/sign-in")


@router.get("/sign-in")
def sign_in_form(request: Request, visit: Annotated[Visit | None, Depends(current_visit)]):
    if visit is not None:
        return redirect(home_of(visit.user.role))
    return _sign_in_page(request)


@router.post("/sign-in")
def sign_in(request: Request, session: SessionDep, username: Annotated[str, Form(max_length=200)] = "",
            password: Annotated[str, Form(max_length=1000)] = "", csrf_token: Annotated[str, Form()] = "",
            next: Annotated[str, Form(max_length=500)] = PREFIX):
    """Check the password; a new session (a new id: the one before is never reused) and its cookie."""
    expected = request.cookies.get(PRE_SESSION_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        return render(request, "error.html", status=403, kind="csrf")
    address = request.client.host if request.client else "unknown"
    console = settings(request)
    try:
        signed = users.sign_in(session, username, password, address, console.lockout, console.policy)
    except TooManyRequests as exc:
        session.rollback()
        return _sign_in_page(request, status=429, failure="locked", username=username, next=next,
                             retry_minutes=max(1, -(-exc.retry_after // 60)))
    except Unauthorized:
        session.rollback()
        return _sign_in_page(request, status=401, failure="wrong", username=username, next=next)
    target = safe_next(next)
    if target == PREFIX:
        target = home_of(signed.user.role)
    response = redirect(target)
    response.set_cookie(SESSION_COOKIE, signed.token, path=PREFIX, httponly=True, samesite="lax",
                        secure=console.secure_cookie, max_age=int(console.policy.absolute.total_seconds()))
    response.delete_cookie(PRE_SESSION_COOKIE, path=PREFIX)
    return response


async def _visit_with_csrf(request: Request, visit: Annotated[Visit | None, Depends(current_visit)]) -> Visit | None:
    if visit is not None:
        await check_csrf(request, visit.csrf_token)
    return visit


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, visit: Annotated[Visit | None, Depends(_visit_with_csrf)]):
    """End the session on the server (a copy of the cookie is dead too) and forget the cookie."""
    if visit is not None:
        users.sign_out(session, request.cookies.get(SESSION_COOKIE))
    response = redirect(f"{PREFIX}/sign-in?signed_out=1")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/lang")
def switch_language(request: Request, to: Annotated[str, Query(max_length=8)] = "zh",
                    next: Annotated[str, Query(max_length=500)] = PREFIX):
    """Chinese or English (a preference only: a GET that changes no data)."""
    response = redirect(safe_next(next))
    if to in LOCALES:
        response.set_cookie(LANG_COOKIE, to, path=PREFIX, samesite="lax", max_age=365 * 24 * 3600,
                            secure=settings(request).secure_cookie)
    return response
