"""An administrator's pages: plan versions (a draft editor, the difference from the version in force,
a simulation on past claims with charts, publish, retire), console users, API keys."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import yaml
from fastapi import BackgroundTasks, Depends, Form, Request
from sqlalchemy import select

from api.console.web import attempt, form_day, form_errors, pages_router, redirect, render, requires
from api.deps import PlansDep, SessionDep
from claims.dates import china_today
from claims.money import parse_yuan
from service import audit, plans, simulation, users
from service.auth import Role, issue_key, key_status, list_keys, revoke_key
from service.errors import Conflict, Invalid
from service.users import Visit
from store import models

router = pages_router("/console/admin")
Admin = Annotated[Visit, Depends(requires(Role.ADMIN))]
ROLES = [r.value for r in Role]


@router.get("")
def plan_versions(request: Request, session: SessionDep, plans_book: PlansDep, visit: Admin):
    """Plan versions: drafts, published (with the date each takes effect), retired."""
    rows, total = plans.list_versions(session, visit.principal)
    return render(request, "admin/plans.html", rows=rows, total=total, in_force=_in_force(session, plans_book))


def _in_force(session, book: plans.PlanBook) -> models.PlanVersion | None:
    """The published version in force today (the plan book's own choice), or None when none is."""
    try:
        version = book.engine_for(session, china_today()).version
    except Conflict:  # no version in force today: the page says so
        return None
    return session.scalar(select(models.PlanVersion).where(models.PlanVersion.version == version,
                                                           models.PlanVersion.status == "published")
                          .order_by(models.PlanVersion.id.desc()))


@router.post("/plans")
def new_draft(request: Request, session: SessionDep, plans_book: PlansDep, visit: Admin):
    """A draft copied from the version in force today, to edit."""
    base = _in_force(session, plans_book)
    if base is None:
        raise Invalid.at("based_on", "no version is in force today to copy")
    row, _errors = plans.create_draft(session, visit.principal, base.document, note=f"from version {base.id}",
                                      based_on=base.id)
    return redirect(f"/console/admin/plans/{row.id}")


def _as_text(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)


PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def line_of(text: str, path: str) -> int | None:
    """The line of ``text`` (YAML or JSON) where the document's ``path`` (``benefits[0].rate``) is, or
    the nearest line above it that exists (a missing field: its parent's). None when the text does not parse."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line
    for index, key in PATH_PART.findall(path):
        if isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
        elif isinstance(node, yaml.MappingNode) and key:
            found = next(((k, v) for k, v in node.value if k.value == key), None)
            if found is None:
                break
            line, node = found[0].start_mark.line, found[1]
            continue
        else:
            break
        line = node.start_mark.line
    return line + 1


def _editor(request: Request, row: models.PlanVersion, text: str, errors: list[dict[str, str]], *,
            status: int = 200, saved: bool = False, base: models.PlanVersion | None = None, job=None):
    """The version's page: its document (a draft's in the editor), each error beside its line."""
    by_line: dict[int, list[dict[str, str]]] = {}
    unplaced: list[dict[str, str]] = []
    for e in errors:
        at = _parse_error_line(e) or line_of(text, e.get("field", ""))
        (by_line.setdefault(at, []).append(e) if at else unplaced.append(e))
    return render(request, "admin/plan.html", status=status, plan=row, text=text, errors=errors, by_line=by_line,
                  unplaced=unplaced, lines=text.splitlines(), saved=saved, base=base, job=job,
                  today=china_today())


YAML_LINE = re.compile(r"line (\d+), column")


def _parse_error_line(error: dict[str, str]) -> int | None:
    # A text that does not parse: the parser names the line itself ("... line 12, column 3").
    found = YAML_LINE.search(error.get("message", "")) if error.get("field") == "body" else None
    return int(found.group(1)) if found else None


@router.get("/plans/{plan_id}")
def plan_page(request: Request, session: SessionDep, plans_book: PlansDep, visit: Admin, plan_id: int):
    """A version: a draft in the editor with what validation finds wrong, each error at its line."""
    row = plans.get_version(session, visit.principal, plan_id)
    errors = plans.check(row.document)[1] if row.status == "draft" else []
    return _editor(request, row, _as_text(row.document), errors, base=_in_force(session, plans_book))


@router.post("/plans/{plan_id}/document")
def save_document(request: Request, session: SessionDep, plans_book: PlansDep, visit: Admin, plan_id: int,
                  document: Annotated[str, Form(max_length=2_000_000)] = ""):
    """Save a draft's document (YAML, or JSON when it starts with "{"); a draft with errors is kept with them."""
    row = plans.get_version(session, visit.principal, plan_id)
    is_json = document.lstrip().startswith("{")

    def save():
        parsed = plans.read_document(document, "application/json" if is_json else "application/yaml")
        return plans.replace_draft(session, visit.principal, plan_id, parsed)

    saved, error = attempt(session, save)
    if error is not None:
        if error.status in (404, 409):
            raise error
        found = error.errors or [{"field": "body", "message": error.detail}]
        return _editor(request, plans.get_version(session, visit.principal, plan_id), document, found,
                       status=error.status, base=_in_force(session, plans_book))
    row, errors = saved
    # A draft that does not validate is stored all the same; the editor shows the text as sent.
    return _editor(request, row, document, errors, status=200 if not errors else 422, saved=True,
                   base=_in_force(session, plans_book))


