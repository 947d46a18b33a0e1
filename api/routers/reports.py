"""Reports a federation sends up: the federation report of a union's subtree, in JSON, CSV, Excel or HTML."""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from starlette.responses import Response

from api.deps import CurrentCaller, SessionDep
from api.problems import answers
from service import report_formats, reports
from service.errors import Invalid, NotFound
from service.schemas import IN_DIGITS, WrittenDay

router = APIRouter(prefix="/v1", tags=["reports"])

FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}
_REPORT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The report: JSON by default; CSV, an Excel workbook or a printable HTML page by `format`",
          "content": {media: {} for media in FORMATS.values()}},
    **answers(404, s404="No such union, or one outside the caller's subtree (the same answer)"),
}


@router.get("/reports/federation", summary="The federation report of a union and the unions beneath it",
            responses=_REPORT_ANSWERS)
def federation_report(
    session: SessionDep,
    caller: CurrentCaller,
    union: Annotated[str, Query(max_length=32, description="The union whose subtree the report covers")],
    year: Annotated[int | None, Query(description="A calendar year (or give from and to)"), IN_DIGITS] = None,
    start: Annotated[WrittenDay | None, Query(alias="from", description="First day of a range (with to)")] = None,
    end: Annotated[WrittenDay | None, Query(alias="to", description="Last day of a range, at most 5 years on")] = None,
    answer_format: Annotated[str, Query(alias="format", max_length=8, description="json, csv, xlsx or html")] = "json",
) -> Response:
    """Hardship register by category; relief by category, source and union; mutual aid by union; payouts by
    benefit, disease, month and hospital grade; processing times; fund statements. Every figure is labelled in
    Chinese and English.

    Administrators see any union; officers and finance officers their own union's subtree (any other union is
    answered as unknown, 404); members and hospitals get 403. A year, or from/to (at most 5 years), is required.
    """
    if answer_format not in FORMATS:
        raise Invalid.at("format", f"is one of {', '.join(FORMATS)}")
    period = reports.period_of(year, start, end)
    report = reports.build(session, caller, union, period)
    if answer_format == "json":
        return JSONResponse(reports.as_json(report))
    name = f"federation-{re.sub(r'[^A-Za-z0-9_-]', '_', report.union.id)}-{period.start.isoformat()}-{period.end.isoformat()}"
    if answer_format == "csv":
        return Response(report_formats.as_csv(report), media_type=FORMATS["csv"],
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if answer_format == "xlsx":
        return Response(report_formats.as_xlsx(report), media_type=FORMATS["xlsx"],
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return Response(report_formats.as_html(report), media_type=FORMATS["html"],
                    headers={"Content-Security-Policy": report_formats.CONTENT_SECURITY_POLICY,
                             "X-Content-Type-Options": "nosniff"})


ASSETS = {"chart.umd.js": "text/javascript; charset=utf-8", "report.js": "text/javascript; charset=utf-8",
          "report.css": "text/css; charset=utf-8"}


@router.get("/reports/assets/{name}", summary="A script or style of the report page",
            responses={200: {"description": "The file", "content": {"text/javascript": {}, "text/css": {}}},
                       **answers(404, s404="No such asset")})
def report_asset(name: Annotated[str, Path(max_length=40)]) -> Response:
    """The report page's own files (Chart.js, its drawing script, its style), served here so it needs no CDN; no key."""
    if name not in ASSETS:
        raise NotFound(f"no report asset {name}")
    body = files("api").joinpath("report_assets", name).read_bytes()
    return Response(body, media_type=ASSETS[name],
                    headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
