"""A member's pages: their claims, what each paid and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.console.web import pages_router, render, requires
from api.deps import PlansDep, SessionDep
from service import claims
from service.auth import Role
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
