"""The claim aggregate: a claim's context loaded, and its decision saved, in one place.

Submission, review, re-adjudication, simulation on stored claims and ``claims check``
all load a member's context (the person, enrollments, hardship register, totals, bills
already decided) and save decisions (claim, lines, accumulator changes, adjustments,
audit) through this module, so there is one answer to "what does this member's claim
look like to the engine" and one to "what does this claim hold in the totals".

Lock order. Every transaction that changes claims or totals takes its locks in this
order, so two of them never wait for each other in a circle:

1. members, in id order (``lock_members``: PostgreSQL ``FOR UPDATE``; on SQLite the
   transaction already holds the database's write lock, ``BEGIN IMMEDIATE``);
2. settlements, in id order (submission only);
3. accumulator rows, in key order (``apply_members_changes``, one upsert);
4. fund pools, in key order (``service.funds.Purse``: relief pools only, one upsert);
5. the audit chain, last (``audit.record_many``: the one row of ``audit_head``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, String, bindparam, cast, func, insert, literal, null, select, tuple_, union_all
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from claims.accumulators import MemberAccumulators
from claims.cases import Claim
from claims.decision import CLAIM_CANCELLED, AccumulatorChange, BenefitLine, Decision, LineStatus
from claims.funding import RELIEF, Funding, funding_of
from claims.members import Enrollment, Gender, HardshipCategory, HardshipRegistration, Member, hardship_on
from claims.money import parse_yuan
from claims.settlement import Settlement
from service import funds, report_facts
from service.plans import PUBLICATION_ORDER, PUBLISHED, PublishedVersion
from store import models
from store.repositories import apply_members_changes, is_postgres, lock_members


CANCELLED = CLAIM_CANCELLED  # kept here too: the services name it ``aggregate.CANCELLED``


@dataclass(slots=True)
class MemberFile:
    """One member as the engine sees them: person, enrollments, hardship register, totals."""

    row: models.Member
    person: Member
    enrollments: tuple[Enrollment, ...]
    registrations: tuple[HardshipRegistration, ...]  # in the order they were entered
    totals: MemberAccumulators

    def hardship_on(self, day: dt.date) -> HardshipRegistration | None:
        return hardship_on(self.registrations, day)

    def claim(self, case_id: str, submitted_on: dt.date, bill: Settlement) -> Claim:
        """The member's claim of ``bill``: the registration active on admission decides."""
        return Claim(case_id, submitted_on, self.person, self.enrollments, self.hardship_on(bill.begndate), bill)


def load_members(session: Session, member_ids: Iterable[str], *, lock: bool = True,
                 totals: bool = True) -> dict[str, MemberFile]:
    """The members' files by id (unknown ids missing); ``lock``: locked until the transaction ends."""
    ids = sorted(set(member_ids))
    if lock:
        rows = lock_members(session, ids)
    else:
        rows = {m.id: m for m in session.scalars(select(models.Member).where(models.Member.id.in_(ids)))}
    return files_of(session, rows, totals=totals)


def files_of(session: Session, rows: dict[str, models.Member], *, totals: bool = True) -> dict[str, MemberFile]:
    """The files of members whose rows the caller has read already (locked, when it decides).

    Enrollments, hardship registrations and (``totals``) accumulators come in one
    statement (``_file_rows``): at the hospital desk each statement is a round trip and
    a fifth of a millisecond of the worker's time.
    """
    return _files(session, rows, totals, schedule=False)[0]


def files_and_schedule(session: Session, rows: dict[str, models.Member]) -> tuple[dict[str, MemberFile],
                                                                                 list[PublishedVersion]]:
    """The members' files with their totals and, in the same statement, the published plan versions
    in publication order (``PlanBook.engines_for`` takes them): the desk's one read before it decides."""
    return _files(session, rows, True, schedule=True)


