"""Every error as RFC 9457 ``application/problem+json``, rendered in one place.

Lower-layer errors map to ours here, most specific first: our ``ServiceError`` tree;
request validation (FastAPI / pydantic) with the path of each field; HTTP errors
Starlette raises itself (404 route, 405 method); a database conflict (409); a value
the database cannot store (422); a lock or connection waited for past its timeout, or
a database out of reach (503 with ``Retry-After``); anything else is a 500 that shows
no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from rules.document import PlanError
from service.errors import Invalid, ServiceError
from service.schemas import Problem

log = logging.getLogger("claims.api")
MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, type_: str = "about:blank", instance: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def _error(e: dict[str, Any]) -> dict[str, str]:
    if e.get("type") == "json_invalid":
        # Its location is ('body', character offset): the offset is no field.
        reason = (e.get("ctx") or {}).get("error") or "JSON decode error"
        return {"field": "body", "message": f"not valid JSON: {reason} (at character {e['loc'][-1]})"}
    return {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}


def as_invalid(exc: RequestValidationError) -> Invalid:
    """FastAPI's validation error as the service's own, each field named by its path:
    the API answers it as problem+json, the console as a page."""
    errors = [_error(e) for e in exc.errors()]
    return Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors)


# Seconds a client is asked to wait before it retries a request the database was too busy for.
RETRY_AFTER = "2"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_timeout (store.db sets it)


def _lock_wait(exc: OperationalError) -> bool:
    """A lock waited for past the timeout: SQLite's busy timeout or PostgreSQL's lock_timeout."""
    return getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE or "database is locked" in str(exc.orig)


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 429:
            headers = {"Retry-After": str(exc.retry_after)}
        return problem(exc.status, exc.title, exc.detail, exc.type, request.url.path, exc.errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        invalid = as_invalid(exc)
        return problem(422, invalid.title, invalid.detail, invalid.type, request.url.path, invalid.errors)

    @app.exception_handler(PlanError)
    async def _plan(request: Request, exc: PlanError):
        errors = [{"field": p, "message": m} for p, m in exc.errors]
        return problem(422, "Invalid rule document", str(exc), "/problems/invalid-plan", request.url.path, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem(exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail),
                       instance=request.url.path, headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError):
        log.warning("integrity error on %s: %s", request.url.path, exc.orig)
        return problem(409, "Conflict", "the change conflicts with stored data (it may have been made concurrently); "
                       "read the current state and retry", "/problems/conflict", request.url.path)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError):
        # The database refused a value the validation let through (PostgreSQL stores no
        # NUL character in text, and checks lengths and ranges that SQLite does not).
        log.warning("data error on %s: %s", request.url.path, exc.orig)
        return problem(422, "Invalid input", "a value cannot be stored: text with a NUL character, or a value "
                       "too long or too large for its field", "/problems/invalid", request.url.path)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError):
        log.warning("database unavailable on %s: %s", request.url.path, exc.orig)
        if _lock_wait(exc):
            detail = "another change holds the data this request needs for longer than the lock timeout; retry shortly"
        else:
            detail = "the database is busy or unreachable; retry shortly"
        return problem(503, "Service unavailable", detail, "/problems/busy", request.url.path,
                       headers={"Retry-After": RETRY_AFTER})

    @app.exception_handler(PoolTimeout)
    async def _no_connection(request: Request, exc: PoolTimeout):
        # Every pooled connection stayed in use past the pool's timeout.
        log.warning("no database connection on %s: %s", request.url.path, exc)
        return problem(503, "Service unavailable", "the server is busy; retry shortly", "/problems/busy",
                       request.url.path, headers={"Retry-After": RETRY_AFTER})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged",
                       instance=request.url.path)


# --- The problem answers in the OpenAPI document -------------------------------------
#
# Each operation documents the problems it can answer, with the schema actually sent
# (service.schemas.Problem as application/problem+json), never FastAPI's default 422
# shape. What follows from an operation's form is added here once, for every route,
# those of routers yet to come included: a key → 401, 403, 429; a parameter or body →
# 422; a body → 413; a path parameter → 404. What only a route knows (a 409, a 404 of
# something the body names) it declares itself with ``answers(...)``.

PROBLEM_STATUSES: dict[int, str] = {
    401: "No API key, or an unknown, revoked or expired one (WWW-Authenticate: Bearer)",
    403: "The key's role may not do this",
    404: "No such resource, or one this key may not see (the same answer)",
    409: "Conflicts with what is stored",
    413: "The body is larger than the limit",
    422: "Invalid input: detail says what, errors name each field at fault; nothing is stored",
    429: "Too many failed authentications from this address; retry after Retry-After seconds",
}


def answers(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for these problem statuses; ``descriptions`` by ``s409="..."``."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": Problem, "description": descriptions.get(f"s{status}", PROBLEM_STATUSES[status])}
    return out


def _problem_answer(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def document(app: FastAPI) -> None:
    """Make the app's OpenAPI document state every operation's problem answers as sent."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        # Problem is there only when some route named it; put it there always.
        _, defs = models_json_schema([(Problem, "serialization")], ref_template="#/components/schemas/{model}")
        schemas.update(defs.get("$defs", {}))
        for item in spec.get("paths", {}).values():
            for operation in item.values():
                _complete(operation)
        # We never send these shapes (a 422 is a Problem).
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    params = operation.get("parameters", [])
    implied: list[int] = []
    if operation.get("security"):
        implied += [401, 403, 429]
    if params or "requestBody" in operation or operation.get("security"):
        implied.append(422)
    if "requestBody" in operation:
        implied.append(413)
    if any(p.get("in") == "path" for p in params):
        implied.append(404)
    for status in implied:
        responses.setdefault(str(status), {"description": PROBLEM_STATUSES[status]})
    for code, answer in responses.items():
        if code.isdigit() and int(code) >= 400:
            # FastAPI's default 422, and a route's answers(...) (put under application/json).
            description = answer.get("description") or PROBLEM_STATUSES.get(int(code), "Problem")
            if int(code) == 422 and description == "Validation Error":
                description = PROBLEM_STATUSES[422]
            responses[code] = {**{k: v for k, v in answer.items() if k != "content"}, **_problem_answer(description)}
