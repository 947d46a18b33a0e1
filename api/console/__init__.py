"""The web console: pages for officers, hospitals, finance, administrators and members, under /console.

Pages: ``pages/<audience>.py``; the federation report (officers, finance, administrators) in
``pages/reports.py``. Server-rendered (Jinja2, ``templates/``) with htmx for partial updates; every file it
needs is served from ``static/`` (``htmx.min.js`` is htmx 2.0.11, 0BSD licence, as the
npm package ``htmx.org`` ships it in ``dist/``; ``console.css`` is ours), so it works with no internet. Chinese by default, English through the
catalog (``i18n.py``). People sign in with a username and password (``service.users``)
and act as the ``Principal`` of their role and scope, so the services' scope checks
apply to them as to API keys.

To add a page: a route on a ``web.pages_router`` in ``pages/<audience>.py`` taking
``visit: Annotated[Visit, Depends(requires(Role.X))]`` and calling the services with
``visit.principal``; a template extending ``base.html``; the router in ``PAGES`` below
(when it is a new module); its menu entry in ``nav.py``; its row in
tests/console/test_console_access.py; its texts in the English catalog.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.console.pages import admin, auth, finance, hospital, member, officer, reports
from api.console.settings import ConsoleSettings

PAGES = (auth.router, officer.router, hospital.router, admin.router, member.router, finance.router, reports.router)
STATIC = "/console/static"


def install(app: FastAPI, settings: ConsoleSettings | None = None) -> None:
    """Serve the console from ``app``: its pages and its static files."""
    app.state.console = settings or ConsoleSettings.from_env()
    for router in PAGES:
        app.include_router(router)
    app.mount(STATIC, StaticFiles(directory=str(files("api.console") / "static")), name="console-static")