def _files(session: Session, rows: dict[str, models.Member], totals: bool,
           schedule: bool) -> tuple[dict[str, MemberFile], list[PublishedVersion]]:
    known = sorted(rows)
    enrollments: dict[str, list[Enrollment]] = defaultdict(list)
    registrations: dict[str, list[HardshipRegistration]] = defaultdict(list)
    stored: dict[str, MemberAccumulators] = {m: MemberAccumulators() for m in known}
    versions: list[PublishedVersion] = []
    for kind, member_id, _n, d1, d2, d3, t1, t2, t3, flag, value in _file_rows(session, known, totals, schedule):
        if kind == "E":
            enrollments[member_id].append(Enrollment(d1, d2, d3))
        elif kind == "H":
            registrations[member_id].append(HardshipRegistration(HardshipCategory(t1), bool(flag), d1, d2))
        elif kind == "P":
            versions.append(PublishedVersion(int(value), t1, d1))
        else:
            stored[member_id].values[(t1, t2, t3)] = value
    return {
        m: MemberFile(
            row=rows[m],
            person=Member(m, Gender(rows[m].gender) if rows[m].gender else None, rows[m].birth_date),
            enrollments=tuple(enrollments[m]),
            registrations=tuple(registrations[m]),
            totals=stored[m],
        )
        for m in known
    }, versions


def _file_rows(session: Session, member_ids: list[str], totals: bool, schedule: bool = False) -> list:
    """Enrollments ("E": start, end, enrolled on), hardship registrations ("H": registered on, revoked on,
    category, verified) and accumulators ("A": benefit, measure, scope, value) of the members, in one
    UNION ALL, each kind in the order it was entered; with ``schedule`` also the published plan
    versions ("P": effective from, content hash, id), in publication order.

    The member ids are one expanding parameter named in every branch, read in parts of
    10,000: PostgreSQL binds them once a statement (within its 65,535 parameters),
    SQLite once a branch (30,000, within its 32,766). The first branch types every column
    (a typed NULL where it has none), so SQLite's dates and booleans come back as dates and booleans.
    The schedule comes with the first part.
    """
    if not member_ids and not schedule:
        return []
    found: list = []
    for start in range(0, max(len(member_ids), 1), 10_000):
        query = _FILE_QUERIES[(totals, schedule and start == 0)]
        found += session.execute(query, {"member_ids": member_ids[start:start + 10_000]}).all()
    return found


def _file_query(totals: bool, schedule: bool):
    e, h, a = models.Enrollment, models.HardshipRegistration, models.Accumulator
    ids = bindparam("member_ids", expanding=True)
    nothing = null()
    branches = [
        select(literal("E").label("kind"), e.member_id.label("member_id"), e.id.label("n"), e.period_start.label("d1"),
               e.period_end.label("d2"), e.enrolled_on.label("d3"), cast(nothing, String).label("t1"),
               cast(nothing, String).label("t2"), cast(nothing, String).label("t3"),
               cast(nothing, Boolean).label("flag"), cast(nothing, BigInteger).label("value"))
        .where(e.member_id.in_(ids)),
        select(literal("H"), h.member_id, h.id, h.registered_on, h.revoked_on, nothing, h.category, nothing, nothing,
               h.verified, nothing).where(h.member_id.in_(ids)),
    ]
    if totals:
        branches.append(select(literal("A"), a.member_id, literal(0), nothing, nothing, nothing, a.benefit, a.measure,
                               a.scope, nothing, a.value).where(a.member_id.in_(ids)))
    if schedule:
        p = models.PlanVersion
        branches.append(select(literal("P"), nothing, func.row_number().over(order_by=PUBLICATION_ORDER),
                               p.effective_from, nothing, nothing, p.content_hash, nothing, nothing, nothing, p.id)
                        .where(PUBLISHED))
    return union_all(*branches).order_by("kind", "n")


# Built once (a statement built anew is walked anew for SQLAlchemy's cache key).
_FILE_QUERIES = {(totals, schedule): _file_query(totals, schedule) for totals in (False, True) for schedule in (False, True)}
_INSERT_CLAIMS = insert(models.Claim.__table__).returning(models.Claim.__table__.c.id, sort_by_parameter_order=True)
_INSERT_LINES = insert(models.DecisionLine.__table__)
_INSERT_LINES_RETURNING = _INSERT_LINES.returning(models.DecisionLine.__table__.c.id, sort_by_parameter_order=True)
_INSERT_DECIDED_BILLS = insert(models.AdjudicatedBill.__table__)


