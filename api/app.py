"""The FastAPI application: routers per audience, one error renderer, one plan book."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI

from api import problems
from api.routers import claims, plans, registry, settlements
from service.plans import PlanBook, ensure_published_default
from store.db import make_engine, read_session_factory, session_factory, upgrade

DESCRIPTION = """
Claims engine for trade unions' worker medical mutual aid (职工医疗互助保障) and the
21-disease critical-illness relief for hardship workers (困难职工21种大病医疗救助).

Authenticate with `Authorization: Bearer <API key>`. Hospitals post settlements;
members and union officers submit and follow claims; officers review pended ones.
Every error is `application/problem+json` (RFC 9457); amounts are strings in yuan.
"""


def create_app(db: str | None = None, plan: str | Path | None = None, migrate: bool = True,
               provincial_med_types: Iterable[str] = ()) -> FastAPI:
    """The app on database ``db``; ``provincial_med_types`` are the province's own ``med_type``
    codes its hospitals may post besides the national ones (domain.md)."""
    engine = make_engine(db)
    if migrate:
        upgrade(engine)
    app = FastAPI(title="Union claims engine", version="0.1.0", description=DESCRIPTION)
    app.state.db = engine
    app.state.sessions = session_factory(engine)
    app.state.read_sessions = read_session_factory(engine)
    app.state.plans = PlanBook(plan)
    app.state.provincial_med_types = frozenset(provincial_med_types)
    with app.state.sessions() as session:
        ensure_published_default(session)
        session.commit()
    problems.install(app)
    app.include_router(settlements.router)
    app.include_router(claims.router)
    app.include_router(registry.router)
    app.include_router(plans.router)
    settlements.document_provincial_med_types(app, app.state.provincial_med_types)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness, and the plan version in force today."""
        with app.state.read_sessions() as session:
            return {"status": "ok", "plan": app.state.plans.current_version(session)}

    return app
