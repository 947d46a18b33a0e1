"""The claims API: members and union officers submit and follow claims; reviewers decide pended ones."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from api import idempotency
from api.problems import answers
from api.routers import CREATED, located
from api.deps import CurrentCaller, PagingDep, PlansDep, RowId, SessionDep
from api.idempotency import IdempotencyDep
from service import claims
from service.idempotency import Answer
from service.schemas import AdjustmentRead, ClaimBatchCreate, ClaimBatchRead, ClaimCreate, ClaimRead, ClaimReview, Page, WrittenDay

router = APIRouter(prefix="/v1", tags=["claims"])
Status = Literal["approved", "denied", "pended", "cancelled"]


@router.post("/claims", status_code=status.HTTP_201_CREATED, response_model=ClaimRead, summary="Submit a claim",
             responses={**CREATED, **idempotency.RESPONSES, **answers(
                 404, 409, s404="No such member or settlement, or one this key may not claim for (the same answer)",
                 s409="No published plan is in force on the admission date, or a request with this "
                      "Idempotency-Key is still being answered")})
def submit_claim(data: ClaimCreate, session: SessionDep, caller: CurrentCaller, plans: PlansDep, once: IdempotencyDep):
    """Submit a claim for a posted settlement; it is decided at once and the decision returned."""
    def submit() -> Answer:
        claim = claims.submit_claim(session, caller, plans, data)
        return Answer(status.HTTP_201_CREATED, claims.to_read(claim, session, plans).model_dump(mode="json"))

    answer = idempotency.answer_once(session, caller, once, submit)
    return located(answer, f"/v1/claims/{json.loads(answer.body)['id']}")


@router.post("/claims/batch", status_code=status.HTTP_201_CREATED, response_model=ClaimBatchRead,
             summary="Submit many claims at once",
             responses={**idempotency.RESPONSES, **answers(
                 404, 409, s404="An item names no such member or settlement, or one this key may not claim for "
                                "(the item is named)",
                 s409="No published plan is in force on an admission date, or a request with this "
                      "Idempotency-Key is still being answered")})
def submit_claims(data: ClaimBatchCreate, session: SessionDep, caller: CurrentCaller, plans: PlansDep,
                  once: IdempotencyDep):
    """Submit up to 500 claims at once (a hospital's or a union's daily list), decided in order.

    All are stored, or none: a refused item (no such member or settlement, a member the
    key cannot act for, a date in the future) refuses the batch, and the problem names
    it (``claims[3].member_id``). Each claim is decided exactly as if it had been
    submitted alone, in this order.
    """
    def submit() -> Answer:
        made = claims.submit_claims(session, caller, plans, data.claims)
        return Answer(status.HTTP_201_CREATED, ClaimBatchRead(claims=claims.page_read(made, session, plans)).model_dump(mode="json"))

    return idempotency.answer_once(session, caller, once, submit)


@router.get("/claims/{claim_id}", response_model=ClaimRead, summary="Read a claim and its decision")
def get_claim(claim_id: RowId, session: SessionDep, caller: CurrentCaller, plans: PlansDep):
    """A claim with each line's amount, reasons and a readable explanation (Chinese and English), its
    adjustments and the rules' trace: to the member, their union's officers and administrators."""
    return claims.to_read(claims.get_claim(session, caller, claim_id), session, plans)


@router.get("/claims", response_model=Page[ClaimRead], summary="List claims")
def list_claims(
    session: SessionDep,
    caller: CurrentCaller,
    plans: PlansDep,
    paging: PagingDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    member_id: Annotated[str | None, Query(max_length=64)] = None,
    hospital: Annotated[str | None, Query(max_length=32)] = None,
    submitted_from: WrittenDay | None = None,
    submitted_to: WrittenDay | None = None,
):
    """Claims newest first, filtered; a member sees their own, an officer their union's members'."""
    rows, total = claims.list_claims(
        session, caller, status=status_, member_id=member_id, hospital=hospital, submitted_from=submitted_from,
        submitted_to=submitted_to, page=paging.page, page_size=paging.page_size,
    )
    return Page[ClaimRead](items=claims.page_read(rows, session, plans), total=total, page=paging.page,
                           page_size=paging.page_size)


@router.get("/review-queue", response_model=Page[ClaimRead], tags=["review"], summary="List pended claims")
def review_queue(session: SessionDep, caller: CurrentCaller, plans: PlansDep, paging: PagingDep):
    """Pended claims, oldest first (an officer sees their own union's)."""
    caller.require(*claims.REVIEWERS)
    rows, total = claims.list_claims(
        session, caller, status="pended", member_id=None, hospital=None, submitted_from=None, submitted_to=None,
        page=paging.page, page_size=paging.page_size, oldest_first=True,
    )
    return Page[ClaimRead](items=claims.page_read(rows, session, plans), total=total, page=paging.page,
                           page_size=paging.page_size)


@router.post("/claims/{claim_id}/review", response_model=ClaimRead, tags=["review"], summary="Review a pended claim",
             responses=answers(409, s409="A line named is not pended (decided already, or reviewed)"))
def review_claim(claim_id: RowId, data: ClaimReview, session: SessionDep, caller: CurrentCaller, plans: PlansDep):
    """Approve, deny or adjust (downwards) each pended line, with a note.

    Denying or cutting a line decides again, at once, the unreviewed lines that share
    what it left of the base (the critical-illness relief after the mutual aid).
    """
    return claims.to_read(claims.review_claim(session, caller, plans, claim_id, data), session, plans)


@router.get("/adjustments", response_model=Page[AdjustmentRead], tags=["review"], summary="List adjustments")
def list_adjustments(
    session: SessionDep,
    caller: CurrentCaller,
    paging: PagingDep,
    claim_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    member_id: Annotated[str | None, Query(max_length=64)] = None,
    plan_version: Annotated[str | None, Query(max_length=100, description="The version re-adjudicated under (name@hash)")] = None,
):
    """What re-adjudication under later versions changed on decided claims, newest first."""
    rows, total = claims.list_adjustments(session, caller, claim_id=claim_id, member_id=member_id,
                                          plan_version=plan_version, page=paging.page, page_size=paging.page_size)
    return Page[AdjustmentRead](items=rows, total=total, page=paging.page, page_size=paging.page_size)