def decided_bills(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Of these bills, those already decided, with the claim that decided each first."""
    wanted = list(set(keys))
    if not wanted:
        return {}
    rows = session.execute(
        select(models.AdjudicatedBill.fixmedins_code, models.AdjudicatedBill.setl_id, models.AdjudicatedBill.claim_id)
        .where(tuple_(models.AdjudicatedBill.fixmedins_code, models.AdjudicatedBill.setl_id).in_(wanted)))
    return {(code, setl): claim_id for code, setl, claim_id in rows}


# ----------------------------------------------------------------------------- lines and what they hold


def change_json(c: AccumulatorChange) -> dict:
    return {"benefit": c.benefit, "measure": c.measure, "scope": c.scope, "delta": c.delta}


def changes_of(raw: Iterable[dict]) -> list[AccumulatorChange]:
    return [AccumulatorChange(**c) for c in raw]


def line_row(claim_id: int, position: int, line: BenefitLine) -> dict:
    return {"claim_id": claim_id, "position": position, "benefit": line.benefit, "status": line.status.value,
            "amount": line.amount, "reasons": [str(r) for r in line.reasons], "review_note": "", "reviewed": False,
            "changes": [change_json(c) for c in line.changes]}


def net(old: Iterable[AccumulatorChange], new: Iterable[AccumulatorChange]) -> list[AccumulatorChange]:
    """The accumulator changes that turn what ``old`` holds into what ``new`` holds."""
    total: dict[tuple[str, str, str], int] = {}
    for c in old:
        total[(c.benefit, c.measure, c.scope)] = total.get((c.benefit, c.measure, c.scope), 0) - c.delta
    for c in new:
        total[(c.benefit, c.measure, c.scope)] = total.get((c.benefit, c.measure, c.scope), 0) + c.delta
    return [AccumulatorChange(b, m, s, d) for (b, m, s), d in total.items() if d]


def adjustments_of(session: Session, claim_ids: Iterable[int]) -> dict[int, list[models.Adjustment]]:
    found: dict[int, list[models.Adjustment]] = defaultdict(list)
    ids = list(set(claim_ids))
    if ids:
        for adj in session.scalars(select(models.Adjustment).where(models.Adjustment.claim_id.in_(ids))
                                   .order_by(models.Adjustment.id)):
            found[adj.claim_id].append(adj)
    return found


def holdings(session: Session, claim_ids: Iterable[int] | None = None) -> dict[int, list[AccumulatorChange]]:
    """What each claim holds in its member's totals: its lines' changes and its adjustments'.

    ``None``: every claim (``claims check`` sums these and compares them with the totals).
    A cancelled claim holds nothing: its cancellation released what it held.
    """
    found: dict[int, list[AccumulatorChange]] = defaultdict(list)
    standing = models.Claim.status != CANCELLED
    lines = (select(models.DecisionLine.claim_id, models.DecisionLine.changes)
             .join(models.Claim, models.Claim.id == models.DecisionLine.claim_id).where(standing))
    adjustments = (select(models.Adjustment.claim_id, models.Adjustment.changes)
                   .join(models.Claim, models.Claim.id == models.Adjustment.claim_id).where(standing))
    if claim_ids is not None:
        ids = list(set(claim_ids))
        if not ids:
            return found
        lines = lines.where(models.DecisionLine.claim_id.in_(ids))
        adjustments = adjustments.where(models.Adjustment.claim_id.in_(ids))
    for query in (lines.order_by(models.DecisionLine.id), adjustments.order_by(models.Adjustment.id)):
        for claim_id, changes in session.execute(query):
            found[claim_id].extend(changes_of(changes))
    return found


@dataclass(slots=True)
class HeldLine:
    """A benefit line as it stands now: the decision, then every adjustment of it."""

    line: BenefitLine
    reviewed: bool


def lines_now(lines: Iterable[models.DecisionLine], adjustments: Iterable[models.Adjustment]) -> dict[str, HeldLine]:
    """A claim's lines as they stand: each adjustment's amount replaces the line's, its changes add up."""
    held = {
        ln.benefit: HeldLine(BenefitLine(ln.benefit, LineStatus(ln.status), ln.amount, list(ln.reasons),
                                         changes_of(ln.changes)), ln.reviewed)
        for ln in sorted(lines, key=lambda ln: ln.position)
    }
    for adj in adjustments:
        by_benefit: dict[str, list[AccumulatorChange]] = defaultdict(list)
        for c in changes_of(adj.changes):
            by_benefit[c.benefit].append(c)
        for diff in adj.lines:
            benefit = diff["benefit"]
            before = held.get(benefit)
            changes = net([], [*(before.line.changes if before else []), *by_benefit.pop(benefit, [])])
            held[benefit] = HeldLine(BenefitLine(benefit, LineStatus(diff["to_status"]), parse_yuan(diff["to_amount"]),
                                                 list(diff.get("reasons", [])), changes),
                                     before.reviewed if before else False)
        for benefit, changes in by_benefit.items():  # changes of a line whose amount did not move
            if benefit in held:
                held[benefit].line.changes = net([], [*held[benefit].line.changes, *changes])
    return held


# ----------------------------------------------------------------------------- saving


def insert_claims(session: Session, claim_rows: list[dict], decisions: list[Decision],
                  settlements: list[models.Settlement], duplicates: list[bool],
                  fundings: list[Funding] | None = None) -> list[models.Claim]:
    """Store new claims with their lines, the totals they move, the bills they decide and the charges.

    One statement per table for them all; the returned rows carry their lines and
    settlement, built from what was written (reading them back would only cost queries).
    In lock order: the accumulator rows, then the fund pools (``service.funds``), which
    may pend a line its fund cannot pay (``FUND_EXHAUSTED``): the claim's status then
    follows its lines.
    """
    moved = [(claim_row["member_id"], c) for claim_row, decision in zip(claim_rows, decisions) for c in decision.changes]
    apply_members_changes(session, moved)
    fundings = fundings or [funding_of(None)] * len(decisions)
    # Only relief money is kept per league: the query is made for claims with a relief line to pay.
    leagues = funds.leagues_of(session, {row["member_id"] for row, d, funding in zip(claim_rows, decisions, fundings)
                                         if any(ln.status is LineStatus.APPROVED and funding.fund_of(ln.benefit) == RELIEF
                                                for ln in d.lines)})
    charges = funds.fund_decisions(
        session, [(row["member_id"], bill.begndate.year, decision, funding)
                  for row, bill, decision, funding in zip(claim_rows, settlements, decisions, fundings)], leagues)
    for claim_row, decision in zip(claim_rows, decisions):
        claim_row["status"] = decision.status.value
    # The tables' inserts, not the ORM's bulk inserts: the same rows for a third less of
    # the worker's time a statement (the rows are made into objects below, without a read).
    ids = session.scalars(_INSERT_CLAIMS, claim_rows).all()
    records: list[models.Claim] = []
    line_rows: list[dict] = []
    bill_rows: list[dict] = []
    for claim_id, claim_row, decision, row, duplicate in zip(ids, claim_rows, decisions, settlements, duplicates):
        record = models.Claim(id=claim_id, **claim_row)
        lines = [line_row(claim_id, position, line) for position, line in enumerate(decision.lines)]
        line_rows.extend(lines)
        if not duplicate:
            bill_rows.append({"fixmedins_code": row.fixmedins_code, "setl_id": row.setl_id, "claim_id": claim_id})
        set_committed_value(record, "settlement", row)
        set_committed_value(record, "adjustments", [])
        records.append(record)
    # The lines' ids, for their charges: read back in one statement (RETURNING with
    # rows in order is a statement per row on SQLite).
    line_ids: dict[tuple[int, int], int] = {}
    if line_rows and is_postgres(session):
        # PostgreSQL returns the ids of an executemany in the rows' order in one statement.
        made = session.scalars(_INSERT_LINES_RETURNING, line_rows).all()
        line_ids = {(row["claim_id"], row["position"]): line_id for row, line_id in zip(line_rows, made)}
    elif line_rows:
        session.execute(_INSERT_LINES, line_rows)
        line_ids = {(claim_id, position): line_id for line_id, claim_id, position in session.execute(
            select(models.DecisionLine.id, models.DecisionLine.claim_id, models.DecisionLine.position)
            .where(models.DecisionLine.claim_id.in_(ids)))}
    by_claim: dict[int, list[models.DecisionLine]] = defaultdict(list)
    where: dict[tuple[int, int], tuple[int, int]] = {}
    index = {claim_id: i for i, claim_id in enumerate(ids)}
    for line in line_rows:
        line_id = line_ids[(line["claim_id"], line["position"])]
        by_claim[line["claim_id"]].append(models.DecisionLine(id=line_id, **line))
        where[(index[line["claim_id"]], line["position"])] = (line_id, line["claim_id"])
    for record in records:
        set_committed_value(record, "lines", by_claim.get(record.id, []))
    if bill_rows:
        session.execute(_INSERT_DECIDED_BILLS, bill_rows)
    # The report's facts first: the charges' ledger entries find the claims' facts there.
    report_facts.record_claims(session, records, settlements)
    charges.store(where)
    return records


def move_totals(session: Session, member_id: str, changes: Iterable[AccumulatorChange]) -> None:
    apply_members_changes(session, ((member_id, c) for c in changes))
