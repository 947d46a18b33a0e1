"""What every console page shares: who is signed in, the CSRF check, rendering, error pages.

A page is a FastAPI route on a router made by ``pages_router`` (its ``ConsoleRoute``
turns a service error into an HTML page instead of problem+json) and takes the
signed-in user from ``Signed = requires(Role...)``:

    router = pages_router("/console/finance")

    @router.get("/runs")
    def runs(request: Request, session: SessionDep, visit: Annotated[Visit, Depends(requires(Role.FINANCE))]):
        rows, total = payments.list_runs(session, visit.principal, ...)
        return render(request, "finance/runs.html", rows=rows)

``requires`` answers a request without a live session with a redirect to the sign-in
page (303; htmx is told with ``HX-Redirect``), another role's with 403, and checks the
session's CSRF token on every method but GET and HEAD (403 page when it is wrong).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from api.console.i18n import DEFAULT_LOCALE, LOCALES, environment
from api.console.nav import nav_for
from api.deps import READ_METHODS, SessionDep
from api.problems import as_invalid
from claims.dates import read_day
from service import users
from service.auth import Role
from service.errors import Invalid, NotFound, ServiceError
from service.users import Visit
from store.row_ids import is_row_id

PREFIX = "/console"
SESSION_COOKIE = "claims_console"
PRE_SESSION_COOKIE = "claims_console_pre"  # the sign-in form's CSRF token, before there is a session
LANG_COOKIE = "claims_console_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """No live session: go to the sign-in page."""


class CsrfRefused(Exception):
    """An unsafe request without the session's CSRF token."""


class WrongRole(Exception):
    """A signed-in user asked for another role's page."""


def locale_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LOCALE)
    return lang if lang in LOCALES else DEFAULT_LOCALE


def settings(request: Request):
    return request.app.state.console


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the visitor's language, with the signed-in user's nav and CSRF token."""
    locale = locale_of(request)
    visit: Visit | None = getattr(request.state, "visit", None)
    html = environment(locale).get_template(template).render(
        request=request, lang=locale, visit=visit, user=visit.user if visit else None,
        role=visit.user.role if visit else None, nav=nav_for(visit.user.role) if visit else [],
        csrf=visit.csrf_token if visit else context.pop("pre_csrf", ""), csrf_field=CSRF_FIELD,
        path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"  # pages show personal data: never from a shared cache
    return response


def redirect(url: str, request: Request | None = None) -> Response:
    """303 to ``url``; to an htmx request, ``HX-Redirect`` so the whole page goes there."""
    if request is not None and request.headers.get("HX-Request"):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None) -> str:
    """A return address inside the console only (never an open redirect to another site)."""
    if url and (url == PREFIX or url.startswith(PREFIX + "/")) and url.isprintable() and "\\" not in url:
        return url
    return PREFIX


def home_of(role: str) -> str:
    return {Role.ADMIN.value: f"{PREFIX}/admin", Role.OFFICER.value: f"{PREFIX}/officer",
            Role.HOSPITAL.value: f"{PREFIX}/hospital", Role.MEMBER.value: f"{PREFIX}/member",
            Role.FINANCE.value: f"{PREFIX}/finance"}.get(role, PREFIX)


def current_visit(request: Request, session: SessionDep) -> Visit | None:
    """The live session of the request's cookie, its idle clock restarted (at most every 30 s)."""
    console = settings(request)
    visit = users.find_session(session, request.cookies.get(SESSION_COOKIE), console.policy)
    if visit is not None and visit.stale:
        if request.method in READ_METHODS:
            # A GET's unit of work is read-only: the touch is its own short transaction.
            with request.app.state.sessions() as writer:
                users.touch(writer, visit.session_id)
                writer.commit()
        else:
            users.touch(session, visit.session_id)
    request.state.visit = visit
    return visit


async def check_csrf(request: Request, expected: str) -> None:
    if request.method in READ_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()  # kept by Starlette: the endpoint's Form(...) fields read it again
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


