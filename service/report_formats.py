"""The federation report as CSV, an Excel workbook and a printable HTML page.

Each format prints the tables ``service.reports`` built, with the labels of
``service.report_labels`` (Chinese / English). What a cell may hold is text a union
officer typed (a union's name): CSV and Excel cells never start a formula, and the
HTML page escapes everything and runs only the app's own scripts (a Content Security
Policy says so to the browser).
"""

from __future__ import annotations

import csv
import html
import io
import json
from decimal import Decimal
from typing import Any

from service import report_labels as L
from service.csv_files import formula_safe
from service.reports import COUNT, DAYS, PERCENT, TEXT, YUAN, Coded, Percent, Report, Table, as_json, plain

ASSETS = "/v1/reports/assets"
# The HTML page's policy: its own scripts and styles only; no other origin, no inline script.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def bilingual(label: L.Label) -> str:
    return label.zh if label.zh == label.en else f"{label.zh} / {label.en}"


def _kind(table: Table, column, row: dict[str, Any]) -> str:
    return row.get("kind", TEXT) if column.kind == "by_row" else column.kind


def _text(value: Any, kind: str) -> str:
    shown = plain(value, kind)
    if shown is None:
        return ""
    if isinstance(value, Coded):
        return bilingual(value.label)
    return str(shown)


def _rows(table: Table) -> list[dict[str, Any]]:
    return [*table.rows, *([table.total] if table.total is not None else [])]


# ----------------------------------------------------------------------------- CSV


def as_csv(report: Report) -> bytes:
    """Every table one after another (title, header, rows, total), UTF-8 with a BOM so Excel reads the Chinese."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([formula_safe(bilingual(L.REPORT))])
    writer.writerow([formula_safe(bilingual(L.UNION)), formula_safe(f"{report.union.name} ({report.union.id})")])
    writer.writerow([formula_safe(bilingual(L.PERIOD)), report.period.start.isoformat(), report.period.end.isoformat()])
    for table in report.tables:
        writer.writerow([])
        writer.writerow([formula_safe(bilingual(table.title))])
        writer.writerow([formula_safe(bilingual(c.label)) for c in table.columns])
        for row in _rows(table):
            writer.writerow([formula_safe(_text(row.get(c.key), _kind(table, c, row))) for c in table.columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# ----------------------------------------------------------------------------- Excel


NUMBER_FORMATS = {YUAN: "#,##0.00", PERCENT: "0.00%", COUNT: "#,##0", DAYS: "0.0"}


def _excel_value(value: Any, kind: str) -> Any:
    """A cell's value for Excel: yuan as exact decimals, percentages as exact ratios, text as text."""
    if value is None:
        return None
    if isinstance(value, Coded):
        return bilingual(value.label)
    if kind == YUAN:
        return Decimal(value) / 100
    if kind == PERCENT and isinstance(value, Percent):
        return Decimal(value.num) / Decimal(value.den)
    if kind == DAYS:
        return Decimal(value)
    if kind == COUNT:
        return int(value)
    return str(value)


