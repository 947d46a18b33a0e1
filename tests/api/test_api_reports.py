"""The federation report: every figure agrees with an independent count of a known history.

``history`` builds, on each database, a known history through the API only, as the
services write it: enrollments (each books its contribution), the hardship register,
relief allocations (central, region, league L1 before the claims; league L2 after one
of L2's relief lines waited with FUND_EXHAUSTED), claims with CIR lines split by
source, one pended for review and approved, a desk cancellation, and two payment runs
paid through the bank's return files: two items paid and then returned by the bank, one
of them paid by the next run, the other returned again. The test then counts every figure with plain Python over
what it made (the claims' answers, the split of relief shares) and compares it with
the report, and compares the report's money with the ledger's own sums.

Every posting of the ledger is booked on the day it is made (today), the allocations on
the day the money was received, so the report read is the range from the first day of
``YEAR`` (when the claims were received) to the end of this year (when they were booked).
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
from claims.funding import DEFAULT_FUNDING, release, relief_shares
from claims.money import format_fen, parse_yuan
from service import ledger, reports
from store import models
from store.db import session_factory
from tests.api.builders import (
    HIGH_B, LUNG_CANCER, PNEUMONIA, YEAR, allocate, auth, codes, create_hospital, create_member, enroll,
    post_settlement, register_hardship, review, submit_claim,
)
from tests.api.test_api_payments import approve, bank_rows, build, put_account, returns, run_detail
from tests.builders import certno_for

LEAGUE = {"U1": "L1", "L1": "L1", "U2": "L2", "C2": "L2"}
TODAY = china_today()
FIRST, LAST = dt.date(YEAR, 1, 1), dt.date(TODAY.year, 12, 31)  # the range every check reads
CONTRIBUTION = DEFAULT_FUNDING.contribution + DEFAULT_FUNDING.union_subsidy


@dataclass
class History:
    """What the test made, to count by hand."""

    union: dict[str, str] = field(default_factory=dict)  # member -> union
    enrolled: list[tuple[str, int]] = field(default_factory=list)  # (member, year)
    register: dict[str, tuple[str, bool, bool]] = field(default_factory=dict)  # member -> (category, verified, active)
    claims: dict[int, dict] = field(default_factory=dict)  # claim id -> {member, submitted_on, grade, icd, answer}
    cancelled: set[int] = field(default_factory=set)  # claims whose settlement was cancelled
    cancellation_booked: bool = False  # the cancellation reversed the claim's charges in the ledger
    paid: dict[int, dt.date] = field(default_factory=dict)  # claim -> the day it was (last) paid
    allocations: list[tuple[str, str | None, int, dt.date]] = field(default_factory=list)  # source, league, fen, on

    def charges(self) -> list[dict]:
        """Every line that holds money now, as the claims' own answers say: {member, claim, benefit, fen, sources}."""
        out = []
        for claim_id, c in self.claims.items():
            if claim_id in self.cancelled and self.cancellation_booked:
                continue
            now = {a["benefit"]: a for adjustment in c["answer"]["adjustments"] for a in adjustment["lines"]}
            for ln in c["answer"]["lines"]:
                decided = parse_yuan(ln["amount"]) if ln["status"] == "approved" else 0
                # A re-adjudication's latest amount stands; a line paying less gives back, the fallback
                # first, then the sources last to first (funds.md §2).
                later = now.get(ln["benefit"])
                fen = (parse_yuan(later["to_amount"]) if later["to_status"] == "approved" else 0) if later else decided
                if not fen:
                    continue
                league = LEAGUE[self.union[c["member"]]]
                sources = {}
                if ln["benefit"] == "CIR":
                    sources = dict(relief_shares(decided, DEFAULT_FUNDING.relief_shares))
                    for source, back in release(sources, decided - fen, DEFAULT_FUNDING.release_order):
                        sources[source] -= back
                out.append({"member": c["member"], "claim": claim_id, "benefit": ln["benefit"], "fen": fen,
                            "sources": sources, "league": league})
        return out


