"""The funds API: finance officers record relief allocations and follow what each pool has left."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentCaller, PagingDep, PlansDep, RowId, SessionDep
from api.problems import answers
from api.routers import CREATED
from service import funds
from service.schemas import AllocationCreate, AllocationCreated, AllocationRead, Page, PoolRead

router = APIRouter(prefix="/v1/funds", tags=["funds"])
Source = Literal["central", "region", "league", "charity"]
Year = Annotated[int, Query(ge=2000, le=2100)]


@router.post("/allocations", status_code=status.HTTP_201_CREATED, response_model=AllocationCreated,
             summary="Record a relief allocation",
             responses={**CREATED, **answers(
                 404, 409, s404="No such league, or a league outside the finance officer's unions (the same answer)",
                 s409="This reference is recorded already for the source and year")})
def record_allocation(data: AllocationCreate, response: Response, session: SessionDep, caller: CurrentCaller,
                      plans: PlansDep):
    """Money a relief source gave for a year (league money: for one league), with its reference and date.

    The region's finance officers record any source; a league's finance officers their
    own league's money. Lines waiting for relief funds (``FUND_EXHAUSTED``) of that year
    are then paid in the order their claims were received, as far as the money goes:
    ``redecided_claims`` lists the claims that changed.
    """
    row, redecided = funds.record_allocation(session, caller, plans, data)
    response.headers["Location"] = f"/v1/funds/allocations/{row.id}"
    return AllocationCreated(**funds.allocation_read(row), redecided_claims=redecided)


@router.get("/allocations/{allocation_id}", response_model=AllocationRead, summary="Read a relief allocation",
            responses=answers(404, s404="No such allocation, or another league's (the same answer)"))
def get_allocation(allocation_id: RowId, session: SessionDep, caller: CurrentCaller):
    """An allocation: to the region's finance officers and administrators, a league's own to its finance officers."""
    return AllocationRead(**funds.allocation_read(funds.get_allocation(session, caller, allocation_id)))


@router.get("/allocations", response_model=Page[AllocationRead], summary="List relief allocations")
def list_allocations(
    session: SessionDep,
    caller: CurrentCaller,
    paging: PagingDep,
    year: Year | None = None,
    source: Source | None = None,
    league_id: Annotated[str | None, Query(max_length=32)] = None,
):
    """Allocations, newest first: every one to the region's finance officers, a league's own to its finance officers."""
    rows, total = funds.list_allocations(session, caller, year=year, source=source, league_id=league_id,
                                         page=paging.page, page_size=paging.page_size)
    return Page[AllocationRead](items=[AllocationRead(**funds.allocation_read(r)) for r in rows], total=total,
                                page=paging.page, page_size=paging.page_size)


@router.get("/pools", response_model=Page[PoolRead], summary="What each fund pool holds")
def list_pools(session: SessionDep, caller: CurrentCaller, paging: PagingDep, year: Year | None = None):
    """Per relief source, year and league: allocated, charged to approved lines, and available; the
    mutual-aid pool's charges beside its contributions (it may show a deficit, which blocks nothing)."""
    rows, total = funds.pools(session, caller, year=year, page=paging.page, page_size=paging.page_size)
    return Page[PoolRead](items=[PoolRead(**r) for r in rows], total=total, page=paging.page,
                          page_size=paging.page_size)
