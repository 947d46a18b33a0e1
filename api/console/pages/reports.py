"""The federation report for officers, finance officers and administrators: its tables and charts, and
the Excel workbook and CSV to download.

The report is ``service.reports.build`` as the signed-in person may see it (their union's
subtree; administrators any union), printed in the visitor's language from the report's
own bilingual labels (``service.report_labels``). The charts are Chart.js and the
report's drawing script, both served by this app under ``/v1/reports/assets`` (no CDN):
the page carries the chart data as JSON, no inline script. The files are
``service.report_formats``' workbook and CSV, the same as the API's.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from sqlalchemy import select

from api.console.web import attempt, form_day, locale_of, pages_router, render, requires
from api.deps import SessionDep
from claims.dates import china_today
from claims.money import format_fen
from service import report_formats, reports
from service.auth import Role
from service.errors import Invalid, ServiceError
from service.users import Visit
from store import models
from store.row_ids import row_id_spelled

router = pages_router("/console/reports")
Reader = Annotated[Visit, Depends(requires(Role.OFFICER, Role.FINANCE, Role.ADMIN))]
ASSETS = "/v1/reports/assets"
DOWNLOADS = {"xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", report_formats.as_xlsx),
             "csv": ("text/csv; charset=utf-8", report_formats.as_csv)}

UnionQ = Annotated[str, Query(max_length=32)]
YearQ = Annotated[str, Query(max_length=6)]
DateQ = Annotated[str, Query(max_length=10)]


def _default_union(session, visit: Visit) -> str:
    """The signed-in person's own union; an administrator's the root of the tree."""
    if visit.principal.union_id:
        return visit.principal.union_id
    return session.scalar(select(models.Union.id).where(models.Union.parent_id.is_(None))
                          .order_by(models.Union.id).limit(1)) or ""


def _period(year: str, start: str, end: str) -> reports.Period:
    # Written as the API's year is (store.row_ids): str.isdigit() alone takes "²" (which
    # int() refuses, a 500) and "２０２６" (another spelling of the same report). YearQ's
    # six characters keep it far below the digits int() refuses.
    year = year.strip()
    if year and not row_id_spelled(year):
        raise Invalid.at("year", "is not a calendar year")
    return reports.period_of(int(year) if year else None, form_day("from", start), form_day("to", end))


def _report(session, visit: Visit, union: str, year: str, start: str, end: str) -> reports.Report:
    period = _period(year, start, end)
    return reports.build(session, visit.principal, union, period)


def _errors(error: ServiceError) -> dict[str, str]:
    found = {e["field"]: e["message"] for e in (error.errors or []) if e.get("field")}
    if not found and error.status == 404:  # a union outside the person's subtree is answered as unknown
        return {"union": error.detail}
    return found or {"": error.detail}


def _label(label, lang: str) -> str:
    return label.zh if lang == "zh" else label.en


def _cell(value: Any, kind: str, lang: str) -> str:
    if value is None:
        return ""
    if isinstance(value, reports.Coded):
        return _label(value.label, lang)
    if kind == reports.YUAN:
        return format_fen(value)
    if kind == reports.PERCENT:
        return f"{value}%"
    return str(value)


def _chart_value(value: Any, kind: str) -> Any:
    """A number as Chart.js reads it: exact decimal strings for yuan, percentages and days, integers for counts."""
    if value is None:
        return None
    if kind == reports.YUAN:
        return format_fen(value)
    if kind == reports.PERCENT:
        return str(value.value)
    if kind == reports.DAYS:
        return str(value)
    return value


def _kind(column: reports.Column, row: dict[str, Any]) -> str:
    return row.get("kind", reports.TEXT) if column.kind == "by_row" else column.kind


def view(report: reports.Report, lang: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The report's tables as the template prints them, and the charts' data as report.js draws it."""
    tables, charts = [], {}
    for table in report.tables:
        rows = [*table.rows, *([table.total] if table.total is not None else [])]
        tables.append({
            "key": table.key, "title": _label(table.title, lang), "chart": bool(table.chart and table.rows),
            "columns": [(_label(c.label, lang), c.kind) for c in table.columns],
            "rows": [{"total": row is table.total,
                      "cells": [(_cell(row.get(c.key), _kind(c, row), lang), _kind(c, row)) for c in table.columns]}
                     for row in rows],
        })
        if table.chart and table.rows:
            columns = {c.key: c for c in table.columns}
            charts[table.key] = {
                "kind": table.chart.kind,
                "labels": [_cell(row.get(table.chart.category), reports.TEXT, lang) for row in table.rows],
                "series": [{"label": _label(columns[key].label, lang),
                            "values": [_chart_value(row.get(key), _kind(columns[key], row)) for row in table.rows]}
                           for key in table.chart.series],
            }
    return tables, charts


def _script_json(data: Any) -> str:
    # JSON inside <script type="application/json">: no '<' or '>' that could end the element early.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


@router.get("")
def report_page(request: Request, session: SessionDep, visit: Reader, union: UnionQ = "", year: YearQ = "",
                from_: Annotated[str, Query(alias="from", max_length=10)] = "", to: DateQ = ""):
    """The federation report of a union in the person's scope for a year (or from/to): tables, charts, downloads.

    With no year and no range, this year; with no union, the person's own (an administrator's: the root).
    A union outside the person's subtree is shown as unknown, at the union field.
    """
    union = union.strip() or _default_union(session, visit)
    if not (year.strip() or from_.strip() or to.strip()):
        year = str(china_today().year)
    report, error = attempt(session, lambda: _report(session, visit, union, year, from_, to))
    tables, charts = view(report, locale_of(request)) if report is not None else ([], {})
    query = {"union": union, "year": year, "from": from_, "to": to}
    return render(request, "reports/federation.html", status=error.status if error else 200, report=report,
                  tables=tables, chart_data=_script_json(charts), values=query, assets=ASSETS,
                  errors=_errors(error) if error else {},
                  download_query=urlencode({k: v for k, v in query.items() if v}))


@router.get("/export")
def export(request: Request, session: SessionDep, visit: Reader, union: UnionQ = "", year: YearQ = "",
           from_: Annotated[str, Query(alias="from", max_length=10)] = "", to: DateQ = "",
           answer_format: Annotated[str, Query(alias="format", max_length=8)] = "xlsx"):
    """The report as the Excel workbook (``format=xlsx``) or CSV (``format=csv``), the API's same files."""
    if answer_format not in DOWNLOADS:
        raise Invalid.at("format", f"is one of {', '.join(DOWNLOADS)}")
    union = union.strip() or _default_union(session, visit)
    if not (year.strip() or from_.strip() or to.strip()):
        year = str(china_today().year)
    report = _report(session, visit, union, year, from_, to)
    media, write = DOWNLOADS[answer_format]
    name = (f"federation-{re.sub(r'[^A-Za-z0-9_-]', '_', report.union.id)}-"
            f"{report.period.start.isoformat()}-{report.period.end.isoformat()}.{answer_format}")
    return Response(write(report), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
