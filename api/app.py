"""The FastAPI application: routers per audience, one error renderer, one plan book."""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api import console, problems
from api.console.settings import ConsoleSettings
from api.limits import BodyLimits, LimitsMiddleware
from api.routers import audit as audit_router
from api.routers import reports as reports_router
from api.routers import benefits, claims, desk, funds, keys, ledger, payments, plans, registry, settlements
from service.audit import Anchoring
from service.auth import DEFAULT_SIGN_IN_LIMIT, SignInLimiter
from service.plans import PlanBook, ensure_published_default
from store.db import database_url, make_engine, read_session_factory, session_factory, upgrade

DESCRIPTION = """
Claims engine for trade unions' worker medical mutual aid (职工医疗互助保障) and the
21-disease critical-illness relief for hardship workers (困难职工21种大病医疗救助).

Authenticate with `Authorization: Bearer <API key>`. Hospitals post settlements;
members and union officers submit and follow claims; officers review pended ones.
Every error is `application/problem+json` (RFC 9457); amounts are strings in yuan.
"""


def create_app(db: str | None = None, plan: str | Path | None = None, migrate: bool = True,
               provincial_med_types: Iterable[str] = (), limits: BodyLimits | None = None, *,
               sign_in_limit: str | None = None,
               rate_limit_storage: str | None = None, anchoring: Anchoring | None = None,
               console_settings: ConsoleSettings | None = None) -> FastAPI:
    """The app on database ``db``; ``provincial_med_types`` are the province's own ``med_type``
    codes its hospitals may post besides the national ones (domain.md); ``limits`` what a
    request body may carry (api/limits.py).

    ``sign_in_limit``: refused keys allowed per client address (``limits`` notation),
    default ``$CLAIMS_SIGN_IN_LIMIT`` else 20/minute; ``rate_limit_storage`` where they
    are counted, default ``$CLAIMS_RATE_LIMIT_STORAGE`` else memory (per worker), e.g.
    ``redis://127.0.0.1:6379`` (shared by the workers). ``anchoring``: where audit
    anchors go and when the service appends one, default from the environment
    (``service.audit.Anchoring.from_env``). ``console_settings``: the web console's
    sessions and lockout, default from the environment (``api.console.settings``)."""
    engine = make_engine(db)
    if migrate:
        upgrade(engine)
    app = FastAPI(title="Union claims engine", version="0.1.0", description=DESCRIPTION,
                  docs_url=None, redoc_url=None)
    app.state.db = engine
    app.state.sessions = session_factory(engine)
    app.state.read_sessions = read_session_factory(engine)
    app.state.plans = PlanBook(plan)
    app.state.provincial_med_types = frozenset(provincial_med_types)
    app.add_middleware(LimitsMiddleware, limits=limits or BodyLimits())
    app.state.sign_in_limiter = SignInLimiter(
        sign_in_limit or os.environ.get("CLAIMS_SIGN_IN_LIMIT") or DEFAULT_SIGN_IN_LIMIT,
        rate_limit_storage or os.environ.get("CLAIMS_RATE_LIMIT_STORAGE") or "memory://")
    app.state.audit_anchoring = anchoring if anchoring is not None else Anchoring.from_env(database_url(db))
    app.state.audit_anchoring.install(app.state.sessions)
    with app.state.sessions() as session:
        ensure_published_default(session)
        session.commit()
    problems.install(app)

    # First of the routes: a request is matched against the routes in the order they were
    # added, and a monitor's probe, which comes often, should not walk all the others
    # (last, matching took ~30% of its worker's time here).
    @app.get("/health", tags=["service"], summary="Is the service up")
    def health() -> dict[str, str]:
        """Liveness, and the plan version in force today; no key needed."""
        with app.state.read_sessions() as session:
            return {"status": "ok", "plan": app.state.plans.current_version(session)}

    app.include_router(desk.router)  # before settlements: /settlements/preview is not an id
    app.include_router(settlements.router)
    app.include_router(claims.router)
    app.include_router(registry.router)
    app.include_router(benefits.router)
    app.include_router(plans.router)
    app.include_router(keys.router)
    app.include_router(audit_router.router)
    app.include_router(payments.router)
    app.include_router(ledger.router)
    app.include_router(reports_router.router)
    app.include_router(funds.router)
    problems.document(app)
    settlements.document_provincial_med_types(app, app.state.provincial_med_types)
    serve_docs(app)
    console.install(app, console_settings)

    return app


# Swagger UI's and ReDoc's files, shipped in the fastapi-offline package: the docs
# work in a union office without internet (no CDN).
DOCS_ASSETS = "/docs-assets"


def serve_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from the app's own files."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")
    oauth2_redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI", oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False)
