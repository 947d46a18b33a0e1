"""A finance officer's pages. The money pages (allocations, payment runs, fund statements)
are added here when their services are merged; this is the finance officer's home."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.console.web import pages_router, render, requires
from service.auth import Role
from service.users import Visit

router = pages_router("/console/finance")
Finance = Annotated[Visit, Depends(requires(Role.FINANCE))]


@router.get("")
def home(request: Request, visit: Finance):
    return render(request, "finance/home.html")
