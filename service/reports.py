"""The federation report: hardship relief and mutual aid of a union and everything beneath it.

One report answers for one union's subtree (``Union.path`` prefix) over a period (a
year, or a range of at most five years):

- the hardship register by category at the period's end (households, share, verified);
- critical-illness relief: households helped and relief paid by category and by source;
- mutual aid: members enrolled, member-periods, contributions, claims received, payouts
  by benefit, average and largest payout, loss ratio (mutual-aid payouts ÷ contributions);
- each of those by the unions directly beneath (a region's leagues and cities, a
  league's counties...), each row rolling up that union's own subtree;
- payouts by disease (the 21-disease catalog), by month, by hospital grade;
- processing times: received → decided → paid, median and 90th percentile in days;
- fund statements by source: received, charged, balance.

Where each figure comes from:

- **Money is read from the ledger's report rows** (``service.report_facts``, kept by
  every posting in its transaction), one function per figure, so the report agrees
  with the ledger to the fen: ``contributions``, ``line_charges`` (each line's own
  expense legs: its benefit, its relief sources; releases and reversals net it),
  ``relief_charges``, ``allocations``, and ``paid_on`` (the day of a claim's last
  payment that stands: an item the bank returned paid nobody). The period is the
  entries' ``booked_on``.
- **Claims** are counted and dated from ``claim_facts`` (written with each decision,
  ``service.report_facts``); a claim belongs to the period it was received in.
- **The register** is read at the period's end; **enrollments** count when their
  period overlaps the report's.

Every query groups by union id in SQL and the subtree's rows are rolled up into the
unions beneath in Python: a handful of grouped queries, whatever the size of the tree.
"""

from __future__ import annotations

from claims.dates import FIRST_DAY, LAST_DAY

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib.resources import files
from typing import Any

from sqlalchemy import Integer, String, case, cast, extract, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session

from claims.catalog import DiseaseCatalog
from claims.money import format_fen
from service import ledger
from service import report_labels as L
from service.auth import Principal, Role
from service.errors import Invalid, NotFound
from service.report_facts import ALLOCATIONS_ROOT, CIR_EXPENSES, EXPENSE_ROOT
from store import models

MAX_YEARS = 5
MUTUAL_AID_BENEFITS = ("MA_IP", "MA_DA", "MA_CI")
RELIEF_BENEFIT = "CIR"
CATALOG_BENEFITS = ("CIR", "MA_CI")  # benefits that pay for a disease of the 21-disease catalog
RELIEF_SOURCES = ("central", "region", "league", "charity")
CATEGORIES = ("dibao", "dibao_unenrolled", "near_dibao", "accident")


# ----------------------------------------------------------------------------- the period


