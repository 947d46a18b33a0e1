"""A member's pages: their claims, what each paid and why, what their benefits have left, remittance advice."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.console.web import pages_router, render, requires
from api.deps import PlansDep, SessionDep
from claims.dates import china_today
from claims.money import format_fen
from service import benefits, claims, payments
from service.auth import Role
from service.schemas import WrittenDay
from service.users import Visit

router = pages_router("/console/member")
Member = Annotated[Visit, Depends(requires(Role.MEMBER))]
PAGE_SIZE = 20


@router.get("")
def my_claims(request: Request, session: SessionDep, plans: PlansDep, visit: Member,
              page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    rows, total = claims.list_claims(session, visit.principal, status=None, member_id=None, hospital=None,
                                     submitted_from=None, submitted_to=None, page=page, page_size=PAGE_SIZE)
    return render(request, "member/claims.html", rows=[claims.to_read(c, session, plans) for c in rows],
                  total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)))


@router.get("/claims/{claim_id}")
def claim(request: Request, session: SessionDep, plans: PlansDep, visit: Member, claim_id: int):
    """One claim: each line's amount and, in words, why."""
    read = claims.to_read(claims.get_claim(session, visit.principal, claim_id), session, plans)
    return render(request, "claim.html", claim=read, review=False)


@router.get("/benefits")
def my_benefits(request: Request, session: SessionDep, plans: PlansDep, visit: Member,
                on: Annotated[WrittenDay | None, Query()] = None):
    """What each benefit has paid in the period or year of the day (today by default), what pended lines hold,
    and what is left."""
    standing = benefits.member_benefits(session, visit.principal, plans, visit.principal.member_id or "",
                                        on or china_today())
    return render(request, "member/benefits.html", standing=standing)


@router.get("/payments")
def my_payments(request: Request, session: SessionDep, visit: Member):
    """The member's payments that went to the bank, each with its remittance advice."""
    items = payments.member_items(session, visit.principal, visit.principal.member_id or "")
    return render(request, "member/payments.html", items=items, fen=format_fen)


@router.get("/payments/{item_id}")
def advice(request: Request, session: SessionDep, plans: PlansDep, visit: Member, item_id: int):
    """A remittance advice: what the payment paid, claim by claim and line by line, and why."""
    found = payments.advice(session, visit.principal, plans, item_id)
    return render(request, "member/advice.html", advice=found)


@router.get("/payments/{item_id}/print")
def advice_print(session: SessionDep, plans: PlansDep, visit: Member, item_id: int):
    """The remittance advice as a printable page (Chinese, English beside), the one the API prints."""
    response = HTMLResponse(payments.advice_html(payments.advice(session, visit.principal, plans, item_id)))
    response.headers["Cache-Control"] = "no-store"
    return response
