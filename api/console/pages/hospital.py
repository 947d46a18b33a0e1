"""A hospital clerk's pages: post a settlement (upload its JSON record or fill a form), see their own."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, Query, Request

from api.console.web import FormDep, attempt, form_errors, pages_router, redirect, render, requires
from api.deps import ProvincialMedTypesDep, SessionDep
from service import settlements
from service.auth import Role
from service.errors import Invalid
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


@router.post("/settlements")
def post(request: Request, session: SessionDep, visit: Hospital, med_types: ProvincialMedTypesDep,
         form: FormDep):
    """Post a settlement: the uploaded JSON record if one is chosen, else the form's fields."""
    upload = form.get("record")
    values = {name: str(form.get(name, "")).strip() for name in (*TEXTS, *AMOUNTS)}

    def build() -> dict:
        if upload is not None and hasattr(upload, "file") and upload.filename:
            try:
                return json.loads(upload.file.read().decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise Invalid.at("record", f"not a JSON settlement record: {err}") from None
        raw = {k: v for k, v in values.items() if k not in ("diag_code", "diag_name") and v != ""}
        raw["fixmedins_code"] = visit.principal.hospital_code
        if values["diag_code"]:
            raw["diagnoses"] = [{"diag_code": values["diag_code"], "diag_name": values["diag_name"],
                                 "maindiag_flag": "1"}]
        return raw

    def post_it():
        return settlements.post_settlement(session, visit.principal, build(), med_types)

    posted, error = attempt(session, post_it)
    if error is not None:
        return render(request, "hospital/settlement_new.html", status=error.status, values=values,
                      errors=form_errors(error), amounts=AMOUNTS, texts=TEXTS)
    row, _created = posted
    return redirect(f"/console/hospital/settlements/{row.id}")


@router.get("/settlements/{settlement_id}")
def settlement(request: Request, session: SessionDep, visit: Hospital, settlement_id: int):
    row = settlements.get_settlement(session, visit.principal, settlement_id)
    return render(request, "hospital/settlement.html", s=settlements.to_read(row))