@dataclass(frozen=True, slots=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive


def period_of(year: int | None, start: dt.date | None, end: dt.date | None) -> Period:
    """A year, or a from/to range of at most five years; anything else is refused naming the field."""
    if year is not None:
        if start is not None or end is not None:
            raise Invalid.at("year", "give a year or a from/to range, not both")
        if not FIRST_DAY.year <= year <= LAST_DAY.year:
            raise Invalid.at("year", f"must be a year from {FIRST_DAY.year} to {LAST_DAY.year}")
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
    if start is None and end is None:
        raise Invalid.at("year", "give a year, or a from/to range")
    if start is None:
        raise Invalid.at("from", "a range needs its first day")
    if end is None:
        raise Invalid.at("to", "a range needs its last day")
    # Days the service can hold (a range from 9995 would not even have its five-year limit).
    for field, day in (("from", start), ("to", end)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise Invalid.at(field, f"must be a day from {FIRST_DAY} to {LAST_DAY}")
    if start > end:
        raise Invalid.at("from", "is after to")
    try:
        limit = start.replace(year=start.year + MAX_YEARS)
    except ValueError:  # 29 February
        limit = dt.date(start.year + MAX_YEARS, 3, 1)
    if end >= limit:
        raise Invalid.at("to", f"a range covers at most {MAX_YEARS} years")
    return Period(start, end)


# ----------------------------------------------------------------------------- what a report holds


COUNT, YUAN, PERCENT, DAYS, TEXT = "count", "yuan", "percent", "days", "text"


@dataclass(frozen=True, slots=True)
class Percent:
    """An exact ratio shown as a percentage with two decimals, half-up (480/7197 → 6.67)."""

    num: int
    den: int

    @property
    def value(self) -> Decimal:
        return (Decimal(self.num * 100) / Decimal(self.den)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def __str__(self) -> str:
        return str(self.value)


def percent(num: int, den: int) -> Percent | None:
    return Percent(num, den) if den else None


@dataclass(frozen=True, slots=True)
class Coded:
    """A coded value (a category, a source, a union) with its labels."""

    code: str
    label: L.Label


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    kind: str
    label: L.Label


@dataclass(frozen=True, slots=True)
class Chart:
    """How a table is drawn: ``kind`` bar, pie or line; categories from one column, series from others."""

    kind: str
    category: str
    series: tuple[str, ...]


@dataclass
class Table:
    key: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    chart: Chart | None = None
    total: dict[str, Any] | None = None  # the total row, when the table has one

    @property
    def title(self) -> L.Label:
        return L.TABLES[self.key]


def _columns(*spec: tuple[str, str]) -> list[Column]:
    return [Column(key, kind, L.COLUMNS[key]) for key, kind in spec]


@dataclass
class Report:
    union: models.Union
    period: Period
    tables: list[Table]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


# ----------------------------------------------------------------------------- scope


@dataclass(frozen=True, slots=True)
class Scope:
    """The report's union, the unions of its subtree, and which union beneath each rolls up into."""

    root: models.Union
    unions: dict[str, models.Union]
    bucket: dict[str, str]  # union id -> the id of the union directly beneath the root (or the root)

    def contains(self, column):
        """SQL: ``column`` (a union id) lies in the subtree (a prefix of the path, never LIKE).

        The tree's root holds every union: no condition, so the region's report reads
        its rows without a join.
        """
        if self.is_root:
            return column.is_not(None)
        return column.in_(select(models.Union.id).where(models.Union.path.startswith(self.root.path, autoescape=True)))

    @property
    def buckets(self) -> list[str]:
        """The report's rows by union: the root's own members first, then each union beneath it."""
        children = sorted(u.id for u in self.unions.values() if u.parent_id == self.root.id and u.id != self.root.id)
        return [self.root.id, *children]

    @property
    def is_root(self) -> bool:
        return self.root.parent_id is None


def scope_of(session: Session, caller: Principal, union_id: str) -> Scope:
    """The subtree of ``union_id`` if the caller may see it; any other union is answered as unknown."""
    caller.require(Role.ADMIN, Role.OFFICER, Role.FINANCE)
    root = session.get(models.Union, union_id)
    if root is None or not caller.sees_union(root.id):
        raise NotFound(f"no union {union_id}")
    rows = session.scalars(select(models.Union).where(models.Union.path.startswith(root.path, autoescape=True))).all()
    unions = {u.id: u for u in rows}
    unions[root.id] = root
    bucket = {}
    for u in unions.values():
        rest = u.path[len(root.path):].split("/", 1)[0]
        bucket[u.id] = rest if rest and rest in unions else root.id
    return Scope(root, unions, bucket)


# ----------------------------------------------------------------------------- the ledger (every money figure)


def _booked_in(period: Period):
    return models.JournalEntry.booked_on.between(period.start, period.end)


def contributions(session: Session, scope: Scope, period: Period) -> dict[tuple[str, str], int]:
    """Fen received by (member's union, source ``contributions``/``union_subsidy``): the credits to Income:Contributions."""
    r = models.ReportMoney
    source = case((r.account == ledger.CONTRIBUTIONS_UNION_SUBSIDY, literal("union_subsidy")),
                  else_=literal("contributions"))
    rows = session.execute(
        select(r.union_id, source, func.sum(r.amount))
        .where(r.account.in_((ledger.CONTRIBUTIONS_MEMBERS, ledger.CONTRIBUTIONS_UNION_SUBSIDY)),
               r.booked_on.between(period.start, period.end), scope.contains(r.union_id))
        .group_by(r.union_id, source))
    return {(union, src): int(amount) for union, src, amount in rows}


def benefit_of_account(account: str) -> str:
    """The benefit an expense account is for: ``Expenses:Benefits:MA-IP`` → MA_IP, ``…:CIR:Central`` → CIR."""
    segment = account[len(EXPENSE_ROOT):].split(":", 1)[0]
    return _BENEFIT_SEGMENTS.get(segment, segment)


_BENEFIT_SEGMENTS = {ledger.league_segment(b): b for b in (*MUTUAL_AID_BENEFITS, RELIEF_BENEFIT)}


@dataclass
class Payouts:
    """Lines charged in the period, grouped: count, fen, largest; by each key the report needs."""

    by_union: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (union, benefit) -> [n, sum, max]
    by_diagnosis: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (benefit, ICD code)
    by_month: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (benefit, 'YYYY-MM')
    by_grade: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (benefit, hosp_lv)


def line_charges(session: Session, scope: Scope, period: Period) -> Payouts:
    """What each benefit line was charged in the period (its Expenses:Benefits legs), grouped.

    A line's net charge is the sum of its expense legs in every entry naming it (so a
    release or a reversal nets out); a line whose net is zero paid nothing. Its
    benefit is read from its own expense account, its union, diagnosis and hospital
    grade from the claim's facts. One statement: the lines once (a CTE), four groupings.
    """
    r = models.ReportCharge
    in_period = (r.booked_on.between(period.start, period.end), scope.contains(r.union_id))
    # Lines charged more than once (a reversal, a new amount) with a later charge in the period: netted per
    # line. Every other line has one row in the period, which is the line: grouped as it is, without first
    # grouping a year's lines one by one.
    # (Read first, once: a handful of lines, where the statement below would re-read them in every part.)
    netted = sorted(session.scalars(select(r.line_id).where(r.adjusts, *in_period).distinct()))
    single = (select(r.account, r.union_id, r.main_diagnosis, r.hosp_lv, r.booked_on.label("charged_on"),
                     r.amount.label("paid"))
              .where(*in_period, r.line_id.not_in(netted)).subquery("single"))
    per_line = (select(func.min(r.account).label("account"), r.union_id, r.main_diagnosis, r.hosp_lv,
                       func.min(r.booked_on).label("charged_on"), func.sum(r.amount).label("paid"))
                .where(*in_period, r.line_id.in_(netted))
                .group_by(r.line_id, r.union_id, r.main_diagnosis, r.hosp_lv)  # one union, diagnosis, grade a line
                .having(func.sum(r.amount) != 0).subquery("netted"))
    catalog_accounts = [ledger.benefit_expense_account("MA_CI"), *(ledger.benefit_expense_account(RELIEF_BENEFIT, s)
                                                                   for s in ledger.SOURCE_SEGMENTS)]
    parts = []
    for lines in (single, per_line) if netted else (single,):
        year = cast(extract("year", lines.c.charged_on), Integer)
        month = cast(extract("month", lines.c.charged_on), Integer)
        measures = (func.count(), func.sum(lines.c.paid), func.max(lines.c.paid))
        parts += [
            select(literal("union"), lines.c.union_id, lines.c.account, literal(0), *measures)
            .group_by(lines.c.union_id, lines.c.account),
            select(literal("diagnosis"), lines.c.account, lines.c.main_diagnosis, literal(0), *measures)
            .where(lines.c.account.in_(catalog_accounts)).group_by(lines.c.account, lines.c.main_diagnosis),
            select(literal("month"), lines.c.account, cast(year, String), month, *measures)
            .group_by(lines.c.account, year, month),
            select(literal("grade"), lines.c.account, lines.c.hosp_lv, literal(0), *measures)
            .group_by(lines.c.account, lines.c.hosp_lv),
        ]
    out = Payouts()
    target = {"union": out.by_union, "diagnosis": out.by_diagnosis, "month": out.by_month, "grade": out.by_grade}
    for kind, k1, k2, k3, n, total, largest in session.execute(union_all(*parts)):
        if kind == "union":
            key = (k1, benefit_of_account(k2))
        elif kind == "month":
            key = (benefit_of_account(k1), f"{int(k2):04d}-{int(k3):02d}")
        else:
            key = (benefit_of_account(k1), k2)
        # Two accounts of one benefit (CIR's sources) fold into one row: counts and sums add, the largest is kept.
        found = target[kind].setdefault(key, [0, 0, 0])
        found[0] += int(n)
        found[1] += int(total)
        found[2] = max(found[2], int(largest))
    return out


def relief_charges(session: Session, scope: Scope, period: Period) -> dict[tuple[str, str, str, str], int]:
    """Fen of relief charged by (union, member, source, league): the Expenses:Benefits:CIR:<Source> legs in the period.

    Each leg names its claim (and line): placed by that claim's union and member.
    """
    r = models.ReportRelief
    rows = session.execute(
        select(r.union_id, r.member_id, r.fund_source, r.league_id, func.sum(r.amount))
        .where(r.booked_on.between(period.start, period.end), scope.contains(r.union_id))
        .group_by(r.union_id, r.member_id, r.fund_source, r.league_id))
    return {(union, member, source, league): int(amount) for union, member, source, league, amount in rows}


def allocations(session: Session, scope: Scope, period: Period) -> dict[tuple[str, str], int]:
    """Fen of relief allocated by (source, league id or ''): the credits to Income:Allocations in the period.

    A league's money counts in the reports of the unions whose subtree holds that league
    (and of the league itself); region-wide money (no league) only in the report of the
    tree's root.
    """
    r = models.ReportMoney
    league_ok = scope.contains(r.league_id)
    where = or_(league_ok, r.league_id == "") if scope.is_root else league_ok
    rows = session.execute(
        select(r.fund_source, r.league_id, func.sum(r.amount))
        .where(r.account.startswith(ALLOCATIONS_ROOT), r.booked_on.between(period.start, period.end), where)
        .group_by(r.fund_source, r.league_id))
    return {(source, league): int(amount) for source, league, amount in rows}


def paid_on(scope: Scope, period: Period):
    """A selectable (claim_id, submitted_on, decided_on, paid_on): the day each claim received in the
    period was last paid (its ``item.paid`` entries that no ``item.returned`` took back).

    A claim returned by the bank and paid by a later run counts once, on the later day;
    a claim whose lines went in two runs is paid when the last of them was.
    """
    r = models.ReportPayment
    return (select(r.claim_id.label("claim_id"), r.submitted_on.label("submitted_on"),
                   r.decided_on.label("decided_on"), func.max(r.paid_on).label("paid_on"))
            .where(r.submitted_on.between(period.start, period.end), scope.contains(r.union_id))
            .group_by(r.claim_id, r.submitted_on, r.decided_on).subquery("paid"))


def ledger_totals(session: Session, period: Period) -> dict[str, int]:
    """The whole ledger's sums over the period, by account root the report reads (the test compares them)."""
    p, e = models.Posting, models.JournalEntry
    kind = case((p.account.startswith(CIR_EXPENSES), literal("relief")),
                (p.account.startswith(EXPENSE_ROOT), literal("mutual_aid")),
                (p.account.startswith(ALLOCATIONS_ROOT), literal("allocations")),
                (p.account.in_((ledger.CONTRIBUTIONS_MEMBERS, ledger.CONTRIBUTIONS_UNION_SUBSIDY)),
                 literal("contributions")), else_=literal("other"))
    rows = session.execute(select(kind, func.sum(p.amount)).join(e, e.id == p.entry_id).where(_booked_in(period))
                           .group_by(kind))
    sums = {k: int(v) for k, v in rows}
    return {"relief": sums.get("relief", 0), "mutual_aid": sums.get("mutual_aid", 0),
            "allocations": -sums.get("allocations", 0), "contributions": -sums.get("contributions", 0)}


# ----------------------------------------------------------------------------- members, register, claims


def _days(session: Session, later, earlier):
    """SQL: whole days from ``earlier`` to ``later`` (two dates) on either database."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return later - earlier


def enrollments(session: Session, scope: Scope, period: Period) -> dict[str, tuple[int, int]]:
    """(members enrolled, member-periods) by union: enrollments whose period overlaps the report's."""
    en, m = models.Enrollment, models.Member
    # Per member first, then per union: two hash aggregates instead of a sorted count(DISTINCT).
    per_member = (select(m.union_id.label("union_id"), func.count().label("periods"))
                  .select_from(en).join(m, m.id == en.member_id)
                  .where(en.period_start <= period.end, en.period_end >= period.start, scope.contains(m.union_id))
                  .group_by(m.union_id, en.member_id).subquery())
    rows = session.execute(select(per_member.c.union_id, func.count(), func.sum(per_member.c.periods))
                           .group_by(per_member.c.union_id))
    return {union: (int(members), int(periods)) for union, members, periods in rows}


@dataclass(frozen=True, slots=True)
class Household:
    union_id: str
    category: str
    verified: bool
    active: bool  # on the register at the period's end


def register(session: Session, scope: Scope, period: Period) -> dict[str, Household]:
    """Each member's latest registration entered by the period's end, by member (a household)."""
    h, m = models.HardshipRegistration, models.Member
    rows = session.execute(
        select(h.member_id, m.union_id, h.category, h.verified, h.verified_on, h.revoked_on)
        .join(m, m.id == h.member_id)
        .where(h.registered_on <= period.end, scope.contains(m.union_id))
        .order_by(h.registered_on, h.id))
    found: dict[str, Household] = {}
    for member, union, category, verified, verified_on, revoked_on in rows:
        found[member] = Household(union, category, bool(verified) and (verified_on is None or verified_on <= period.end),
                                  revoked_on is None or revoked_on > period.end)
    return found


def claims_received(session: Session, scope: Scope, period: Period) -> tuple[dict[str, int], Counter]:
    """Claims received in the period by the member's union when it arrived, and a histogram of the
    whole days each took from received to decided: one pass over the claims."""
    cf = models.ClaimFact
    decide = _days(session, cf.decided_on, cf.submitted_on)
    rows = session.execute(select(cf.union_id, decide, func.count())
                           .where(cf.submitted_on.between(period.start, period.end), scope.contains(cf.union_id))
                           .group_by(cf.union_id, decide))
    by_union: dict[str, int] = defaultdict(int)
    days: Counter = Counter()
    for union, d, n in rows:
        by_union[union] += int(n)
        days[int(d)] += int(n)
    return dict(by_union), days


def processing_days(session: Session, scope: Scope, period: Period, decided: Counter) -> dict[str, Counter]:
    """Histograms of whole days per stage, over the claims received in the period (``decided``: received → decided)."""
    out: dict[str, Counter] = {stage: Counter() for stage in L.STAGES}
    out["received_decided"] = decided
    paid = paid_on(scope, period)
    to_paid = _days(session, paid.c.paid_on, paid.c.decided_on)
    whole = _days(session, paid.c.paid_on, paid.c.submitted_on)
    for d1, d2, n in session.execute(select(to_paid, whole, func.count()).group_by(to_paid, whole)):
        out["decided_paid"][int(d1)] += int(n)
        out["received_paid"][int(d2)] += int(n)
    return out


def median(histogram: Counter) -> Decimal | None:
    """The median of a histogram of whole days (the mean of the two middle values when they are even)."""
    n = sum(histogram.values())
    if not n:
        return None
    low, high = _nth(histogram, (n + 1) // 2), _nth(histogram, n // 2 + 1)
    return (Decimal(low + high) / 2).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percentile90(histogram: Counter) -> int | None:
    """The 90th percentile by nearest rank: the ⌈0.9·n⌉-th smallest."""
    n = sum(histogram.values())
    return _nth(histogram, math.ceil(9 * n / 10)) if n else None


def _nth(histogram: Counter, rank: int) -> int:
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise ValueError(rank)


# ----------------------------------------------------------------------------- building the tables


@cache
def disease_catalog() -> DiseaseCatalog:
    """The shipped 21-disease catalog (rules/plans/critical-illness-21.csv): names a main diagnosis's disease."""
    return DiseaseCatalog.from_csv(files("rules.plans").joinpath("critical-illness-21.csv").read_text(encoding="utf-8"))


def _union_cell(scope: Scope, union_id: str) -> Coded:
    u = scope.unions[union_id]
    if union_id == scope.root.id:
        return Coded(u.id, L.Label(f"{u.name}（{L.OWN_MEMBERS.zh}）", f"{u.name} ({L.OWN_MEMBERS.en})"))
    return Coded(u.id, L.Label(u.name, u.name))


def _roll(scope: Scope, values: Iterable[tuple[str, Any]]) -> dict[str, list]:
    """Values by union id, gathered into the union beneath the root each lies under."""
    out: dict[str, list] = defaultdict(list)
    for union, value in values:
        out[scope.bucket.get(union, scope.root.id)].append(value)
    return out


def _avg(total: int, n: int) -> int:
    """An average in fen, half-up."""
    return (2 * total + n) // (2 * n) if n else 0


def _tune(session: Session) -> None:
    """PostgreSQL, for this transaction only: a report's few large GROUP BYs want memory, not JIT.

    Compiling them (JIT) cost more than running them on a region's year, and the per-line
    grouping spilled to disk in the default 4 MB of work memory.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))


def build(session: Session, caller: Principal, union_id: str, period: Period) -> Report:
    """The federation report of ``union_id``'s subtree over ``period``, as ``caller`` may see it."""
    scope = scope_of(session, caller, union_id)
    _tune(session)
    households = register(session, scope, period)
    enrolled = enrollments(session, scope, period)
    received = contributions(session, scope, period)
    claims, decided = claims_received(session, scope, period)
    payouts = line_charges(session, scope, period)
    relief = relief_charges(session, scope, period)
    allocated = allocations(session, scope, period)
    stages = processing_days(session, scope, period, decided)

    tables = [
        _hardship_register(households),
        _hardship_by_union(scope, households),
        *_relief(scope, households, relief),
        _mutual_aid_by_union(scope, enrolled, received, claims, payouts),
        _payouts_by_benefit(payouts),
        _payouts_by_disease(payouts),
        _payouts_by(payouts.by_month, "payouts_by_month", "month", lambda k: Coded(k, L.Label(k, k)), "line"),
        _payouts_by(payouts.by_grade, "payouts_by_grade", "grade", lambda k: Coded(k, L.label(L.GRADES, k)), "bar"),
        _processing(stages),
        _fund_statements(scope, received, relief, payouts, allocated),
    ]
    tables.insert(0, _summary(tables))
    return Report(scope.root, period, tables)


def _hardship_register(households: dict[str, Household]) -> Table:
    table = Table("hardship_register", _columns(("category", TEXT), ("households", COUNT), ("share", PERCENT),
                                                ("verified", COUNT)), chart=Chart("pie", "category", ("households",)))
    active = [h for h in households.values() if h.active]
    total = len(active)
    for category in CATEGORIES:
        mine = [h for h in active if h.category == category]
        table.rows.append({"category": Coded(category, L.CATEGORIES[category]), "households": len(mine),
                           "share": percent(len(mine), total), "verified": sum(h.verified for h in mine)})
    table.total = {"category": Coded("", L.TOTAL), "households": total, "share": percent(total, total),
                   "verified": sum(h.verified for h in active)}
    return table


def _hardship_by_union(scope: Scope, households: dict[str, Household]) -> Table:
    table = Table("hardship_by_union", _columns(("union", TEXT), *((c, COUNT) for c in ("households", "verified"))),
                  chart=Chart("bar", "union", ("households", "verified")))
    rolled = _roll(scope, ((h.union_id, h) for h in households.values() if h.active))
    for bucket in scope.buckets:
        mine = rolled.get(bucket, [])
        if bucket == scope.root.id and not mine:
            continue
        table.rows.append({"union": _union_cell(scope, bucket), "households": len(mine),
                           "verified": sum(h.verified for h in mine)})
    table.total = {"union": Coded("", L.TOTAL), "households": sum(r["households"] for r in table.rows),
                   "verified": sum(r["verified"] for r in table.rows)}
    return table


def _relief(scope: Scope, households: dict[str, Household], relief: dict[tuple[str, str, str, str], int]) -> list[Table]:
    by_category = Table("relief_by_category", _columns(("category", TEXT), ("households_helped", COUNT),
                                                       ("relief_paid", YUAN)),
                        chart=Chart("bar", "category", ("relief_paid",)))
    members: dict[str, int] = defaultdict(int)
    for (_union, member, _source, _league), fen in relief.items():
        members[member] += fen
    helped = {m for m, fen in members.items() if fen}
    for category in (*CATEGORIES, ""):
        mine = [m for m in helped if (households[m].category if m in households else "") == category]
        if category == "" and not mine:
            continue
        by_category.rows.append({"category": Coded(category, L.CATEGORIES[category]), "households_helped": len(mine),
                                 "relief_paid": sum(members[m] for m in mine)})
    by_category.total = {"category": Coded("", L.TOTAL), "households_helped": len(helped),
                         "relief_paid": sum(members.values())}

    by_source = Table("relief_by_source", _columns(("source", TEXT), ("relief_paid", YUAN)),
                      chart=Chart("pie", "source", ("relief_paid",)))
    sources: dict[str, int] = defaultdict(int)
    for (_union, _member, source, _league), fen in relief.items():
        sources[source] += fen
    for source in (*RELIEF_SOURCES, *sorted(set(sources) - set(RELIEF_SOURCES))):
        by_source.rows.append({"source": Coded(source, L.label(L.SOURCES, source)), "relief_paid": sources.get(source, 0)})
    by_source.total = {"source": Coded("", L.TOTAL), "relief_paid": sum(sources.values())}

    source_columns = {"central": "central", "region": "region", "league": "league_funds", "charity": "charity"}
    by_union = Table("relief_by_union", _columns(("union", TEXT), ("households_helped", COUNT), ("relief_paid", YUAN),
                                                 *((c, YUAN) for c in source_columns.values())),
                     chart=Chart("bar", "union", tuple(source_columns.values())))
    rolled = _roll(scope, ((union, (member, source, fen)) for (union, member, source, _league), fen in relief.items()))
    for bucket in scope.buckets:
        mine = rolled.get(bucket, [])
        if bucket == scope.root.id and not mine:
            continue
        row: dict[str, Any] = {"union": _union_cell(scope, bucket),
                               "households_helped": len({m for m, _s, _f in mine if m in helped}),
                               "relief_paid": sum(f for _m, _s, f in mine)}
        for source, column in source_columns.items():
            row[column] = sum(f for _m, s, f in mine if s == source)
        by_union.rows.append(row)
    by_union.total = {"union": Coded("", L.TOTAL), **{k: sum(r[k] for r in by_union.rows)
                                                      for k in ("households_helped", "relief_paid",
                                                                *source_columns.values())}}
    return [by_category, by_source, by_union]


def _mutual_aid_by_union(scope: Scope, enrolled: dict[str, tuple[int, int]], received: dict[tuple[str, str], int],
                         claims: dict[str, int], payouts: Payouts) -> Table:
    table = Table("mutual_aid_by_union", _columns(
        ("union", TEXT), ("members_enrolled", COUNT), ("member_periods", COUNT), ("contributions", YUAN),
        ("claims", COUNT), ("payouts", COUNT), ("paid", YUAN), ("average_payout", YUAN), ("largest_payout", YUAN),
        ("loss_ratio", PERCENT)), chart=Chart("bar", "union", ("contributions", "paid")))
    figures: dict[str, list[int]] = defaultdict(lambda: [0] * 7)  # enrolled, periods, contributions, claims, n, paid, max
    for union, (members, periods) in enrolled.items():
        f = figures[scope.bucket.get(union, scope.root.id)]
        f[0] += members
        f[1] += periods
    for (union, _source), fen in received.items():
        figures[scope.bucket.get(union, scope.root.id)][2] += fen
    for union, n in claims.items():
        figures[scope.bucket.get(union, scope.root.id)][3] += n
    for (union, benefit), (n, paid, largest) in payouts.by_union.items():
        if benefit in MUTUAL_AID_BENEFITS:
            f = figures[scope.bucket.get(union, scope.root.id)]
            f[4] += n
            f[5] += paid
            f[6] = max(f[6], largest)

    def row(cell: Coded, f: list[int]) -> dict[str, Any]:
        return {"union": cell, "members_enrolled": f[0], "member_periods": f[1], "contributions": f[2], "claims": f[3],
                "payouts": f[4], "paid": f[5], "average_payout": _avg(f[5], f[4]), "largest_payout": f[6],
                "loss_ratio": percent(f[5], f[2])}

    for bucket in scope.buckets:
        if bucket == scope.root.id and bucket not in figures:
            continue
        table.rows.append(row(_union_cell(scope, bucket), figures[bucket]))
    total = [sum(f[i] for f in figures.values()) for i in range(6)] + [max((f[6] for f in figures.values()), default=0)]
    # Members enrolled across unions: a member belongs to one union, so the rows add up.
    table.total = row(Coded("", L.TOTAL), total)
    return table


def _payouts_by_benefit(payouts: Payouts) -> Table:
    table = Table("payouts_by_benefit", _columns(("benefit", TEXT), ("payouts", COUNT), ("paid", YUAN),
                                                 ("average_payout", YUAN), ("largest_payout", YUAN)),
                  chart=Chart("bar", "benefit", ("paid",)))
    per: dict[str, list[int]] = {}
    for (_union, benefit), (n, paid, largest) in payouts.by_union.items():
        f = per.setdefault(benefit, [0, 0, 0])
        f[0] += n
        f[1] += paid
        f[2] = max(f[2], largest)
    for benefit in (*MUTUAL_AID_BENEFITS, RELIEF_BENEFIT, *sorted(set(per) - {*MUTUAL_AID_BENEFITS, RELIEF_BENEFIT})):
        n, paid, largest = per.get(benefit, (0, 0, 0))
        table.rows.append({"benefit": Coded(benefit, L.label(L.BENEFITS, benefit)), "payouts": n, "paid": paid,
                           "average_payout": _avg(paid, n), "largest_payout": largest})
    n, paid = sum(f[0] for f in per.values()), sum(f[1] for f in per.values())
    table.total = {"benefit": Coded("", L.TOTAL), "payouts": n, "paid": paid, "average_payout": _avg(paid, n),
                   "largest_payout": max((f[2] for f in per.values()), default=0)}
    return table


def _payouts_by_disease(payouts: Payouts) -> Table:
    table = Table("payouts_by_disease", _columns(("disease_code", TEXT), ("disease", TEXT), ("cir_payouts", COUNT),
                                                 ("cir_paid", YUAN), ("ci_payouts", COUNT), ("ci_paid", YUAN),
                                                 ("paid", YUAN)),
                  chart=Chart("bar", "disease", ("cir_paid", "ci_paid")))
    catalog = disease_catalog()
    per: dict[str, list[int]] = {d.code: [0, 0, 0, 0] for d in catalog.diseases}
    per[""] = [0, 0, 0, 0]
    for (benefit, icd), (n, paid, _largest) in payouts.by_diagnosis.items():
        disease = catalog.match(icd) if icd else None
        f = per[disease.code if disease else ""]
        at = 0 if benefit == RELIEF_BENEFIT else 2
        f[at] += n
        f[at + 1] += paid
    names = {d.code: L.Label(d.name_zh, d.name_en) for d in catalog.diseases} | {"": L.NOT_IN_CATALOG}
    for code, f in per.items():
        if code == "" and not any(f):
            continue
        table.rows.append({"disease_code": code, "disease": Coded(code, names[code]), "cir_payouts": f[0],
                           "cir_paid": f[1], "ci_payouts": f[2], "ci_paid": f[3], "paid": f[1] + f[3]})
    table.total = {"disease_code": "", "disease": Coded("", L.TOTAL),
                   **{k: sum(r[k] for r in table.rows) for k in ("cir_payouts", "cir_paid", "ci_payouts", "ci_paid", "paid")}}
    return table


def _payouts_by(grouped: dict[tuple[str, str], list[int]], key: str, column: str, cell, chart: str) -> Table:
    """Payouts of every benefit by one key (month, hospital grade): a column pair per benefit."""
    benefits = [b for b in (*MUTUAL_AID_BENEFITS, RELIEF_BENEFIT)]
    columns = [Column(column, TEXT, L.COLUMNS[column]), Column("payouts", COUNT, L.COLUMNS["payouts"])]
    for b in benefits:
        columns.append(Column(f"paid_{b}", YUAN, L.Label(f"{L.BENEFITS[b].zh}（元）", f"{L.BENEFITS[b].en} (yuan)")))
    columns.append(Column("paid", YUAN, L.COLUMNS["paid"]))
    table = Table(key, columns, chart=Chart(chart, column, tuple(f"paid_{b}" for b in benefits)))
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (benefit, k), (n, paid, _largest) in grouped.items():
        per[k]["payouts"] += n
        per[k][f"paid_{benefit}"] += paid
        per[k]["paid"] += paid
    for k in sorted(per):
        table.rows.append({column: cell(k), "payouts": per[k]["payouts"],
                           **{f"paid_{b}": per[k][f"paid_{b}"] for b in benefits}, "paid": per[k]["paid"]})
    table.total = {column: Coded("", L.TOTAL), **{c.key: sum(r[c.key] for r in table.rows) for c in columns[1:]}}
    return table


def _processing(stages: dict[str, Counter]) -> Table:
    table = Table("processing_times", _columns(("stage", TEXT), ("claims", COUNT), ("median_days", DAYS),
                                               ("p90_days", DAYS)),
                  chart=Chart("bar", "stage", ("median_days", "p90_days")))
    for stage, histogram in stages.items():
        p90 = percentile90(histogram)
        table.rows.append({"stage": Coded(stage, L.STAGES[stage]), "claims": sum(histogram.values()),
                           "median_days": median(histogram), "p90_days": None if p90 is None else Decimal(p90)})
    return table


def _fund_statements(scope: Scope, received: dict[tuple[str, str], int], relief: dict[tuple[str, str, str, str], int],
                     payouts: Payouts, allocated: dict[tuple[str, str], int]) -> Table:
    """Received, charged and balance per source: the mutual-aid pool and each relief source (league money per league)."""
    table = Table("fund_statements", _columns(("source", TEXT), ("league", TEXT), ("received", YUAN),
                                              ("charged", YUAN), ("balance", YUAN)),
                  chart=Chart("bar", "source", ("received", "charged")))
    pool_in = {s: sum(f for (_u, src), f in received.items() if src == s) for s in ("contributions", "union_subsidy")}
    pool_out = sum(paid for (_u, b), (_n, paid, _m) in payouts.by_union.items() if b in MUTUAL_AID_BENEFITS)
    for source in ("contributions", "union_subsidy"):
        # The pool is one fund: its charges are shown once, against the contributions.
        charged = pool_out if source == "contributions" else 0
        table.rows.append({"source": Coded(source, L.SOURCES[source]), "league": "", "received": pool_in[source],
                           "charged": charged, "balance": pool_in[source] - charged})
    charged: dict[tuple[str, str], int] = defaultdict(int)
    for (_union, _member, source, league), fen in relief.items():
        charged[(source, league if source == "league" else "")] += fen
    keys = sorted(set(allocated) | set(charged), key=lambda k: (RELIEF_SOURCES.index(k[0]) if k[0] in RELIEF_SOURCES
                                                                else 99, k))
    for source, league in keys:
        spent = charged.get((source, league), 0)
        # Region-wide money (no league) is kept by the tree's root: below it, only what was charged.
        got = allocated.get((source, league), 0) if scope.is_root or league else None
        table.rows.append({"source": Coded(source, L.label(L.SOURCES, source)), "league": league,
                           "received": got, "charged": spent, "balance": None if got is None else got - spent})
    balances = [r["balance"] for r in table.rows]
    table.total = {"source": Coded("", L.TOTAL), "league": "",
                   "received": sum(r["received"] or 0 for r in table.rows),
                   "charged": sum(r["charged"] for r in table.rows),
                   "balance": None if None in balances else sum(balances)}
    return table


def _summary(tables: list[Table]) -> Table:
    """The headline figures, each from the total row of the table that holds it."""
    by = {t.key: t for t in tables}
    ma = by["mutual_aid_by_union"].total or {}
    hr = by["hardship_register"].total or {}
    rc = by["relief_by_category"].total or {}
    allocated = sum(r["received"] or 0 for r in by["fund_statements"].rows if r["source"].code in RELIEF_SOURCES)
    figures: list[tuple[str, str, Any]] = [
        ("households", COUNT, hr.get("households", 0)), ("verified", COUNT, hr.get("verified", 0)),
        ("households_helped", COUNT, rc.get("households_helped", 0)), ("relief_paid", YUAN, rc.get("relief_paid", 0)),
        ("allocations", YUAN, allocated),
        ("members_enrolled", COUNT, ma.get("members_enrolled", 0)), ("member_periods", COUNT, ma.get("member_periods", 0)),
        ("contributions", YUAN, ma.get("contributions", 0)), ("claims", COUNT, ma.get("claims", 0)),
        ("mutual_aid_payouts", COUNT, ma.get("payouts", 0)), ("mutual_aid_paid", YUAN, ma.get("paid", 0)),
        ("average_payout", YUAN, ma.get("average_payout", 0)), ("largest_payout", YUAN, ma.get("largest_payout", 0)),
        ("loss_ratio", PERCENT, ma.get("loss_ratio")),
    ]
    table = Table("summary", [Column("figure", TEXT, L.COLUMNS["figure"]), Column("value", "by_row", L.COLUMNS["value"])])
    for key, kind, value in figures:
        table.rows.append({"figure": Coded(key, L.FIGURES[key]), "value": value, "kind": kind})
    return table


# ----------------------------------------------------------------------------- plain values (JSON, CSV)


def plain(value: Any, kind: str) -> Any:
    """A cell as JSON carries it: yuan and percentages as exact decimal strings, counts as integers."""
    if value is None:
        return None
    if isinstance(value, Coded):
        return {"code": value.code, "zh": value.label.zh, "en": value.label.en}
    if kind == YUAN:
        return format_fen(value)
    if kind in (PERCENT, DAYS):
        return str(value)
    return value


def as_json(report: Report) -> dict[str, Any]:
    def row(table: Table, r: dict[str, Any]) -> dict[str, Any]:
        return {c.key: plain(r.get(c.key), r.get("kind", c.kind) if c.kind == "by_row" else c.kind)
                for c in table.columns} | ({"kind": r["kind"]} if "kind" in r else {})

    return {
        "title": {"zh": L.REPORT.zh, "en": L.REPORT.en},
        "union": {"id": report.union.id, "name": report.union.name, "level": report.union.level},
        "period": {"from": report.period.start.isoformat(), "to": report.period.end.isoformat()},
        "tables": [
            {"key": t.key, "title": {"zh": t.title.zh, "en": t.title.en},
             "columns": [{"key": c.key, "kind": c.kind, "zh": c.label.zh, "en": c.label.en} for c in t.columns],
             "rows": [row(t, r) for r in t.rows],
             "total": row(t, t.total) if t.total is not None else None,
             "chart": {"kind": t.chart.kind, "category": t.chart.category, "series": list(t.chart.series)}
             if t.chart else None}
            for t in report.tables
        ],
    }