@router.get("/plans/{plan_id}/diff")
def plan_diff(request: Request, session: SessionDep, plans_book: PlansDep, visit: Admin, plan_id: int):
    """Every difference of this version from the version in force today, by path."""
    row = plans.get_version(session, visit.principal, plan_id)
    base = _in_force(session, plans_book)
    changes = plans.compare(session, visit.principal, base.id, row.id) if base else []
    return render(request, "admin/diff.html", plan=row, base=base,
                  changes=[{**c, "from": _short(c["from"]), "to": _short(c["to"])} for c in changes])


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "…"


@router.post("/plans/{plan_id}/simulate")
def simulate(request: Request, session: SessionDep, visit: Admin, plan_id: int, background: BackgroundTasks,
             submitted_from: Annotated[str, Form(max_length=10)] = "",
             submitted_to: Annotated[str, Form(max_length=10)] = ""):
    """Run the version on past claims beside the versions in force (a job); its page follows it."""
    def start():
        return simulation.start_simulation(session, visit.principal, plan_id, form_day("submitted_from", submitted_from),
                                           form_day("submitted_to", submitted_to))

    job, error = attempt(session, start)
    if error is not None:
        if error.status == 404:
            raise error
        row = plans.get_version(session, visit.principal, plan_id)
        return _editor(request, row, _as_text(row.document), error.errors or [{"field": "", "message": error.detail}],
                       status=error.status)
    # Started once the answer is sent, so the job row the child process reads is committed.
    background.add_task(simulation.launch, job.id, request.app.state.db.url.render_as_string(hide_password=False))
    return redirect(f"/console/admin/jobs/{job.id}")


CHARTS = (("by_benefit", "benefit"), ("by_hardship_category", "category"), ("by_hospital_grade", "grade"),
          ("by_month", "month"))
BAR = 360  # the longest bar, in pixels


def charts(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each breakdown of the report as bars: baseline and draft per key, widths in whole pixels (fen, no floats)."""
    out = []
    for key, kind in CHARTS:
        rows = (report or {}).get(key) or {}
        amounts = [(label, parse_yuan(r["baseline"]), parse_yuan(r["draft"]), r["change"], r["claims_changed"])
                   for label, r in rows.items()]
        top = max([max(b, d) for _l, b, d, _c, _n in amounts] or [0]) or 1
        out.append({"key": key, "kind": kind, "bars": [
            {"label": label, "baseline": r["baseline"], "draft": r["draft"], "change": change, "changed": n,
             "bw": b * BAR // top, "dw": d * BAR // top}
            for (label, b, d, change, n), r in zip(amounts, rows.values())]})
    return out


@router.get("/jobs/{job_id}")
def job_page(request: Request, session: SessionDep, visit: Admin, job_id: int):
    """A simulation's progress (htmx polls this and gets the progress alone) and, when done, its report and charts."""
    job = simulation.get_job(session, visit.principal, job_id)
    plan_id = (job.params or {}).get("plan_id")  # a re-adjudication job names no version
    plan = session.get(models.PlanVersion, plan_id) if isinstance(plan_id, int) else None
    template = "admin/job_card.html" if request.headers.get("HX-Request") else "admin/job.html"
    return render(request, template, job=job, plan=plan, charts=charts(job.report) if job.status == "done" else [],
                  report=job.report or {})


@router.post("/plans/{plan_id}/publish")
def publish(request: Request, session: SessionDep, plans_book: PlansDep, visit: Admin, plan_id: int,
            effective_from: Annotated[str, Form(max_length=10)] = ""):
    """Put a valid draft in force from a date."""
    def publish_it():
        day = form_day("effective_from", effective_from)
        if day is None:
            raise Invalid.at("effective_from", "choose the date it takes effect")
        return plans.publish(session, visit.principal, plan_id, day)

    _done, error = attempt(session, publish_it)
    if error is not None:
        if error.status == 404:
            raise error
        row = plans.get_version(session, visit.principal, plan_id)
        return _editor(request, row, _as_text(row.document), _placed(error), status=error.status,
                       base=_in_force(session, plans_book))
    return redirect("/console/admin")


@router.post("/plans/{plan_id}/retire")
def retire(request: Request, session: SessionDep, plans_book: PlansDep, visit: Admin, plan_id: int):
    """Take a published version out of force (refused when days would be left with none)."""
    _done, error = attempt(session, lambda: plans.retire(session, visit.principal, plan_id))
    if error is not None:
        if error.status == 404:
            raise error
        row = plans.get_version(session, visit.principal, plan_id)
        return _editor(request, row, _as_text(row.document), _placed(error), status=error.status,
                       base=_in_force(session, plans_book))
    return redirect("/console/admin")


def _placed(error) -> list[dict[str, str]]:
    return error.errors or [{"field": "", "message": error.detail}]


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
