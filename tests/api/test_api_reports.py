"""The federation report: every figure agrees with an independent count of a known history.

``history`` builds, on each database, members in three unions of the cast's tree, the
hardship register, claims through the API (one pended and reviewed), and the money
through ``service.ledger.post`` in the shapes the money branch writes (contributions,
allocations, charges per line, CIR split by source, a reduced charge reversed and
charged again, payments). The test then counts every figure with plain Python over
what it made and compares it with the report, and compares the report's money with
the ledger's own sums.

No cancellation route exists on main yet: the reduced decision (a reversal and a new
charge) stands in for it, and a cancelled settlement should be added here when the
money branch brings one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import statistics
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.dates import china_today
from claims.funding import DEFAULT_FUNDING, relief_shares
from claims.money import format_fen, parse_yuan
from service import ledger, reports
from service.ledger import Leg
from store import models
from store.db import session_factory
from tests.api.builders import (
    HIGH_B, LUNG_CANCER, PNEUMONIA, YEAR, auth, create_hospital, create_member, enroll, post_settlement,
    register_hardship, review, submit_claim,
)

LEAGUE = {"U1": "L1", "L1": "L1", "U2": "L2", "C2": "L2"}


@dataclass
class History:
    """What the test made, to count by hand."""

    union: dict[str, str] = field(default_factory=dict)  # member -> union
    enrolled: list[tuple[str, int]] = field(default_factory=list)  # (member, year)
    register: dict[str, tuple[str, bool, bool]] = field(default_factory=dict)  # member -> (category, verified, active)
    claims: dict[int, dict] = field(default_factory=dict)  # claim id -> {member, submitted_on, grade, icd}
    charges: list[dict] = field(default_factory=list)  # {member, claim, line, benefit, fen, on, sources}
    paid: dict[int, dt.date] = field(default_factory=dict)  # claim -> first paid
    contributions: list[tuple[str, dt.date, int, int]] = field(default_factory=list)  # member, on, members, subsidy
    allocations: list[tuple[str, str | None, int, dt.date]] = field(default_factory=list)  # source, league, fen, on


def _line_ids(s: Session, claim_id: int) -> dict[str, int]:
    return dict(s.execute(select(models.DecisionLine.benefit, models.DecisionLine.id)
                          .where(models.DecisionLine.claim_id == claim_id)).all())


def _charge(s: Session, h: History, member: str, claim: int, line: int, benefit: str, fen: int, on: dt.date) -> int:
    league = LEAGUE[h.union[member]]
    payable = Leg(ledger.PAYABLE_MEMBERS, -fen, member_id=member, claim_id=claim, line_id=line)
    if benefit == "CIR":
        parts = relief_shares(fen, DEFAULT_FUNDING.relief_shares) if fen > 0 else \
            [(src, -part) for src, part in relief_shares(-fen, DEFAULT_FUNDING.relief_shares)]
        legs = [Leg(ledger.benefit_expense_account("CIR", src), part, fund_source=src, fund_year=on.year,
                    league_id=league) for src, part in parts]
    else:
        parts = []
        legs = [Leg(ledger.benefit_expense_account(benefit), fen, fund_source="contributions", fund_year=on.year,
                    league_id=league)]
    h.charges.append({"member": member, "claim": claim, "line": line, "benefit": benefit, "fen": fen, "on": on,
                      "sources": dict(parts), "league": league})
    return ledger.post(s, "line.approved", [*legs, payable], ref=f"line:{line}", booked_on=on)


def build_history(client: TestClient, cast, db) -> History:
    h = History(union={"M1": "U1", "M2": "U1", "M3": "U2"})
    admin = cast.admin
    create_hospital(client, admin, "H3", grade="05")
    for member, union in (("M4", "U2"), ("M5", "L1"), ("M6", "U1")):
        create_member(client, admin, member, union_id=union)
        h.union[member] = union
    for member in ("M1", "M2", "M3"):
        h.enrolled += [(member, YEAR - 1), (member, YEAR)]
    for member, years in (("M4", [YEAR]), ("M5", [YEAR]), ("M6", [YEAR - 1])):
        for year in years:
            enroll(client, admin, member, year)
            h.enrolled.append((member, year))

    register_hardship(client, admin, "M1", category="dibao")
    register_hardship(client, admin, "M2", category="near_dibao", verified=False)
    register_hardship(client, admin, "M3", category="near_dibao")
    register_hardship(client, admin, "M4", category="accident")
    revoked = register_hardship(client, admin, "M5", category="dibao")
    answer = client.post(f"/v1/hardship/{revoked['id']}/revoke", json={"revoked_on": f"{YEAR}-03-01"},
                         headers=auth(admin))
    assert answer.status_code == 200, answer.text
    h.register = {"M1": ("dibao", True, True), "M2": ("near_dibao", False, True), "M3": ("near_dibao", True, True),
                  "M4": ("accident", True, True), "M5": ("dibao", True, False)}

    def claim(member: str, icd: str, b: str, submitted: str, *, hospital: str = "H1", grade: str = "02",
              begndate: str = f"{YEAR}-05-02", enddate: str = f"{YEAR}-05-12") -> dict:
        posted = post_settlement(client, admin, patient=member, b=b, diag_code=icd, fixmedins_code=hospital,
                                 hosp_lv=grade, begndate=begndate, enddate=enddate)
        made = submit_claim(client, admin, member, posted["id"], submitted_on=submitted)
        h.claims[made["id"]] = {"member": member, "submitted_on": dt.date.fromisoformat(submitted), "grade": grade,
                                "icd": icd}
        return made

    c1 = claim("M1", LUNG_CANCER, "20000.00", f"{YEAR}-06-30")
    c2 = claim("M3", LUNG_CANCER, "8000.00", f"{YEAR}-07-15", hospital="H3", grade="05")
    c3 = claim("M2", PNEUMONIA, HIGH_B, f"{YEAR}-06-20")
    c3 = review(client, admin, c3["id"], {"benefit": "MA_IP", "action": "approve", "note": "核实无误"},
                {"benefit": "MA_DA", "action": "approve", "note": "核实无误"})
    c4 = claim("M4", PNEUMONIA, "3000.00", f"{YEAR}-08-20", hospital="H3", grade="05",
               begndate=f"{YEAR}-08-01", enddate=f"{YEAR}-08-05")
    c0 = claim("M1", PNEUMONIA, "5000.00", f"{YEAR - 1}-10-20", begndate=f"{YEAR - 1}-10-01",
               enddate=f"{YEAR - 1}-10-05")  # received the year before: in no figure of YEAR
    assert [ln["status"] for ln in c3["lines"] if ln["benefit"] in ("MA_IP", "MA_DA")] == ["approved", "approved"]
    assert parse_yuan(next(ln for ln in c1["lines"] if ln["benefit"] == "CIR")["amount"]) > 0
    assert parse_yuan(next(ln for ln in c2["lines"] if ln["benefit"] == "CIR")["amount"]) > 0

    today = china_today()
    with session_factory(db)() as s:
        for member, year in h.enrolled:
            on = dt.date(year, 1, 5)
            league = LEAGUE[h.union[member]]
            ledger.post(s, "contribution.received", [
                Leg(ledger.BANK_MUTUAL_AID, 10000),
                Leg(ledger.CONTRIBUTIONS_MEMBERS, -9000, "contributions", year, league, member),
                Leg(ledger.CONTRIBUTIONS_UNION_SUBSIDY, -1000, "union_subsidy", year, league, member)],
                ref=f"enrollment:{member}:{year}", booked_on=on)
            h.contributions.append((member, on, 9000, 1000))
        for source, league, fen, on in (("central", None, 100_000_000, dt.date(YEAR, 2, 1)),
                                        ("region", None, 50_000_000, dt.date(YEAR, 2, 1)),
                                        ("league", "L1", 20_000_000, dt.date(YEAR, 2, 3)),
                                        ("league", "L2", 10_000_000, dt.date(YEAR, 2, 3)),
                                        ("central", None, 7_000_000, dt.date(YEAR - 1, 2, 1))):
            ledger.post(s, "allocation.received", [
                Leg(ledger.BANK_RELIEF, fen),
                Leg(ledger.allocation_account(source, league), -fen, source, on.year, league)],
                ref=f"allocation:{source}:{league}:{on}", booked_on=on)
            h.allocations.append((source, league, fen, on))
        reduced = None
        for made in (c1, c2, c3, c4, c0):
            ids = _line_ids(s, made["id"])
            on = h.claims[made["id"]]["submitted_on"]
            for ln in made["lines"]:
                fen = parse_yuan(ln["amount"])
                if ln["status"] == "approved" and fen > 0:
                    entry = _charge(s, h, made["member_id"], made["id"], ids[ln["benefit"]], ln["benefit"], fen, on)
                    if made is c4 and ln["benefit"] == "MA_IP":
                        reduced = (entry, ln, ids[ln["benefit"]], fen)
        # A decision reduced before payment: the charge reversed, half of it charged again.
        entry, ln, line_id, fen = reduced
        ledger.reverse(s, entry, "line.reduced", ref=f"line:{line_id}", booked_on=dt.date(YEAR, 9, 1))
        h.charges.append({"member": "M4", "claim": c4["id"], "line": line_id, "benefit": "MA_IP", "fen": -fen,
                          "on": dt.date(YEAR, 9, 1), "sources": {}, "league": "L2"})
        _charge(s, h, "M4", c4["id"], line_id, "MA_IP", fen // 2, dt.date(YEAR, 9, 1))
        # Payments: claims 1, 2 and 3 paid 3, 10 and 20 days after today (the day they were decided).
        for made, days in ((c1, 3), (c2, 10), (c3, 20)):
            paid_on = today + dt.timedelta(days=days)
            legs = []
            for c in h.charges:
                if c["claim"] == made["id"]:
                    legs += [Leg(ledger.PAYABLE_MEMBERS, c["fen"], member_id=c["member"], claim_id=c["claim"],
                                 line_id=c["line"]),
                             Leg(ledger.bank_account_for(DEFAULT_FUNDING.fund_of(c["benefit"])), -c["fen"])]
            ledger.post(s, reports.PAID_EVENT, legs, ref=f"item:{made['id']}", booked_on=paid_on)
            h.paid[made["id"]] = paid_on
        s.commit()
    return h


# ----------------------------------------------------------------------------- the independent count


def pct(num: int, den: int) -> str | None:
    if not den:
        return None
    return str((Decimal(num * 100) / Decimal(den)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def avg(total: int, n: int) -> str:
    return format_fen(int((Decimal(total) / n).quantize(Decimal("1"), rounding=ROUND_HALF_UP)) if n else 0)


def expected(h: History, members_in: set[str], root_is_tree_root: bool, leagues_in: set[str]) -> dict:
    start, end = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)
    inside = lambda d: start <= d <= end  # noqa: E731
    charges = [c for c in h.charges if c["member"] in members_in and inside(c["on"])]
    line_net: dict[int, int] = defaultdict(int)
    line_of: dict[int, dict] = {}
    for c in charges:
        line_net[c["line"]] += c["fen"]
        line_of[c["line"]] = c
    lines = {ln: fen for ln, fen in line_net.items() if fen}
    ma = {ln: fen for ln, fen in lines.items() if line_of[ln]["benefit"] != "CIR"}
    relief_by_member: dict[str, int] = defaultdict(int)
    relief_by_source: dict[str, int] = defaultdict(int)
    for c in charges:
        if c["benefit"] == "CIR":
            relief_by_member[c["member"]] += c["fen"]
            for src, part in c["sources"].items():
                relief_by_source[src] += part
    contributions = sum(m + u for member, on, m, u in h.contributions if member in members_in and inside(on))
    received = [cid for cid, c in h.claims.items() if c["member"] in members_in and inside(c["submitted_on"])]
    active = {m: r for m, r in h.register.items() if m in members_in and r[2]}
    today = china_today()
    decided = sorted((today - h.claims[c]["submitted_on"]).days for c in received)
    to_paid = sorted((h.paid[c] - today).days for c in received if c in h.paid)
    whole = sorted((h.paid[c] - h.claims[c]["submitted_on"]).days for c in received if c in h.paid)
    allocated = sum(fen for src, league, fen, on in h.allocations if inside(on)
                    and ((league is None and root_is_tree_root) or league in leagues_in))
    return {
        "households": len(active),
        "by_category": {cat: sum(1 for r in active.values() if r[0] == cat)
                        for cat in ("dibao", "dibao_unenrolled", "near_dibao", "accident")},
        "verified": sum(1 for r in active.values() if r[1]),
        "helped": {m for m, fen in relief_by_member.items() if fen},
        "relief": sum(relief_by_member.values()),
        "relief_by_source": dict(relief_by_source),
        "members_enrolled": len({m for m, y in h.enrolled if m in members_in and y == YEAR}),
        "member_periods": sum(1 for m, y in h.enrolled if m in members_in and y == YEAR),
        "contributions": contributions,
        "claims": len(received),
        "ma_payouts": len(ma), "ma_paid": sum(ma.values()), "ma_largest": max(ma.values(), default=0),
        "by_benefit": {b: [fen for ln, fen in lines.items() if line_of[ln]["benefit"] == b]
                       for b in ("MA_IP", "MA_DA", "MA_CI", "CIR")},
        "lines": lines, "line_of": line_of,
        "stages": {"received_decided": decided, "decided_paid": to_paid, "received_paid": whole},
        "allocated": allocated,
    }


def get_report(client: TestClient, key: str, union: str, **params) -> dict:
    asked = {k: v for k, v in {"union": union, "year": YEAR, **params}.items() if v is not None}
    answer = client.get("/v1/reports/federation", params=asked, headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer.json()


def table(report: dict, key: str) -> dict:
    return next(t for t in report["tables"] if t["key"] == key)


def rows_by(t: dict, column: str) -> dict[str, dict]:
    return {r[column]["code"] if isinstance(r[column], dict) else r[column]: r for r in t["rows"]}


def nearest_rank_p90(values: list[int]) -> str | None:
    return str(sorted(values)[math.ceil(0.9 * len(values)) - 1]) if values else None


def median_text(values: list[int]) -> str | None:
    return str(Decimal(str(statistics.median(values))).quantize(Decimal("0.1"))) if values else None


def check(report: dict, e: dict, h: History) -> None:
    register = rows_by(table(report, "hardship_register"), "category")
    for cat, n in e["by_category"].items():
        assert register[cat]["households"] == n
        assert register[cat]["share"] == pct(n, e["households"])
        assert register[cat]["verified"] == sum(1 for m, r in h.register.items() if r[0] == cat and r[1] and r[2]
                                                and m in e["members_in"])
    assert table(report, "hardship_register")["total"]["households"] == e["households"]
    assert table(report, "hardship_register")["total"]["verified"] == e["verified"]
    assert table(report, "hardship_by_union")["total"]["households"] == e["households"]

    by_category = table(report, "relief_by_category")
    assert by_category["total"]["households_helped"] == len(e["helped"])
    assert by_category["total"]["relief_paid"] == format_fen(e["relief"])
    for cat, row in rows_by(by_category, "category").items():
        mine = [m for m in e["helped"] if h.register.get(m, ("",))[0] == cat]
        assert row["households_helped"] == len(mine)
    by_source = rows_by(table(report, "relief_by_source"), "source")
    for src in ("central", "region", "league", "charity"):
        assert by_source[src]["relief_paid"] == format_fen(e["relief_by_source"].get(src, 0))
    assert table(report, "relief_by_union")["total"]["relief_paid"] == format_fen(e["relief"])

    ma = table(report, "mutual_aid_by_union")["total"]
    assert ma["members_enrolled"] == e["members_enrolled"]
    assert ma["member_periods"] == e["member_periods"]
    assert ma["contributions"] == format_fen(e["contributions"])
    assert ma["claims"] == e["claims"]
    assert ma["payouts"] == e["ma_payouts"]
    assert ma["paid"] == format_fen(e["ma_paid"])
    assert ma["average_payout"] == avg(e["ma_paid"], e["ma_payouts"])
    assert ma["largest_payout"] == format_fen(e["ma_largest"])
    assert ma["loss_ratio"] == pct(e["ma_paid"], e["contributions"])

    benefits = rows_by(table(report, "payouts_by_benefit"), "benefit")
    for b, amounts in e["by_benefit"].items():
        assert benefits[b]["payouts"] == len(amounts), b
        assert benefits[b]["paid"] == format_fen(sum(amounts)), b
        assert benefits[b]["largest_payout"] == format_fen(max(amounts, default=0)), b

    disease = rows_by(table(report, "payouts_by_disease"), "disease_code")
    lung = [ln for ln, c in e["line_of"].items() if ln in e["lines"] and c["benefit"] in ("CIR", "MA_CI")
            and h.claims[c["claim"]]["icd"] == LUNG_CANCER]
    assert disease["CI01"]["paid"] == format_fen(sum(e["lines"][ln] for ln in lung))
    assert disease["CI01"]["cir_payouts"] + disease["CI01"]["ci_payouts"] == len(lung)
    assert table(report, "payouts_by_disease")["total"]["paid"] == format_fen(sum(e["lines"][ln] for ln in lung))

    months: dict[str, int] = defaultdict(int)
    grades: dict[str, int] = defaultdict(int)
    for ln, fen in e["lines"].items():
        c = e["line_of"][ln]
        first = min(x["on"] for x in e["all_charges"] if x["line"] == ln and x["on"].year == YEAR)
        months[f"{first:%Y-%m}"] += fen
        grades[h.claims[c["claim"]]["grade"]] += fen
    assert {k: r["paid"] for k, r in rows_by(table(report, "payouts_by_month"), "month").items()} == \
        {k: format_fen(v) for k, v in months.items()}
    assert {k: r["paid"] for k, r in rows_by(table(report, "payouts_by_grade"), "grade").items()} == \
        {k: format_fen(v) for k, v in grades.items()}

    stages = rows_by(table(report, "processing_times"), "stage")
    for stage, values in e["stages"].items():
        assert stages[stage]["claims"] == len(values), stage
        assert stages[stage]["median_days"] == median_text(values), stage
        assert stages[stage]["p90_days"] == nearest_rank_p90(values), stage

    summary = rows_by(table(report, "summary"), "figure")
    assert summary["households"]["value"] == e["households"]
    assert summary["relief_paid"]["value"] == format_fen(e["relief"])
    assert summary["contributions"]["value"] == format_fen(e["contributions"])
    assert summary["allocations"]["value"] == format_fen(e["allocated"])


@pytest.fixture
def history(client, cast, db) -> History:
    return build_history(client, cast, db)


def _expected_for(h: History, unions: set[str], root: bool, leagues: set[str]) -> dict:
    members = {m for m, u in h.union.items() if u in unions}
    e = expected(h, members, root, leagues)
    e["members_in"] = members
    e["all_charges"] = h.charges
    return e


def test_every_figure_of_the_region_report_agrees_with_a_count_of_what_was_made(client, cast, db, history) -> None:
    report = get_report(client, cast.admin, "R")
    e = _expected_for(history, {"R", "L1", "L2", "C2", "U1", "U2"}, True, {"L1", "L2"})
    check(report, e, history)
    # By the unions beneath: the leagues, each rolling up its subtree.
    ma = rows_by(table(report, "mutual_aid_by_union"), "union")
    assert set(ma) == {"L1", "L2"}
    assert ma["L1"]["members_enrolled"] == 3  # M1, M2 (U1) and M5 (L1's own); M6 was enrolled the year before
    assert ma["L2"]["claims"] == 2
    assert table(report, "hardship_register")["total"]["share"] == "100.00"


def test_a_league_report_counts_its_subtree_and_only_its_own_league_money(client, cast, db, history) -> None:
    report = get_report(client, cast.finance_league, "L1")
    e = _expected_for(history, {"L1", "U1"}, False, {"L1"})
    check(report, e, history)
    assert set(rows_by(table(report, "mutual_aid_by_union"), "union")) == {"L1", "U1"}  # its own members, then U1
    funds = {(r["source"]["code"], r["league"]): r for r in table(report, "fund_statements")["rows"]}
    assert funds[("league", "L1")]["received"] == "200000.00"
    assert ("league", "L2") not in funds
    assert funds[("central", "")]["received"] is None  # region-wide money is the root's to report


def test_a_county_officer_sees_the_county_subtree(client, cast, db, history) -> None:
    report = get_report(client, cast.officer_county, "C2")
    check(report, _expected_for(history, {"C2", "U2"}, False, set()), history)


def test_report_money_equals_the_ledgers_sums(client, cast, db, history) -> None:
    report = get_report(client, cast.admin, "R")
    with session_factory(db)() as s:
        sums = reports.ledger_totals(s, reports.Period(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)))
    assert sums["relief"] > 0 and sums["mutual_aid"] > 0
    assert table(report, "relief_by_source")["total"]["relief_paid"] == format_fen(sums["relief"])
    ma_paid = sum(parse_yuan(r["paid"]) for r in table(report, "payouts_by_benefit")["rows"]
                  if r["benefit"]["code"] != "CIR")
    assert ma_paid == sums["mutual_aid"]
    assert table(report, "payouts_by_benefit")["total"]["paid"] == format_fen(sums["relief"] + sums["mutual_aid"])
    assert table(report, "mutual_aid_by_union")["total"]["contributions"] == format_fen(sums["contributions"])
    funds = table(report, "fund_statements")
    assert sum(parse_yuan(r["received"]) for r in funds["rows"]
               if r["source"]["code"] not in ("contributions", "union_subsidy")) == sums["allocations"]


def test_a_range_counts_what_the_range_holds(client, cast, db, history) -> None:
    both = get_report(client, cast.admin, "R", year=None, **{"from": f"{YEAR - 1}-01-01", "to": f"{YEAR}-12-31"})
    assert both["period"] == {"from": f"{YEAR - 1}-01-01", "to": f"{YEAR}-12-31"}
    assert table(both, "mutual_aid_by_union")["total"]["claims"] == len(history.claims)
    assert table(both, "mutual_aid_by_union")["total"]["member_periods"] == len(history.enrolled)


# ----------------------------------------------------------------------------- scope and bad input


def test_scoped_callers_see_their_subtree_only(client, cast) -> None:
    def status(key: str, union: str) -> int:
        return client.get("/v1/reports/federation", params={"union": union, "year": YEAR}, headers=auth(key)).status_code

    assert status(cast.finance, "R") == 200
    assert status(cast.finance_league, "L1") == 200 and status(cast.finance_league, "U1") == 200
    assert status(cast.finance_league, "L2") == 404 and status(cast.finance_league, "R") == 404
    assert status(cast.finance_other, "U1") == 404 and status(cast.finance_other, "U2") == 200
    assert status(cast.officer_league, "U2") == 404
    assert status(cast.officer, "L1") == 404  # the union above is outside an officer's subtree
    unknown = client.get("/v1/reports/federation", params={"union": "NOPE", "year": YEAR}, headers=auth(cast.officer))
    hidden = client.get("/v1/reports/federation", params={"union": "U2", "year": YEAR}, headers=auth(cast.officer))
    assert unknown.json()["detail"].replace("NOPE", "U2") == hidden.json()["detail"]
    assert status(cast.member, "U1") == 403 and status(cast.hospital, "U1") == 403


@pytest.mark.parametrize("params, field", [
    ({"year": YEAR, "from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}, "year"),
    ({"from": f"{YEAR}-06-01", "to": f"{YEAR}-01-01"}, "from"),
    ({"from": f"{YEAR - 5}-01-01", "to": f"{YEAR}-01-01"}, "to"),
    ({"from": f"{YEAR}-01-01"}, "to"),
    ({"to": f"{YEAR}-01-01"}, "from"),
    ({}, "year"),
    ({"year": YEAR, "format": "pdf"}, "format"),
])
def test_bad_input_is_refused_naming_the_field(client, cast, session, params, field) -> None:
    before = session.scalar(select(func.count()).select_from(models.AuditEntry))
    answer = client.get("/v1/reports/federation", params={"union": "R", **params}, headers=auth(cast.admin))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert session.scalar(select(func.count()).select_from(models.AuditEntry)) == before


def test_a_range_of_five_years_less_a_day_is_taken(client, cast) -> None:
    answer = client.get("/v1/reports/federation", params={"union": "R", "from": f"{YEAR - 4}-01-01",
                                                          "to": f"{YEAR}-12-31"}, headers=auth(cast.admin))
    assert answer.status_code == 200, answer.text


def test_shares_are_percentages_rounded_half_up() -> None:
    # The federation's own figures: 480, 233, 4,331 and 2,153 of 7,197 households.
    assert [str(reports.Percent(n, 7197)) for n in (480, 233, 4331, 2153)] == ["6.67", "3.24", "60.18", "29.92"]
    assert str(reports.Percent(1, 8)) == "12.50" and str(reports.Percent(1, 800)) == "0.13"  # 0.125 → 0.13


# ----------------------------------------------------------------------------- formats


EVIL = "=HYPERLINK(\"http://evil.example\",\"x\")<script>alert(1)</script>"


def _evil_union(client: TestClient, cast) -> None:
    answer = client.post("/v1/unions", json={"id": "U9", "name": EVIL, "parent_id": "R", "level": "league"},
                         headers=auth(cast.admin))
    assert answer.status_code == 201, answer.text
    create_member(client, cast.admin, "M9", union_id="U9")
    enroll(client, cast.admin, "M9", YEAR)


def test_csv_cells_never_start_a_formula(client, cast, history) -> None:
    _evil_union(client, cast)
    answer = client.get("/v1/reports/federation", params={"union": "R", "year": YEAR, "format": "csv"},
                        headers=auth(cast.admin))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    for c in cells:
        if c[:1] in ("=", "+", "-", "@"):
            Decimal(c)  # only a plain number may start so
    assert "低保户" in text and "Hardship register by category" in text


def test_the_workbook_opens_with_a_sheet_per_table_number_formats_and_charts(client, cast, history) -> None:
    from openpyxl import load_workbook

    _evil_union(client, cast)
    answer = client.get("/v1/reports/federation", params={"union": "R", "year": YEAR, "format": "xlsx"},
                        headers=auth(cast.admin))
    assert answer.status_code == 200, answer.text
    book = load_workbook(io.BytesIO(answer.content))
    json_report = get_report(client, cast.admin, "R")
    assert book.sheetnames == [t["key"] for t in json_report["tables"]]
    sheet = book["mutual_aid_by_union"]
    headers = [c.value for c in sheet[3]]
    contributions = headers.index("互助金收入（元） / Contributions (yuan)") + 1
    ratio = headers.index("赔付率（%） / Loss ratio (payouts ÷ contributions, %)") + 1
    assert sheet.cell(4, contributions).number_format == "#,##0.00"
    assert sheet.cell(4, ratio).number_format == "0.00%"
    total_row = sheet.max_row
    assert Decimal(str(sheet.cell(total_row, contributions).value)) == \
        Decimal(table(json_report, "mutual_aid_by_union")["total"]["contributions"])
    names = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(n.startswith("=HYPERLINK") for n in names)  # kept as text...
    assert all(c.data_type != "f" for ws in book for row in ws.iter_rows() for c in row)  # ...never a formula
    with zipfile.ZipFile(io.BytesIO(answer.content)) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        xml = "".join(z.read(n).decode() for n in charts)
    assert len(charts) >= 8
    assert "<barChart>" in xml and "<pieChart>" in xml and "<lineChart>" in xml


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts: list[dict] = []

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("src", "href", "action", "srcset", "data") and v]
        if tag == "script" and "src" not in a:
            self.inline_scripts.append(a)


def test_the_html_page_loads_only_the_apps_own_assets(client, cast, history) -> None:
    _evil_union(client, cast)
    answer = client.get("/v1/reports/federation", params={"union": "R", "year": YEAR, "format": "html"},
                        headers=auth(cast.admin))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page = answer.text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    parser = _Refs()
    parser.feed(page)
    assert parser.refs and all(r.startswith("/") and not r.startswith("//") for r in parser.refs), parser.refs
    assert parser.inline_scripts == [{"type": "application/json", "id": "report-data"}]
    for ref in parser.refs:
        asset = client.get(ref)  # no key: the page's files are public
        assert asset.status_code == 200, ref
    chart = client.get("/v1/reports/assets/chart.umd.js")
    assert chart.headers["content-type"].startswith("text/javascript") and b"Chart.js v4" in chart.content[:200]
    assert 'data-chart="payouts_by_benefit"' in page
    assert client.get("/v1/reports/assets/..%2Fdeps.py").status_code == 404


def test_the_report_rows_kept_by_each_posting_are_those_made_again_from_the_ledger(client, cast, db, history) -> None:
    from service import report_facts

    tables = (models.ReportCharge, models.ReportRelief, models.ReportPayment, models.ReportMoney)

    def rows() -> dict[str, list[tuple]]:
        with session_factory(db)() as s:
            out = {}
            for model in tables:
                columns = [c for c in model.__table__.columns if c.name != "id"]
                out[model.__tablename__] = sorted(tuple(r) for r in s.execute(select(*columns)))
            return out

    kept = rows()
    assert all(kept.values()), {k: len(v) for k, v in kept.items()}
    with session_factory(db)() as s:
        report_facts.rebuild(s)
        s.commit()
    assert rows() == kept
    with session_factory(db)() as s:  # twice: the same again
        report_facts.rebuild(s)
        s.commit()
    assert rows() == kept
