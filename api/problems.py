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
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from rules.document import PlanError
from service.errors import ServiceError

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
        return problem(exc.status, exc.title, exc.detail, exc.type, request.url.path, exc.errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [_error(e) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(422, "Invalid input", detail, "/problems/invalid", request.url.path, errors)

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
