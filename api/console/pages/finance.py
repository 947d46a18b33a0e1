"""A finance officer's pages: the pools on the home page, relief allocations (list, record),
payment runs (build, approve as the second person, the bank's files) and fund statements."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Form, Query, Request, Response
from pydantic import ValidationError

from api.console.web import FormDep, attempt, form_day, form_errors, pages_router, redirect, render, requires
from api.deps import PlansDep, SessionDep
from claims.dates import china_today
from claims.money import format_fen
from service import csv_files, funds, ledger_reports, payments
from service.auth import Role
from service.errors import Invalid
from service.schemas import IN_DIGITS, AllocationCreate, PaymentRunCreate
from service.users import Visit

router = pages_router("/console/finance")
Finance = Annotated[Visit, Depends(requires(Role.FINANCE))]
PAGE_SIZE = 20
ROW_FIELD = re.compile(r"row (\d+)\.\w+")
RUN_STATUSES = ("draft", "approved", "exported", "closed", "cancelled")
ALLOCATION_SOURCES = ("central", "region", "league", "charity")
ALLOCATION_FIELDS = ("source", "year", "league_id", "amount", "reference", "received_on")
POOLS_SHOWN = 200  # a year's pools: four sources, a league pool per league, the mutual-aid pool


@router.get("")
def home(request: Request, session: SessionDep, visit: Finance,
         year: Annotated[int | None, Query(ge=2000, le=2100), IN_DIGITS] = None):
    """Runs waiting for a second person's approval, those with the bank, and each pool of the year."""
    waiting, waiting_total = payments.list_runs(session, visit.principal, status="draft", page=1, page_size=10)
    at_bank, at_bank_total = payments.list_runs(session, visit.principal, status="exported", page=1, page_size=10)
    chosen = year or china_today().year
    pools, _ = funds.pools(session, visit.principal, year=chosen, page=1, page_size=POOLS_SHOWN)
    return render(request, "finance/home.html", waiting=waiting, waiting_total=waiting_total, at_bank=at_bank,
                  at_bank_total=at_bank_total, fen=format_fen, pools=pools, year=chosen)