def requires(*roles: Role) -> Callable[..., Coroutine[Any, Any, Visit]]:
    """A dependency: the signed-in user, who must have one of ``roles``; CSRF checked on unsafe methods."""
    allowed = {r.value for r in roles}

    async def signed(request: Request, visit: Visit | None = Depends(current_visit)) -> Visit:
        if visit is None:
            raise SignInRequired()
        await check_csrf(request, visit.csrf_token)
        if visit.user.role not in allowed:
            raise WrongRole()
        return visit

    return signed


def new_pre_session_token() -> str:
    return secrets.token_urlsafe(32)


def error_page(request: Request, exc: Exception) -> Response:
    """The page for a refusal: sign-in redirect, 403 (role, CSRF), or a service error's status."""
    if isinstance(exc, SignInRequired):
        target = f"{PREFIX}/sign-in?next={quote(request.url.path)}"
        response = redirect(target, request)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response
    if isinstance(exc, CsrfRefused):
        return render(request, "error.html", status=403, kind="csrf")
    if isinstance(exc, WrongRole):
        return render(request, "error.html", status=403, kind="role")
    assert isinstance(exc, ServiceError)
    kind = {403: "forbidden", 404: "not_found", 409: "conflict", 429: "too_many"}.get(exc.status, "invalid")
    return render(request, "error.html", status=exc.status, kind=kind, detail=exc.detail, errors=exc.errors or [])


class ConsoleRoute(APIRoute):
    """A console route: refusals and service errors become HTML pages (the API answers problem+json)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        # The rows a page names by number (run_id, claim_id...): as the API's RowId, a
        # number no row can have is unknown (a page, not a 64-bit overflow in the
        # database), and so is "abc" (a page, not the API's problem+json).
        row_ids = [p.name for p in self.dependant.path_params if p.field_info.annotation is int]

        async def page(request: Request) -> Response:
            _drop_blank_query_values(request)
            try:
                for name in row_ids:
                    value = request.path_params.get(name, "")
                    if not is_row_id(value):
                        raise NotFound(f"no {name.removesuffix('_id')} {value[:20]}")
                return await handler(request)
            except (SignInRequired, CsrfRefused, WrongRole, ServiceError) as exc:
                return error_page(request, exc)
            except RequestValidationError as exc:
                # A query or form value FastAPI refuses (too long, not a number): a
                # page naming the field, as any other refusal here, not problem+json.
                return error_page(request, as_invalid(exc))

        return page


def _drop_blank_query_values(request: Request) -> None:
    """A page's own filter form sends its empty boxes (``?year=&on=``): to a page, an empty
    box is a value not given, as the page's defaults say, not a number or a day to refuse.

    Done on the raw query string, before anything reads it, so every other value reaches
    the page byte for byte as sent.
    """
    raw: bytes = request.scope.get("query_string", b"")
    if not raw:
        return
    parts = raw.split(b"&")
    kept = [p for p in parts if p.partition(b"=")[2].strip(b"+")]
    if len(kept) != len(parts):
        request.scope["query_string"] = b"&".join(kept)


def pages_router(prefix: str) -> APIRouter:
    """A router of console pages: HTML, outside the API's OpenAPI document."""
    return APIRouter(prefix=prefix, route_class=ConsoleRoute, include_in_schema=False,
                     default_response_class=HTMLResponse)


def form_day(name: str, text: str) -> dt.date | None:
    """A day typed in a form or a query (``YYYY-MM-DD``, as the API reads one), None when blank;
    refused at its field otherwise."""
    try:
        return read_day(text.strip()) if text.strip() else None
    except ValueError as err:
        raise Invalid.at(name, str(err)) from None


def form_errors(exc: ServiceError) -> dict[str, str]:
    """A service error's messages by field, to show each at its place in a form."""
    found = {e["field"]: e["message"] for e in (exc.errors or []) if e.get("field")}
    return found or {"": exc.detail}


def attempt(session, action: Callable[[], Any]) -> tuple[Any, ServiceError | None]:
    """Run a service call whose refusal the page shows in its form: (result, None) or (None, the error).

    A refusal rolls the unit of work back here: the page goes on to answer normally, and
    the unit of work would otherwise commit what the service flushed before it refused.
    """
    try:
        return action(), None
    except ServiceError as exc:
        session.rollback()
        return None, exc


async def read_form(request: Request) -> FormData:
    """The request's form, parsed once (the CSRF check may have read it already), for a form whose fields vary."""
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]
