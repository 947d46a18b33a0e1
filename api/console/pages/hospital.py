"""A hospital clerk's pages: post a settlement (upload its JSON record or fill a form), see their own;
the desk (preview, one-stop settlement, cancel) and the day's reconciliation."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Annotated

from fastapi import Depends, Form, Query, Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.console.web import FormDep, attempt, form_day, form_errors, pages_router, redirect, render, requires
from api.deps import PlansDep, ProvincialMedTypesDep, SessionDep
from api.limits import MAX_DEPTH, json_depth
from api.routers.settlements import loads_exact
from claims.dates import china_today
from service import csv_files, desk, settlements
from service.auth import Role
from service.errors import Invalid
from service.schemas import CancellationCreate, ReconciliationCreate
from service.users import Visit

router = pages_router("/console/hospital")
Hospital = Annotated[Visit, Depends(requires(Role.HOSPITAL))]
PAGE_SIZE = 20

# The form's fields: the settlement record's own names (national medical-insurance
# settlement list, domain.md), so an uploaded record and a typed one are the same thing.
AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
           "hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay")
TEXTS = ("setl_id", "hosp_lv", "insutype", "med_type", "certno", "psn_name", "begndate", "enddate",
         "diag_code", "diag_name")


@router.get("")
def settlements_list(request: Request, session: SessionDep, visit: Hospital,
                     page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    """The hospital's own settlements."""
    rows, total = settlements.list_settlements(session, visit.principal, None, page, PAGE_SIZE)
    return render(request, "hospital/settlements.html", rows=[settlements.to_read(r) for r in rows], total=total,
                  page=page, pages=max(1, -(-total // PAGE_SIZE)))


@router.get("/settlements/new")
def settlement_form(request: Request, visit: Hospital):
    return render(request, "hospital/settlement_new.html", values={"insutype": "310", "med_type": "21"}, errors={},
                  amounts=AMOUNTS, texts=TEXTS)


def _values(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip() for name in (*TEXTS, *AMOUNTS)}


def _record(form: FormData, visit: Visit) -> dict:
    """The settlement record: the uploaded JSON file if one is chosen, else the form's fields."""
    upload = form.get("record")
    if upload is not None and hasattr(upload, "file") and upload.filename:
        data = upload.file.read()
        if json_depth(data) > MAX_DEPTH:  # as the API refuses a JSON body (json.loads would exhaust the stack)
            raise Invalid.at("record", f"nested deeper than {MAX_DEPTH} levels")
        # As the API reads a body: numbers exact (never a binary float), a BOM as Excel or
        # Notepad leaves it dropped.
        data = data.removeprefix(b"\xef\xbb\xbf")
        if not data.strip():
            raise Invalid.at("record", "the file is empty: not a JSON settlement record")
        return loads_exact(data, "record")
    values = _values(form)
    raw = {k: v for k, v in values.items() if k not in ("diag_code", "diag_name") and v != ""}
    raw["fixmedins_code"] = visit.principal.hospital_code
    if values["diag_code"]:
        raw["diagnoses"] = [{"diag_code": values["diag_code"], "diag_name": values["diag_name"],
                             "maindiag_flag": "1"}]
    return raw


@router.post("/settlements")
def post(request: Request, session: SessionDep, visit: Hospital, med_types: ProvincialMedTypesDep,
         form: FormDep):
    """Post a settlement: the uploaded JSON record if one is chosen, else the form's fields."""
    posted, error = attempt(session, lambda: settlements.post_settlement(session, visit.principal,
                                                                         _record(form, visit), med_types))
    if error is not None:
        return render(request, "hospital/settlement_new.html", status=error.status, values=_values(form),
                      errors=form_errors(error), amounts=AMOUNTS, texts=TEXTS)
    row, _created = posted
    return redirect(f"/console/hospital/settlements/{row.id}")


# ----------------------------------------------------------------------------- the desk


@router.get("/desk")
def desk_form(request: Request, visit: Hospital):
    """At discharge: the record, then a preview of what the plan pays, or the one-stop settlement."""
    return render(request, "hospital/desk.html", values={"insutype": "310", "med_type": "21"}, errors={},
                  amounts=AMOUNTS, texts=TEXTS, decision=None)


@router.post("/desk/preview")
def preview(request: Request, session: SessionDep, visit: Hospital, plans: PlansDep, med_types: ProvincialMedTypesDep,
            form: FormDep):
    """What the plan in force would pay on this record now; nothing is stored (htmx: the result alone)."""
    decision, error = attempt(session, lambda: desk.preview(session, visit.principal, plans, _record(form, visit),
                                                            med_types))
    errors = form_errors(error) if error else {}
    if request.headers.get("HX-Request"):
        return render(request, "hospital/decision_card.html", status=error.status if error else 200,
                      decision=decision, errors=errors, preview=True)
    return render(request, "hospital/desk.html", status=error.status if error else 200, values=_values(form),
                  errors=errors, amounts=AMOUNTS, texts=TEXTS, decision=decision)


@router.post("/desk/settle")
def settle(request: Request, session: SessionDep, visit: Hospital, plans: PlansDep, med_types: ProvincialMedTypesDep,
           form: FormDep):
    """Store the settlement and decide the member's claim in one step; then its result page."""
    settled, error = attempt(session, lambda: desk.settle(session, visit.principal, plans, _record(form, visit),
                                                          med_types))
    if error is not None:
        return render(request, "hospital/desk.html", status=error.status, values=_values(form),
                      errors=form_errors(error), amounts=AMOUNTS, texts=TEXTS, decision=None)
    decision, _made = settled
    return redirect(f"/console/hospital/settlements/{decision.settlement_id}/decision")


@router.get("/settlements/{settlement_id}/decision")
def decision(request: Request, session: SessionDep, visit: Hospital, plans: PlansDep, settlement_id: int):
    """The one-stop result: each line paid, what the patient still owes, the cancellation if any."""
    found = desk.settlement_decision(session, visit.principal, plans, settlement_id)
    return render(request, "hospital/decision.html", decision=found, errors={}, reason="")


@router.post("/settlements/{settlement_id}/cancel")
def cancel(request: Request, session: SessionDep, visit: Hospital, plans: PlansDep, settlement_id: int,
           reason: Annotated[str, Form(max_length=600)] = ""):
    """Cancel a settlement posted in error, with the reason; its claim is cancelled with it."""
    def cancel_it():
        try:
            data = CancellationCreate(reason=reason.strip())
        except ValidationError:
            raise Invalid.at("reason", "give the reason (1 to 500 characters)") from None
        return desk.cancel(session, visit.principal, plans, settlement_id, data)

    _done, error = attempt(session, cancel_it)
    if error is not None:
        if error.status == 404:
            raise error
        found = desk.settlement_decision(session, visit.principal, plans, settlement_id)
        return render(request, "hospital/decision.html", status=error.status, decision=found,
                      errors=form_errors(error), reason=reason)
    return redirect(f"/console/hospital/settlements/{settlement_id}/decision")


# ----------------------------------------------------------------------------- the day's reconciliation

LIST_COLUMNS = ("setl_id", "medfee_sumamt", "psn_cash_pay", "union_paid", "cancelled")
ITEM_FIELD = re.compile(r"settlements\[(\d+)\]\.(\w+)")
YES = {"1", "true", "yes", "y", "是", "已撤销"}


def _day(text: str) -> dt.date:
    return form_day("date", text) or china_today()


@router.get("/reconciliation")
def reconciliation(request: Request, session: SessionDep, visit: Hospital,
                   date: Annotated[str, Query(max_length=10)] = ""):
    """The day's totals (posting date in China) and the form for the hospital's own list."""
    day, error = attempt(session, lambda: _day(date))
    if error is not None:
        day = china_today()
    totals = desk.day_totals(session, visit.principal, day, None)
    return render(request, "hospital/reconciliation.html", status=error.status if error else 200, day=day,
                  totals=totals, result=None, errors=form_errors(error) if error else {}, text="", columns=LIST_COLUMNS)


def _their_list(text: str) -> list[dict]:
    """The hospital's list as CSV (a header naming the columns); each row as the service reads it."""
    reader = csv.DictReader(io.StringIO(text.strip()))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "setl_id" not in header or "medfee_sumamt" not in header:
        raise Invalid.at("list", f"the first row names the columns: {', '.join(LIST_COLUMNS)} "
                         "(setl_id and medfee_sumamt at least)")
    reader.fieldnames = header
    items = []
    for row in reader:
        cells = {k: (v or "").strip() for k, v in row.items() if k in LIST_COLUMNS}
        if not any(cells.values()):
            continue
        item: dict = {k: v for k, v in cells.items() if k != "cancelled" and v != ""}
        item["cancelled"] = cells.get("cancelled", "").lower() in YES
        items.append(item)
    return items


@router.post("/reconciliation")
def reconcile(request: Request, session: SessionDep, visit: Hospital, form: FormDep):
    """The hospital's own list of the day (pasted or uploaded CSV) against ours: the differences.

    A refused list is shown with each error at its row (the header is row 1).
    """
    text = str(form.get("list", "") or "")
    upload = form.get("file")
    # Read whole (a cut list reports false differences), decoded as Excel saves it (UTF-8 or GBK).
    sent = upload.file.read() if upload is not None and hasattr(upload, "filename") and upload.filename else None
    date = str(form.get("date", ""))

    def run():
        nonlocal text
        if sent is not None:
            text = _uploaded(sent)
        day = _day(date)
        try:
            data = ReconciliationCreate(date=day, settlements=_their_list(text))
        except ValidationError as err:
            found = [{"field": _item_field(e["loc"]), "message": e["msg"]} for e in err.errors()]
            raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in found), found) from None
        return day, desk.reconcile(session, visit.principal, data)

    done, error = attempt(session, run)
    day = done[0] if done else (_safe_day(date))
    totals = desk.day_totals(session, visit.principal, day, None)
    errors = _by_row(error) if error else {}
    return render(request, "hospital/reconciliation.html", status=error.status if error else 200, day=day,
                  totals=totals, result=done[1] if done else None, errors=errors, text=text, columns=LIST_COLUMNS)


def _uploaded(data: bytes) -> str:
    """An uploaded list read as every CSV upload is (``csv_files.decode_csv``): a list Excel saved
    as GBK keeps its 是 / 已撤销, which decoding as UTF-8 with replacements would turn into "not cancelled"."""
    try:
        return csv_files.decode_csv(data)
    except Invalid as err:
        raise Invalid.at("file", err.errors[0]["message"] if err.errors else err.detail) from None


def _safe_day(text: str) -> dt.date:
    try:
        return _day(text)
    except Invalid:
        return china_today()


def _item_field(loc) -> str:
    # ("settlements", 2, "medfee_sumamt") -> settlements[2].medfee_sumamt, as the service names it.
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "settlements" and parts[1].isdigit():
        return f"settlements[{parts[1]}]" + "".join(f".{p}" for p in parts[2:])
    return ".".join(parts) or "list"


def _by_row(error) -> dict:
    """Errors by the list's row (item i is row i + 2: the header is row 1), and the rest by field."""
    out: dict = {}
    for e in error.errors or [{"field": "", "message": error.detail}]:
        found = ITEM_FIELD.fullmatch(e.get("field", "")) or re.fullmatch(r"settlements\[(\d+)\]()", e.get("field", ""))
        if found:
            out[f"row {int(found.group(1)) + 2}" + (f" · {found.group(2)}" if found.group(2) else "")] = e["message"]
        else:
            out[e.get("field", "")] = e["message"]
    return out


@router.get("/settlements/{settlement_id}")
def settlement(request: Request, session: SessionDep, visit: Hospital, settlement_id: int):
    row = settlements.get_settlement(session, visit.principal, settlement_id)
    return render(request, "hospital/settlement.html", s=settlements.to_read(row))
