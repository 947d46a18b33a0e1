"""A union officer's pages: dashboard, members, enrollment import, hardship register, claims, review queue.

Every read and write goes through the services with the officer as the caller, so the
officer sees and acts within their union's subtree only, exactly as with an API key.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated

from fastapi import Depends, File, Form, Query, Request, UploadFile

from api.console.web import FormDep, attempt, form_errors, pages_router, redirect, render, requires
from api.deps import PlansDep, SessionDep
from claims.dates import china_today
from claims.members import HardshipCategory
from service import benefits, claims, csv_files, funds, registry
from service.auth import Role
from service.errors import Invalid
from service.schemas import ClaimCreate, ClaimReview, LineReview, WrittenDay
from service.users import Visit

router = pages_router("/console/officer")
Officer = Annotated[Visit, Depends(requires(Role.OFFICER))]
PAGE_SIZE = 20


@router.get("")
def dashboard(request: Request, session: SessionDep, plans: PlansDep, visit: Officer):
    """The pend queue (count and the oldest), today's claims, and the funds left this year (read-only)."""
    who = visit.principal
    pended, pended_total = claims.list_claims(
        session, who, status="pended", member_id=None, hospital=None, submitted_from=None, submitted_to=None,
        page=1, page_size=10, oldest_first=True)
    today = china_today()
    todays, todays_total = claims.list_claims(
        session, who, status=None, member_id=None, hospital=None, submitted_from=today, submitted_to=today,
        page=1, page_size=50)
    return render(request, "officer/dashboard.html", today=today, funds_left=funds.funds_left(session, who, today.year),
                  pended=[claims.to_read(c, session, plans) for c in pended], pended_total=pended_total,
                  todays=[claims.to_read(c, session, plans) for c in todays], todays_total=todays_total)