def _claim(client: TestClient, key: str, claim_id: int) -> dict:
    answer = client.get(f"/v1/claims/{claim_id}", headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _line(claim: dict, benefit: str) -> dict:
    return next(ln for ln in claim["lines"] if ln["benefit"] == benefit)


def _entries(db) -> int:
    with session_factory(db)() as s:
        return s.scalar(select(func.count()).select_from(models.JournalEntry))


def build_history(client: TestClient, cast, db) -> History:
    h = History(union={"M1": "U1", "M2": "U1", "M3": "U2"})
    admin = cast.admin
    create_hospital(client, admin, "H3", grade="05")
    for member, union in (("M4", "U2"), ("M5", "L1"), ("M6", "U1")):
        create_member(client, admin, member, union_id=union)
        h.union[member] = union
    # Enrollments: each books its contribution (service.contributions) on the day it is made. The cast
    # enrolled M1, M2 and M3 the year before YEAR and in YEAR through the same service.
    h.enrolled += [(member, year) for member in ("M1", "M2", "M3") for year in (YEAR - 1, YEAR)]
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

    # Relief money of YEAR: central and region for the whole region (finance of R), league money for L1
    # (its own finance officer); none for L2 yet and no charity, so L2's relief lines wait. And money
    # of the year before, received then: outside the range.
    for key, source, league, yuan, on in ((cast.finance, "central", None, "1000000.00", dt.date(YEAR, 2, 1)),
                                          (cast.finance, "region", None, "500000.00", dt.date(YEAR, 2, 1)),
                                          (cast.finance_league, "league", "L1", "200000.00", dt.date(YEAR, 2, 3)),
                                          (admin, "central", None, "70000.00", dt.date(YEAR - 1, 2, 1))):
        allocate(client, key, source, yuan, year=on.year, league_id=league, received_on=on.isoformat())
        h.allocations.append((source, league, parse_yuan(yuan), on))

    def claim(member: str, icd: str, b: str, submitted: str, *, hospital: str = "H1", grade: str = "02",
              begndate: str = f"{YEAR}-05-02", enddate: str = f"{YEAR}-05-12") -> dict:
        posted = post_settlement(client, admin, patient=member, b=b, diag_code=icd, fixmedins_code=hospital,
                                 hosp_lv=grade, begndate=begndate, enddate=enddate)
        made = submit_claim(client, admin, member, posted["id"], submitted_on=submitted)
        h.claims[made["id"]] = {"member": member, "submitted_on": dt.date.fromisoformat(submitted), "grade": grade,
                                "icd": icd, "settlement": posted["id"], "answer": made}
        return made

    c1 = claim("M1", LUNG_CANCER, "20000.00", f"{YEAR}-06-30")  # mutual aid and CIR in one entry
    c2 = claim("M3", LUNG_CANCER, "8000.00", f"{YEAR}-07-15", hospital="H3", grade="05")
    c3 = claim("M2", PNEUMONIA, HIGH_B, f"{YEAR}-06-20")
    c4 = claim("M4", PNEUMONIA, "3000.00", f"{YEAR}-08-20", hospital="H3", grade="05",
               begndate=f"{YEAR}-08-01", enddate=f"{YEAR}-08-05")
    c0 = claim("M1", PNEUMONIA, "5000.00", f"{YEAR - 1}-10-20", begndate=f"{YEAR - 1}-10-01",
               enddate=f"{YEAR - 1}-10-05")  # received the year before: counted as no claim of the range, paid in it
    assert _line(c1, "CIR")["status"] == "approved" and parse_yuan(_line(c1, "CIR")["amount"]) > 0
    assert any(ln["benefit"] != "CIR" and ln["status"] == "approved" for ln in c1["lines"])
    # L2 has no league money and there is no charity to pass its share on to: the relief line waits.
    assert (_line(c2, "CIR")["status"], codes(_line(c2, "CIR"))) == ("pended", ["FUND_EXHAUSTED"])
    assert [ln["status"] for ln in c3["lines"] if ln["benefit"] in ("MA_IP", "MA_DA")] == ["pended", "pended"]
    c3 = review(client, admin, c3["id"], {"benefit": "MA_IP", "action": "approve", "note": "核实无误"},
                {"benefit": "MA_DA", "action": "approve", "note": "核实无误"})
    assert [ln["status"] for ln in c3["lines"] if ln["benefit"] in ("MA_IP", "MA_DA")] == ["approved", "approved"]
    h.claims[c3["id"]]["answer"] = c3

    # L2's league money arrives (its finance officer records it): the waiting line is charged now.
    allocate(client, cast.finance_other, "league", "100000.00", league_id="L2", received_on=f"{YEAR}-02-03")
    h.allocations.append(("league", "L2", 10_000_000, dt.date(YEAR, 2, 3)))
    h.claims[c2["id"]]["answer"] = c2 = _claim(client, admin, c2["id"])
    assert _line(c2, "CIR")["status"] == "approved"

    # The plan pays dibao households 80% of CIR from YEAR on, not 90%: re-adjudication pays M1's CIR line less,
    # and the difference is given back (a line.released entry) before anything is paid.
    default = client.get("/v1/plans", headers=auth(admin)).json()["items"][0]
    draft = client.post(f"/v1/plans/{default['id']}/derive", headers=auth(admin), json={
        "patch": [{"op": "replace", "path": "/benefits/3/amount/by_hardship_category/dibao/rate", "value": "0.80"}]})
    assert draft.status_code == 201, draft.text
    published = client.post(f"/v1/plans/{draft.json()['id']}/publish", json={"effective_from": f"{YEAR}-01-01"},
                            headers=auth(admin))
    assert published.status_code == 200, published.text
    redone = client.post("/v1/readjudications", json={"submitted_from": f"{YEAR}-01-01"}, headers=auth(admin))
    assert redone.status_code == 200 and redone.json()["adjustments"] >= 1, redone.text
    for claim_id in h.claims:
        h.claims[claim_id]["answer"] = _claim(client, admin, claim_id)
    c1 = h.claims[c1["id"]]["answer"]
    reduced = next(a for adj in c1["adjustments"] for a in adj["lines"] if a["benefit"] == "CIR")
    assert 0 < parse_yuan(reduced["to_amount"]) < parse_yuan(reduced["from_amount"])
    with session_factory(db)() as s:
        assert s.scalar(select(func.count()).where(models.JournalEntry.event == "line.released")) == 1

    # A settlement posted in error is cancelled at the desk: its claim is cancelled and its charges are
    # given back in the ledger (service.desk._on_claim_cancelled), so it holds nothing in the report.
    before = _entries(db)
    answer = client.post(f"/v1/settlements/{h.claims[c4['id']]['settlement']}/cancel",
                         json={"reason": "收费员录入错误"}, headers=auth(admin))
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled", answer.text
    h.cancelled.add(c4["id"])
    h.cancellation_booked = _entries(db) > before
    assert h.cancellation_booked, "the cancellation booked nothing: its charges would still count"

    # Payment run 1 (finance makes it, finance_checker approves): M1, M2 and M3 are paid; M4 has no account.
    for member in ("M1", "M2", "M3"):
        put_account(client, admin, member)
    run = build(client, cast.finance)
    approve(client, cast.finance_checker, run["id"])
    bank_rows(client, cast.finance, run["id"])
    items = {i["member_id"]: i for i in run_detail(client, cast.finance, run["id"])["payment_items"]}
    assert set(items) == {"M1", "M2", "M3"}
    day = TODAY.isoformat()
    returns(client, cast.finance, run["id"], [(items[m]["id"], "paid", "", f"B{m}", day) for m in items])
    # The bank sends M2's and M3's payments back (closed accounts): the next run pays M3 and M2's comes back
    # again unpaid, so M3's claim is paid once (by the second run) and M2's not at all.
    returns(client, cast.finance, run["id"], [(items[m]["id"], "returned", "账户已销户", f"B{m}", day)
                                              for m in ("M2", "M3")])
    put_account(client, admin, "M2", number="6222020000000000001")
    put_account(client, admin, "M3", number="6217009999888877776")
    rerun = build(client, cast.finance_checker)
    approve(client, cast.finance, rerun["id"])
    bank_rows(client, cast.finance, rerun["id"])
    again = {i["member_id"]: i for i in run_detail(client, cast.finance, rerun["id"])["payment_items"]}
    assert set(again) == {"M2", "M3"}
    returns(client, cast.finance, rerun["id"], [(again["M3"]["id"], "paid", "", "BM3-2", day),
                                                (again["M2"]["id"], "returned", "户名不符", "BM2-2", day)])
    for made in (c1, c2, c0):
        assert _claim(client, admin, made["id"])["payment_status"] == "paid"
        h.paid[made["id"]] = TODAY  # the ledger books a payment on the day the return file is read
    assert _claim(client, admin, c3["id"])["payment_status"] == "returned"
    return h


# ----------------------------------------------------------------------------- the independent count


def pct(num: int, den: int) -> str | None:
    if not den:
        return None
    return str((Decimal(num * 100) / Decimal(den)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def avg(total: int, n: int) -> str:
    return format_fen(int((Decimal(total) / n).quantize(Decimal("1"), rounding=ROUND_HALF_UP)) if n else 0)


def expected(h: History, members_in: set[str], root_is_tree_root: bool, leagues_in: set[str]) -> dict:
    inside = lambda d: FIRST <= d <= LAST  # noqa: E731
    charges = [c for c in h.charges() if c["member"] in members_in]  # every charge is booked today: inside
    lines = {(c["claim"], c["benefit"]): c["fen"] for c in charges}
    line_of = {(c["claim"], c["benefit"]): c for c in charges}
    ma = {ln: fen for ln, fen in lines.items() if ln[1] != "CIR"}
    relief_by_member: dict[str, int] = defaultdict(int)
    relief_by_source: dict[str, int] = defaultdict(int)
    for c in charges:
        if c["benefit"] == "CIR":
            relief_by_member[c["member"]] += c["fen"]
            for src, part in c["sources"].items():
                relief_by_source[src] += part
    enrolled = [(m, y) for m, y in h.enrolled if m in members_in]
    contributions = CONTRIBUTION * len(enrolled)  # every enrollment's contribution is booked today
    received = [cid for cid, c in h.claims.items() if c["member"] in members_in and inside(c["submitted_on"])]
    active = {m: r for m, r in h.register.items() if m in members_in and r[2]}
    decided = sorted((TODAY - h.claims[c]["submitted_on"]).days for c in received)
    to_paid = sorted((h.paid[c] - TODAY).days for c in received if c in h.paid)
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
        "members_enrolled": len({m for m, y in enrolled if y >= YEAR}),
        "member_periods": sum(1 for m, y in enrolled if y >= YEAR),
        "contributions": contributions,
        "claims": len(received),
        "ma_payouts": len(ma), "ma_paid": sum(ma.values()), "ma_largest": max(ma.values(), default=0),
        "by_benefit": {b: [fen for ln, fen in lines.items() if ln[1] == b] for b in ("MA_IP", "MA_DA", "MA_CI", "CIR")},
        "lines": lines, "line_of": line_of,
        "stages": {"received_decided": decided, "decided_paid": to_paid, "received_paid": whole},
        "allocated": allocated,
    }


def get_report(client: TestClient, key: str, union: str, **params) -> dict:
    asked = {k: v for k, v in {"union": union, "from": FIRST.isoformat(), "to": LAST.isoformat(), **params}.items()
             if v is not None}
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
        months[f"{TODAY:%Y-%m}"] += fen  # a line counts in the month it was charged: every one today
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
    # M3's claim, paid, returned by the bank and paid again, counts once among the claims paid; M2's,
    # paid and returned, not at all.
    assert rows_by(table(report, "processing_times"), "stage")["decided_paid"]["claims"] == 2
    # c1 holds MA and CIR lines in one ledger entry: each is counted as its own benefit.
    c1 = next(cid for cid, c in history.claims.items() if c["member"] == "M1" and c["icd"] == LUNG_CANCER)
    assert {b for (cid, b) in e["lines"] if cid == c1} >= {"CIR", "MA_IP"}


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
        sums = reports.ledger_totals(s, reports.Period(FIRST, LAST))
        # The ledger's own sums by account and dimension, over the range.
        p, e = models.Posting, models.JournalEntry
        by_account = dict(s.execute(select(p.account, func.sum(p.amount)).join(e, e.id == p.entry_id)
                                    .where(e.booked_on.between(FIRST, LAST)).group_by(p.account)).all())
        relief_by_source = dict(s.execute(
            select(p.fund_source, func.sum(p.amount)).join(e, e.id == p.entry_id)
            .where(e.booked_on.between(FIRST, LAST), p.account.startswith(ledger.benefit_expense_account("CIR") + ":"))
            .group_by(p.fund_source)).all())
        allocated = {(src, league or ""): -fen for src, league, fen in s.execute(
            select(p.fund_source, p.league_id, func.sum(p.amount)).join(e, e.id == p.entry_id)
            .where(e.booked_on.between(FIRST, LAST), p.account.startswith("Income:Allocations:"))
            .group_by(p.fund_source, p.league_id))}
    assert sums["relief"] > 0 and sums["mutual_aid"] > 0
    assert table(report, "relief_by_source")["total"]["relief_paid"] == format_fen(sums["relief"])
    for row in table(report, "relief_by_source")["rows"]:
        assert parse_yuan(row["relief_paid"]) == relief_by_source.get(row["source"]["code"], 0), row
    benefits = rows_by(table(report, "payouts_by_benefit"), "benefit")
    for benefit in ("MA_IP", "MA_DA", "MA_CI"):
        assert parse_yuan(benefits[benefit]["paid"]) == by_account.get(ledger.benefit_expense_account(benefit), 0)
    ma_paid = sum(parse_yuan(r["paid"]) for r in table(report, "payouts_by_benefit")["rows"]
                  if r["benefit"]["code"] != "CIR")
    assert ma_paid == sums["mutual_aid"]
    assert table(report, "payouts_by_benefit")["total"]["paid"] == format_fen(sums["relief"] + sums["mutual_aid"])
    assert table(report, "mutual_aid_by_union")["total"]["contributions"] == format_fen(sums["contributions"])
    assert sums["contributions"] == -by_account[ledger.CONTRIBUTIONS_MEMBERS] - by_account[
        ledger.CONTRIBUTIONS_UNION_SUBSIDY]
    funds = table(report, "fund_statements")
    assert sum(parse_yuan(r["received"]) for r in funds["rows"]
               if r["source"]["code"] not in ("contributions", "union_subsidy")) == sums["allocations"]
    assert {(r["source"]["code"], r["league"]): parse_yuan(r["received"]) for r in funds["rows"]
            if r["source"]["code"] not in ("contributions", "union_subsidy")} == allocated
    # What the members are owed less what they were paid: every standing line is paid, the return reversed.
    assert by_account.get(ledger.PAYABLE_MEMBERS, 0) == -sum(
        c["fen"] for c in history.charges() if c["claim"] not in history.paid)


def test_contributions_of_an_imported_enrollment_file_are_in_the_report(client, cast, db) -> None:
    scopes = ((cast.officer, "U1"), (cast.finance_league, "L1"), (cast.admin, "R"), (cast.officer_other, "U2"))

    def totals() -> dict[str, dict]:
        return {union: table(get_report(client, key, union), "mutual_aid_by_union")["total"] for key, union in scopes}

    def ledger_contributions() -> int:
        with session_factory(db)() as s:
            return reports.ledger_totals(s, reports.Period(FIRST, LAST))["contributions"]

    before, booked = totals(), ledger_contributions()
    # More rows than ledger.post_many writes with RETURNING: the bulk path (COPY on PostgreSQL).
    members = [f"M{n}" for n in range(100, 160)]
    rows = [[m, certno_for(m), "新会员", "F", "1985/7/1", f"{YEAR}/1/1", f"{YEAR}/12/31", f"{YEAR - 1}/12/1"]
            for m in members]
    text = "".join(",".join(r) + "\r\n" for r in [["member_id", "certno", "name", "gender", "birth_date",
                                                      "period_start", "period_end", "enrolled_on"], *rows])
    answer = client.post("/v1/enrollments/import", content=text.encode("utf-8-sig"),
                         headers={**auth(cast.officer), "content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["enrollments_created"] == len(members)
    after = totals()
    n = len(members)
    for union in ("U1", "L1", "R"):  # the importing officer's union, and each union above it
        assert parse_yuan(after[union]["contributions"]) - parse_yuan(before[union]["contributions"]) == \
            CONTRIBUTION * n, union
        assert after[union]["members_enrolled"] - before[union]["members_enrolled"] == n, union
        assert after[union]["member_periods"] - before[union]["member_periods"] == n, union
    assert after["U2"] == before["U2"]  # another union's report holds none of it
    assert ledger_contributions() - booked == CONTRIBUTION * n
    assert after["R"]["contributions"] == format_fen(ledger_contributions())


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
    # The attacker's pass: a range late enough that its five-year limit is no date at all (a 500 before).
    ({"from": "9995-01-01", "to": "9999-12-31"}, "from"),
    ({"from": "0001-01-01", "to": "0001-12-31"}, "from"),
    ({"year": 1}, "year"),
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
    answer = client.get("/v1/reports/federation", params={"union": "R", "from": FIRST.isoformat(),
                                                          "to": LAST.isoformat(), "format": "xlsx"},
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