def _allocations_page(request: Request, session, visit: Visit, *, year: int | None, page: int = 1, status: int = 200,
                      values: dict | None = None, errors: dict | None = None, recorded=None, redecided=()):
    rows, total = funds.list_allocations(session, visit.principal, year=year, source=None, league_id=None,
                                         page=page, page_size=PAGE_SIZE)
    return render(request, "finance/allocations.html", status=status, rows=rows, total=total, page=page,
                  pages=max(1, -(-total // PAGE_SIZE)), filter_year=year or "", sources=ALLOCATION_SOURCES,
                  values=values or {"year": china_today().year, "received_on": china_today().isoformat()},
                  errors=errors or {}, recorded=recorded, redecided=list(redecided), fen=format_fen)


@router.get("/allocations")
def allocations(request: Request, session: SessionDep, visit: Finance,
                year: Annotated[int | None, Query(ge=2000, le=2100), IN_DIGITS] = None,
                page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    """Relief allocations the finance officer sees (all to the region's, a league's own to its), newest first;
    the form to record one."""
    return _allocations_page(request, session, visit, year=year, page=page)


@router.post("/allocations")
def record_allocation(request: Request, session: SessionDep, plans: PlansDep, visit: Finance, form: FormDep):
    """Record money a relief source gave; the lines waiting for it are paid. A refusal shows each error at its
    field and stores nothing."""
    values = {name: str(form.get(name, ""))[:100].strip() for name in ALLOCATION_FIELDS}

    def record():
        try:
            data = AllocationCreate(**{**values, "league_id": values["league_id"] or None})
        except ValidationError as err:
            raise Invalid("the allocation is not valid", [
                {"field": str(e["loc"][0]) if e["loc"] else "", "message": e["msg"]} for e in err.errors()]) from None
        return funds.record_allocation(session, visit.principal, plans, data)

    made, error = attempt(session, record)
    if error is not None:
        return _allocations_page(request, session, visit, year=None, status=error.status, values=values,
                                 errors=form_errors(error))
    row, redecided = made
    return _allocations_page(request, session, visit, year=None, status=201, recorded=row, redecided=redecided)


@router.get("/runs")
def runs(request: Request, session: SessionDep, visit: Finance,
         status: Annotated[str, Query(max_length=16)] = "", page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    """Payment runs of the finance officer's unions, newest first, and the form to build one."""
    rows, total = payments.list_runs(session, visit.principal, status=status if status in RUN_STATUSES else None,
                                     page=page, page_size=PAGE_SIZE)
    return render(request, "finance/runs.html", rows=rows, total=total, page=page, filter_status=status,
                  statuses=RUN_STATUSES, pages=max(1, -(-total // PAGE_SIZE)), fen=format_fen,
                  values={"union_id": visit.principal.union_id or ""}, errors={})


@router.post("/runs")
def create_run(request: Request, session: SessionDep, visit: Finance,
               union_id: Annotated[str, Form(max_length=32)] = "",
               decided_from: Annotated[str, Form(max_length=10)] = "",
               decided_to: Annotated[str, Form(max_length=10)] = ""):
    """Build a draft run over the approved, unpaid lines of a union's subtree decided in the window."""
    def build():
        try:
            data = PaymentRunCreate(union_id=union_id.strip() or None, decided_from=form_day("decided_from", decided_from),
                                    decided_to=form_day("decided_to", decided_to))
        except ValidationError as err:
            raise Invalid.at(str(err.errors()[0]["loc"][0]), err.errors()[0]["msg"]) from None
        return payments.create_run(session, visit.principal, data)

    made, error = attempt(session, build)
    if error is not None:
        rows, total = payments.list_runs(session, visit.principal, status=None, page=1, page_size=PAGE_SIZE)
        return render(request, "finance/runs.html", status=error.status, rows=rows, total=total, page=1, filter_status="",
                      statuses=RUN_STATUSES, pages=max(1, -(-total // PAGE_SIZE)), fen=format_fen,
                      values={"union_id": union_id, "decided_from": decided_from, "decided_to": decided_to},
                      errors=form_errors(error))
    run, left_out = made
    # Shown once, on the page of the new run: members with lines to pay who got no item.
    return _run_page(request, session, visit, run.id, status=201, left_out=left_out)


def _run_page(request: Request, session, visit: Visit, run_id: int, *, status: int = 200, left_out=(), errors=None,
              returns=None, rows=None):
    run = payments.get_run(session, visit.principal, run_id)
    items = payments.run_items(session, run.id)
    by_row: dict[int, list[tuple[str, str]]] = {}
    for field, message in (errors or {}).items():
        found = ROW_FIELD.fullmatch(field)
        if found:
            by_row.setdefault(int(found.group(1)), []).append((field, message))
    return render(request, "finance/run.html", status=status, run=run, items=items, fen=format_fen,
                  left_out=list(left_out), errors=errors or {}, returns=returns, rows=rows or [], by_row=by_row,
                  made_here=run.made_by.split(" (", 1)[0] == visit.principal.actor.split(" (", 1)[0])


@router.get("/runs/{run_id}")
def run(request: Request, session: SessionDep, visit: Finance, run_id: int):
    """A run: its items (account numbers masked), each with its lines; what may be done next."""
    return _run_page(request, session, visit, run_id)


@router.post("/runs/{run_id}/approve")
def approve(request: Request, session: SessionDep, visit: Finance, run_id: int):
    """The checker's approval: another finance officer than the one who built the run."""
    _done, error = attempt(session, lambda: payments.approve_run(session, visit.principal, run_id))
    if error is not None:
        if error.status == 404:
            raise error
        return _run_page(request, session, visit, run_id, status=error.status, errors=form_errors(error))
    return redirect(f"/console/finance/runs/{run_id}")


@router.post("/runs/{run_id}/cancel")
def cancel(request: Request, session: SessionDep, visit: Finance, run_id: int):
    """Call off a draft or approved run: its lines are payable again."""
    _done, error = attempt(session, lambda: payments.cancel_run(session, visit.principal, run_id))
    if error is not None:
        if error.status == 404:
            raise error
        return _run_page(request, session, visit, run_id, status=error.status, errors=form_errors(error))
    return redirect(f"/console/finance/runs/{run_id}")


@router.post("/runs/{run_id}/bank-file")
def bank_file(request: Request, session: SessionDep, visit: Finance, run_id: int,
              encoding: Annotated[str, Form(max_length=8)] = "utf-8"):
    """Download the bank's CSV (UTF-8 with a BOM, or GB18030); the first download marks the run exported.

    A form (POST, with the CSRF token) rather than a link: the download changes the run.
    """
    chosen = encoding if encoding in payments.ENCODINGS else "utf-8"
    made, error = attempt(session, lambda: payments.bank_file(session, visit.principal, run_id, chosen))
    if error is not None:
        if error.status == 404:
            raise error
        return _run_page(request, session, visit, run_id, status=error.status, errors=form_errors(error))
    body, name = made
    return Response(body, media_type=f"text/csv; charset={chosen}",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.post("/runs/{run_id}/returns")
def returns(request: Request, session: SessionDep, visit: Finance, run_id: int, form: FormDep):
    """The bank's return file (uploaded or pasted): all or nothing; a refused file shows each error at its row."""
    upload = form.get("file")
    data: bytes = b""
    if upload is not None and hasattr(upload, "filename") and upload.filename:
        data = upload.file.read()  # whole, as the API reads it (the body limit bounds it): a cut file is half imported
    elif str(form.get("text", "")).strip():
        data = str(form.get("text")).encode("utf-8")
    result, error = attempt(session, lambda: payments.import_returns(session, visit.principal, run_id, data)
                            if data else _no_file())
    if error is not None:
        if error.status == 404:
            raise error
        return _run_page(request, session, visit, run_id, status=error.status, errors=_row_errors(error),
                         rows=_rows(data))
    return _run_page(request, session, visit, run_id, returns=result)


def _no_file():
    raise Invalid.at("file", "choose the bank's return file, or paste it")


def _row_errors(error) -> dict[str, str]:
    # "row 3.status" -> shown beside row 3 of the file; other fields (header, file) above it.
    return {e.get("field", ""): e["message"] for e in (error.errors or [{"field": "", "message": error.detail}])}


def _rows(data: bytes, limit: int = 500) -> list[tuple[int, str]]:
    """The file's lines as the import read them (``csv_files.decode_csv``), numbered to show errors beside them."""
    try:
        text = csv_files.decode_csv(data) if data else ""
    except Invalid:  # the refusal already says the file cannot be read
        return []
    return list(enumerate(text.splitlines()[:limit], start=1))


@router.get("/statements")
def statements(request: Request, session: SessionDep, visit: Finance,
               year: Annotated[int | None, Query(ge=2000, le=2100), IN_DIGITS] = None,
               source: Annotated[str, Query(max_length=16)] = "",
               from_: Annotated[str, Query(alias="from", max_length=10)] = "",
               to: Annotated[str, Query(max_length=10)] = ""):
    """Fund statements: per fund, fund year and league, opening, allocations, charges, closing."""
    chosen = year or ledger_reports.this_year()

    def read():
        return ledger_reports.statements(session, visit.principal, year=chosen, source=source or None,
                                         from_=form_day("from", from_), to=form_day("to", to))

    lines, error = attempt(session, read)
    return render(request, "finance/statements.html", status=error.status if error else 200, lines=lines or [],
                  year=chosen, source=source, from_=from_, to=to, sources=ledger_reports.STATEMENT_SOURCES,
                  fen=format_fen, errors=form_errors(error) if error else {})