def as_xlsx(report: Report) -> bytes:
    """One sheet per table, yuan as #,##0.00 and percentages as 0.00%, a native chart beside each main breakdown."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, PieChart, Reference
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for table in report.tables:
        sheet = book.create_sheet(table.key[:31])
        _put(sheet.cell(1, 1), bilingual(table.title)).font = Font(bold=True, size=13)
        _put(sheet.cell(2, 1), f"{report.union.name} ({report.union.id})  "
                               f"{report.period.start.isoformat()} – {report.period.end.isoformat()}")
        header = 3
        for j, column in enumerate(table.columns, start=1):
            _put(sheet.cell(header, j), bilingual(column.label)).font = bold
            sheet.column_dimensions[sheet.cell(header, j).column_letter].width = 18 if column.kind != TEXT else 28
        for i, row in enumerate(_rows(table), start=header + 1):
            for j, column in enumerate(table.columns, start=1):
                kind = _kind(table, column, row)
                cell = sheet.cell(i, j)
                value = _excel_value(row.get(column.key), kind)
                if isinstance(value, str):
                    _put(cell, value)
                else:
                    cell.value = value
                if kind in NUMBER_FORMATS:
                    cell.number_format = NUMBER_FORMATS[kind]
                if row is table.total:
                    cell.font = bold
        sheet.freeze_panes = sheet.cell(header + 1, 1)
        if table.chart and table.rows:
            first, last = header + 1, header + len(table.rows)  # the total row is not drawn
            keys = [c.key for c in table.columns]
            chart = {"bar": BarChart, "pie": PieChart, "line": LineChart}[table.chart.kind]()
            chart.title = bilingual(table.title)
            for key in table.chart.series:
                col = keys.index(key) + 1
                chart.add_data(Reference(sheet, min_col=col, min_row=header, max_row=last), titles_from_data=True)
            cat = keys.index(table.chart.category) + 1
            chart.set_categories(Reference(sheet, min_col=cat, min_row=first, max_row=last))
            chart.width, chart.height = 22, 11
            sheet.add_chart(chart, sheet.cell(header, len(keys) + 2).coordinate)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _put(cell, text: str):
    """Text into a cell as text: openpyxl takes a string starting with '=' for a formula otherwise."""
    cell.value = text
    cell.data_type = "s"
    return cell


# ----------------------------------------------------------------------------- HTML


def _chart_data(report: Report) -> dict[str, Any]:
    """What report.js draws: per chart, its kind, category labels and series of numbers."""
    charts = {}
    for table in report.tables:
        if not table.chart or not table.rows:
            continue
        columns = {c.key: c for c in table.columns}
        series = []
        for key in table.chart.series:
            kind = columns[key].kind
            values = []
            for row in table.rows:
                value = row.get(key)
                values.append(None if value is None else float(_excel_value(value, kind)) * (100 if kind == PERCENT else 1))
            series.append({"label": bilingual(columns[key].label), "values": values})
        labels = [_text(row.get(table.chart.category), TEXT) for row in table.rows]
        charts[table.key] = {"kind": table.chart.kind, "labels": labels, "series": series}
    return charts


def as_html(report: Report) -> str:
    """A printable page: every table, and a chart (Chart.js, served by this app) above each main breakdown."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(bilingual(L.REPORT))} – {e(report.union.name)}</title>",
        f'<link rel="stylesheet" href="{ASSETS}/report.css">',
        f'<script src="{ASSETS}/chart.umd.js" defer></script>',
        f'<script src="{ASSETS}/report.js" defer></script>',
        "</head><body>",
        f"<h1>{e(L.REPORT.zh)}<br><small>{e(L.REPORT.en)}</small></h1>",
        f'<p class="meta">{e(bilingual(L.UNION))}: {e(report.union.name)} ({e(report.union.id)}) · '
        f"{e(bilingual(L.PERIOD))}: {report.period.start.isoformat()} – {report.period.end.isoformat()}</p>",
    ]
    for table in report.tables:
        parts.append(f'<section id="{e(table.key)}"><h2>{e(table.title.zh)} <small>{e(table.title.en)}</small></h2>')
        if table.chart and table.rows:
            parts.append(f'<div class="chart"><canvas data-chart="{e(table.key)}"></canvas></div>')
        parts.append("<table><thead><tr>")
        parts.extend(f"<th>{e(c.label.zh)}<br><small>{e(c.label.en)}</small></th>" for c in table.columns)
        parts.append("</tr></thead><tbody>")
        for row in _rows(table):
            css = ' class="total"' if row is table.total else ""
            cells = []
            for c in table.columns:
                kind = _kind(table, c, row)
                text = _text(row.get(c.key), kind)
                if kind == PERCENT and text:
                    text += "%"
                elif kind == YUAN and text:
                    text = f"{Decimal(text):,}"  # 1,234,567.89 on paper
                cells.append(f'<td class="{kind}">{e(text)}</td>')
            parts.append(f"<tr{css}>{''.join(cells)}</tr>")
        parts.append("</tbody></table></section>")
    # Data for the charts, as JSON no HTML parser can end early ('<' escaped).
    data = json.dumps(_chart_data(report), ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    parts.append(f'<script type="application/json" id="report-data">{data}</script>')
    parts.append("</body></html>")
    return "\n".join(parts)