@router.get("/members")
def members(request: Request, session: SessionDep, visit: Officer,
            q: Annotated[str, Query(max_length=64)] = "", page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    """Members of the officer's unions, by id or name (an htmx request gets the result table only)."""
    rows, total = registry.list_members(session, visit.principal, None, page, PAGE_SIZE, search=q.strip() or None)
    template = "officer/members_table.html" if request.headers.get("HX-Request") else "officer/members.html"
    return render(request, template, rows=rows, total=total, q=q, page=page, pages=max(1, -(-total // PAGE_SIZE)))


@router.get("/members/{member_id}")
def member(request: Request, session: SessionDep, plans: PlansDep, visit: Officer, member_id: str,
           on: Annotated[WrittenDay | None, Query()] = None):
    """A member: enrollments, hardship registrations, claims, what their benefits have left (today, or ``on``)."""
    row = registry.get_member(session, visit.principal, member_id, detail=True)
    rows, _ = claims.list_claims(session, visit.principal, status=None, member_id=member_id, hospital=None,
                                 submitted_from=None, submitted_to=None, page=1, page_size=100)
    standing, _unplanned = attempt(session, lambda: benefits.member_benefits(session, visit.principal, plans,
                                                                               member_id, on or china_today()))
    return render(request, "officer/member.html", member=row, standing=standing,
                  claims=[claims.to_read(c, session, plans) for c in rows])


@router.get("/members/{member_id}/claims/new")
def claim_form(request: Request, session: SessionDep, visit: Officer, member_id: str):
    row = registry.get_member(session, visit.principal, member_id)
    return render(request, "officer/claim_new.html", member=row, values={}, errors={})


@router.post("/members/{member_id}/claims")
def submit_claim(request: Request, session: SessionDep, plans: PlansDep, visit: Officer, member_id: str,
                 fixmedins_code: Annotated[str, Form(max_length=32)] = "",
                 setl_id: Annotated[str, Form(max_length=64)] = "",
                 submitted_on: Annotated[str, Form(max_length=10)] = "",
                 note: Annotated[str, Form(max_length=2000)] = ""):
    """Submit a claim for a posted settlement of the member; it is decided at once."""
    row = registry.get_member(session, visit.principal, member_id)
    values = {"fixmedins_code": fixmedins_code, "setl_id": setl_id, "submitted_on": submitted_on, "note": note}

    def submit():
        try:
            data = ClaimCreate(member_id=member_id, fixmedins_code=fixmedins_code.strip() or None,
                               setl_id=setl_id.strip() or None,
                               submitted_on=submitted_on.strip() or None,
                               note=note.strip() or None)
        except ValueError as err:
            raise _invalid(err) from None
        return claims.submit_claim(session, visit.principal, plans, data)

    claim, error = attempt(session, submit)
    if error is not None:
        return render(request, "officer/claim_new.html", status=error.status, member=row, values=values,
                      errors=form_errors(error))
    return redirect(f"/console/officer/claims/{claim.id}")


def _invalid(err: ValueError) -> Invalid:
    """A form's values refused by a schema (pydantic) or a date parse, each at its field."""
    errors = getattr(err, "errors", None)
    if callable(errors):
        found = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in errors()]
        return Invalid("; ".join(f"{e['field']}: {e['message']}" for e in found), found)
    return Invalid.at("submitted_on", "is not a date (YYYY-MM-DD)")


@router.get("/claims/{claim_id}")
def claim(request: Request, session: SessionDep, plans: PlansDep, visit: Officer, claim_id: int):
    """A claim: its lines, amounts, reasons and explanation, and the rules' trace as a table."""
    read = claims.to_read(claims.get_claim(session, visit.principal, claim_id), session, plans)
    return render(request, "claim.html", claim=read, review=read.status == "pended")


@router.get("/review")
def review_queue(request: Request, session: SessionDep, plans: PlansDep, visit: Officer,
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    """Pended claims, oldest first, each with its review form."""
    rows, total = claims.list_claims(
        session, visit.principal, status="pended", member_id=None, hospital=None, submitted_from=None,
        submitted_to=None, page=page, page_size=PAGE_SIZE, oldest_first=True)
    return render(request, "officer/review.html", rows=[claims.to_read(c, session, plans) for c in rows],
                  total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)))


@router.post("/claims/{claim_id}/review")
def review(request: Request, session: SessionDep, plans: PlansDep, visit: Officer, claim_id: int,
           form: FormDep):
    """Approve, deny or adjust each pended line with a note (a line left on "skip" stays pended).

    The form carries one ``benefit`` per pended line and ``action_<benefit>``,
    ``amount_<benefit>``, ``note_<benefit>``. An htmx request gets the claim's card back.
    """
    benefits = [b for b in form.getlist("benefit") if isinstance(b, str)][:20]
    items = [{"benefit": b, "action": str(form.get(f"action_{b}", "")), "amount": str(form.get(f"amount_{b}", "")),
              "note": str(form.get(f"note_{b}", ""))} for b in benefits]

    def decide():
        try:
            data = ClaimReview(lines=[LineReview(benefit=i["benefit"], action=i["action"],  # type: ignore[arg-type]
                                                 amount=i["amount"].strip() or None, note=i["note"].strip())
                                      for i in items if i["action"] != "skip"])
        except ValueError as err:
            raise _invalid(err) from None
        return claims.review_claim(session, visit.principal, plans, claim_id, data)

    decided, error = attempt(session, decide)
    if error is not None and error.status == 404:
        raise error
    row = decided if error is None else claims.get_claim(session, visit.principal, claim_id)
    read = claims.to_read(row, session, plans)
    template = "claim_card.html" if request.headers.get("HX-Request") else "claim.html"
    return render(request, template, status=200 if error is None else error.status, claim=read,
                  review=read.status == "pended", errors=form_errors(error) if error else {},
                  decided=error is None, values={i["benefit"]: i for i in items})


@router.get("/enrollments/import")
def import_form(request: Request, visit: Officer):
    return render(request, "officer/import.html", result=None, rows=[], errors={}, detail="")


ROW_FIELD = re.compile(r"row (\d+)\.(\w+)")


@router.post("/enrollments/import")
def import_enrollments(request: Request, session: SessionDep, visit: Officer,
                       file: Annotated[UploadFile, File()], union_id: Annotated[str, Form(max_length=32)] = ""):
    """Import a CSV of enrollments: all or nothing; a refused file is shown with each error at its row."""
    data = file.file.read()
    result, error = attempt(session, lambda: registry.import_enrollments(session, visit.principal, data,
                                                                         union_id.strip() or None))
    if error is None:
        return render(request, "officer/import.html", result=result, rows=[], errors={}, detail="")
    by_row: dict[int, list[tuple[str, str]]] = {}
    other: list[tuple[str, str]] = []
    for e in error.errors or [{"field": "", "message": error.detail}]:
        found = ROW_FIELD.fullmatch(e.get("field", ""))
        if found:
            by_row.setdefault(int(found.group(1)), []).append((found.group(2), e["message"]))
        else:
            other.append((e.get("field", ""), e["message"]))
    return render(request, "officer/import.html", status=error.status, result=None, rows=_csv_rows(data),
                  errors=by_row, other=other, detail=error.detail)


def _csv_rows(data: bytes, limit: int = 2000) -> list[tuple[int, list[str]]]:
    """The file's rows numbered as the import numbers them (the header is row 1), to show errors beside them."""
    try:
        text = csv_files.decode_csv(data)
    except Exception:  # noqa: BLE001 - an undecodable file is shown by its error alone
        return []
    rows = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if n > limit:
            break
        rows.append((n, row))
    return rows


@router.get("/hardship")
def hardship(request: Request, session: SessionDep, visit: Officer,
             category: Annotated[str, Query(max_length=32)] = "", verified: Annotated[str, Query(max_length=5)] = "",
             page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    """The hardship register of the officer's unions, filtered by category and verification."""
    chosen = HardshipCategory(category) if category in {c.value for c in HardshipCategory} else None
    is_verified = {"yes": True, "no": False}.get(verified)
    rows, total, counts = registry.list_hardship(
        session, visit.principal, union_id=None, category=chosen, verified=is_verified, active_on=None,
        member_id=None, page=page, page_size=PAGE_SIZE)
    return render(request, "officer/hardship.html", rows=rows, total=total, counts=counts, category=category,
                  verified=verified, categories=[c.value for c in HardshipCategory], page=page,
                  pages=max(1, -(-total // PAGE_SIZE)))
