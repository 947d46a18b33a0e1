"""The ledger's reports for finance officers: fund statements by source, year and league."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentCaller, PagingDep, SessionDep
from claims.money import format_fen
from service import ledger_reports
from service.schemas import IN_DIGITS, Page, StatementLineRead, WrittenDay

router = APIRouter(prefix="/v1", tags=["finance"])


@router.get("/funds/statements", response_model=Page[StatementLineRead], summary="Fund statements")
def fund_statements(
    session: SessionDep, caller: CurrentCaller, paging: PagingDep,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Fund year (default: this year)"), IN_DIGITS] = None,
    source: Annotated[str | None, Query(max_length=16, description="Only this fund: mutual_aid, central, region, "
                                                                   "league or charity")] = None,
    league: Annotated[str | None, Query(max_length=32, description="Only this league's money (source league)")] = None,
    from_: Annotated[WrittenDay | None, Query(alias="from", description="Start of the period (default: 1 January "
                                                                      "of the year); before it is the opening")] = None,
    to: Annotated[WrittenDay | None, Query(description="End of the period, included (default: everything booked)")] = None,
):
    """Per fund (source), fund year and league: opening, allocations, charges and closing, in yuan.

    From the ledger's postings by their fund columns: allocations are money in
    (relief allocations; for the mutual-aid pool, contributions and the union
    subsidy), charges are the approved lines' charges net of reversals. The opening
    is what was booked before ``from``; closing = opening + allocations − charges up to
    ``to``. Administrators and the region's finance officers see every fund; a
    league's finance officer sees their league's own money only. 422 names a bad
    ``source``, or a ``to`` before the start.
    """
    lines = ledger_reports.statements(session, caller, year=year or ledger_reports.this_year(), source=source,
                                      league=league, from_=from_, to=to)
    first = (paging.page - 1) * paging.page_size
    items = [StatementLineRead(source=ln.source, year=ln.year, league_id=ln.league_id, opening=format_fen(ln.opening),
                               allocations=format_fen(ln.allocations), charges=format_fen(ln.charges),
                               closing=format_fen(ln.closing))
             for ln in lines[first:first + paging.page_size]]
    return Page[StatementLineRead](items=items, total=len(lines), page=paging.page, page_size=paging.page_size)
