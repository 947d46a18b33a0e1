"""What a member's benefits have paid and what is left: for the member, their officers and finance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentCaller, PlansDep, SessionDep
from api.problems import answers
from claims.dates import china_today
from service import benefits
from service.schemas import MemberBenefitsRead, WrittenDay

router = APIRouter(prefix="/v1", tags=["registry"])


@router.get("/members/{member_id}/benefits", response_model=MemberBenefitsRead,
            summary="Read what a member's benefits have paid and what is left",
            responses=answers(409, s409="No published plan is in force on the day"))
def member_benefits(
    member_id: str,
    session: SessionDep,
    caller: CurrentCaller,
    plans: PlansDep,
    on: Annotated[WrittenDay | None, Query(description="The day (YYYY-MM-DD); today in China when left out")] = None,
):
    """For the plan in force on the day, the member's enrollment period and calendar year covering it:
    each benefit's paid amount (approved lines), what pended lines reserve, and what is left of its
    cap, allowance days or one-off grants, all read from the member's stored totals.

    Not enrolled on the day is an answer (``enrolled`` false, the mutual-aid lines closed with
    ``NOT_ENROLLED``), not an error. To the member themself, the officers and finance officers of
    their union and the unions above it, and administrators; anyone else gets 404, as for a member
    that does not exist.
    """
    return benefits.member_benefits(session, caller, plans, member_id, on or china_today())
