"""Simulating drafts on past claims (as jobs in child processes) and re-adjudicating after publishing."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import multiprocessing as mp
import os
import tempfile
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from claims.accumulators import MemberAccumulators
from claims.dates import check_service_day
from claims.decision import BenefitLine, LineStatus, claim_status
from claims.funding import RELIEF, funding_of
from claims.money import format_fen, parse_yuan
from claims.settlement import parse_settlement
from service import audit, funds
from service import claim_aggregate as aggregate
from service.auth import Principal, Role
from service.errors import Conflict, Invalid, NotFound
from service.plans import PlanBook, check, published_documents
from store import models
from store.repositories import try_lock_readjudication


def _claims_in_range(session: Session, submitted_from: dt.date | None, submitted_to: dt.date | None):
    # A cancelled claim is a bill that never was: simulations decide the claims that stand.
    query = (select(models.Claim).where(models.Claim.status != aggregate.CANCELLED)
             .options(selectinload(models.Claim.settlement)).order_by(models.Claim.id))
    if submitted_from:
        query = query.where(models.Claim.submitted_on >= submitted_from)
    if submitted_to:
        query = query.where(models.Claim.submitted_on <= submitted_to)
    return session.scalars(query)


def export_cases(session: Session, path: str, submitted_from: dt.date | None, submitted_to: dt.date | None) -> int:
    """Past claims as a case file (spec/case-format.md), in the order they were submitted.

    Each member is read once through the claim aggregate, so a case carries exactly
    the hardship registration a claim of that admission date is decided with.
    """
    n = 0
    files: dict[str, aggregate.MemberFile] = {}
    cases_of: dict[str, dict[str, Any]] = {}
    with open(path, "w", encoding="utf-8") as out:
        for claim in _claims_in_range(session, submitted_from, submitted_to):
            if claim.member_id not in files:
                files.update(aggregate.load_members(session, [claim.member_id], lock=False, totals=False))
                file = files[claim.member_id]
                m = file.person
                cases_of[m.id] = {
                    "member": {"id": m.id, **({"gender": m.gender.value} if m.gender else {}),
                               **({"birth_date": m.birth_date.isoformat()} if m.birth_date else {})},
                    "enrollments": [{"period_start": e.period_start.isoformat(), "period_end": e.period_end.isoformat(),
                                     "enrolled_on": e.enrolled_on.isoformat()} for e in file.enrollments],
                }
            reg = files[claim.member_id].hardship_on(claim.settlement.begndate)
            case = {
                "case_id": f"claim-{claim.id}", "submitted_on": claim.submitted_on.isoformat(),
                **cases_of[claim.member_id],
                "hardship": None if reg is None else {
                    "category": reg.category.value, "verified": reg.verified,
                    "registered_on": reg.registered_on.isoformat(),
                    "revoked_on": reg.revoked_on.isoformat() if reg.revoked_on else None},
                "bill": claim.settlement.record,
            }
            out.write(json.dumps(case, ensure_ascii=False) + "\n")
            n += 1
    return n


def start_simulation(session: Session, who: Principal, plan_id: int, submitted_from: dt.date | None,
                     submitted_to: dt.date | None) -> models.Job:
    """Queue a simulation of a version (usually a draft) on past claims; a child process runs it."""
    who.require(Role.ADMIN)
    for field, day in (("submitted_from", submitted_from), ("submitted_to", submitted_to)):
        try:  # the API's SimulationRequest checks it too; the console comes here
            if day is not None:
                check_service_day(day)
        except ValueError as err:
            raise Invalid.at(field, str(err)) from None
    version = session.get(models.PlanVersion, plan_id)
    if version is None:
        raise NotFound(f"no plan version {plan_id}")
    plan, errors = check(version.document)
    if plan is None:
        raise Invalid("the version is not valid; fix it before simulating", errors)
    job = models.Job(kind="simulation", status="queued", params={
        "plan_id": plan_id, "submitted_from": submitted_from.isoformat() if submitted_from else None,
        "submitted_to": submitted_to.isoformat() if submitted_to else None})
    session.add(job)
    session.flush()
    audit.record(session, who, "plan.simulation_started", "plan", plan_id, job_id=job.id)
    return job


def launch(job_id: int, db_url: str) -> None:
    """Run a queued job in a child process that exits when done (called after the job is committed)."""
    ctx = mp.get_context("spawn")
    ctx.Process(target=run_job, args=(job_id, db_url), daemon=False).start()


def run_job(job_id: int, db_url: str) -> None:
    from rules.simulation import simulate
    from store.db import make_engine, session_factory

    engine = make_engine(db_url)
    sessions = session_factory(engine)
    with sessions() as session:
        job = session.get(models.Job, job_id)
        params = dict(job.params)
        draft = session.get(models.PlanVersion, params["plan_id"]).document
        baseline = published_documents(session)  # in publication order: it settles same-day versions
        handle, path = tempfile.mkstemp(suffix=".jsonl")
        os.close(handle)
        frm = dt.date.fromisoformat(params["submitted_from"]) if params["submitted_from"] else None
        to = dt.date.fromisoformat(params["submitted_to"]) if params["submitted_to"] else None
        total = export_cases(session, path, frm, to)
        job.status, job.total = "running", total
        session.commit()

    def progress(done: int, _total: int) -> None:
        with sessions() as s:
            row = s.get(models.Job, job_id)
            row.done = done
            s.commit()

    try:
        report = simulate(path, draft, baseline, progress=progress) if total else {"cases": 0}
        status, error = "done", ""
    except Exception as err:  # noqa: BLE001 - the job records why it failed
        report, status, error = None, "failed", f"{type(err).__name__}: {err}"
    finally:
        os.unlink(path)
    with sessions() as session:
        job = session.get(models.Job, job_id)
        job.status, job.report, job.error = status, report, error
        job.done = total if status == "done" else job.done
        job.finished_at = dt.datetime.now(dt.timezone.utc)
        session.commit()
    engine.dispose()


def get_job(session: Session, who: Principal, job_id: int) -> models.Job:
    who.require(Role.ADMIN)
    job = session.get(models.Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def readjudicate(session: Session, who: Principal, plans: PlanBook, *, include_pended: bool,
                 submitted_from: dt.date | None, submitted_to: dt.date | None) -> dict[str, Any]:
    """Decide claims again under the versions now in force.

    Pended claims are not final: their unreviewed lines are decided anew. A decided
    claim is never changed: where the version in force now decides it differently
    from how it stands (its decision and the adjustments since), the difference becomes
    an ``Adjustment`` with the accumulator changes it makes, so a second run for the
    same versions adds nothing. A line a reviewer decided keeps that decision and is
    listed as skipped. Each claim is decided against its member's totals as they stood
    then: the member's earlier claims as they hold now, in submission order.

    Locks follow ``service.claim_aggregate``: every member concerned first (id order),
    then the totals, then the audit chain once at the end, so a run never waits in a
    circle with a submission. A second run while one holds its lock gets 409.
    """
    who.require(Role.ADMIN)
    if not include_pended and submitted_from is None and submitted_to is None:
        raise Invalid.at("submitted_from", "choose pended claims, a date range, or both")
    if not try_lock_readjudication(session):
        raise Conflict("a re-adjudication is running; try again when it has finished")
    query = select(models.Claim.id, models.Claim.member_id)
    chosen = []
    if include_pended:
        chosen.append(models.Claim.status == "pended")
    if submitted_from is not None or submitted_to is not None:
        in_range = models.Claim.status.in_(("approved", "denied"))
        if submitted_from is not None:
            in_range &= models.Claim.submitted_on >= submitted_from
        if submitted_to is not None:
            in_range &= models.Claim.submitted_on <= submitted_to
        chosen.append(in_range)
    targets = session.execute(query.where(or_(*chosen)).order_by(models.Claim.id)).all()
    report: dict[str, Any] = {"claims": 0, "pended_redecided": 0, "adjustments": 0, "total_delta": 0, "changes": [],
                              "skipped": [], "held_for_review": [], "held_for_funds": []}
    if not targets:
        report["total_delta"] = format_fen(0)
        return report
    files = aggregate.load_members(session, {m for _, m in targets}, totals=False)  # lock order: members first
    target_ids = [claim_id for claim_id, _ in targets]
    # Every claim of these members up to the last one decided again: the earlier ones
    # make up the totals each is decided against.
    history = session.execute(
        select(models.Claim.id, models.Claim.member_id)
        .where(models.Claim.member_id.in_(sorted(files)), models.Claim.id <= target_ids[-1])
        .order_by(models.Claim.id)).all()
    held = aggregate.holdings(session, [claim_id for claim_id, _ in history])
    claims = {c.id: c for c in session.scalars(
        select(models.Claim).where(models.Claim.id.in_(target_ids))
        .options(selectinload(models.Claim.lines), selectinload(models.Claim.settlement)))}
    adjustments = aggregate.adjustments_of(session, target_ids)
    bills = {claim_id: parse_settlement(c.settlement.record, prefix="") for claim_id, c in claims.items()}
    first = aggregate.decided_bills(session, {(c.settlement.fixmedins_code, c.settlement.setl_id) for c in claims.values()})
    engines = plans.engines_for(session, {b.begndate for b in bills.values()})
    targeted = set(target_ids)
    # Charges follow the lines (lock order: the pools after the totals, in the one Purse).
    purse = funds.Purse(session, who)
    charged = funds.held_by_line(session, [ln.id for c in claims.values() for ln in c.lines])
    leagues = funds.leagues_of(session, files)
    # The pools of the claims with a relief line, at once, in key order (the lines are
    # charged claim by claim, and a claim's pools taken one statement at a time could
    # wait in a circle with a submission's).
    purse.lock_all({(bill.begndate.year, leagues.get(claims[claim_id].member_id)) for claim_id, bill in bills.items()
                    if any(funding_of(engines[bill.begndate].plan).fund_of(ln.benefit) == RELIEF
                           for ln in claims[claim_id].lines)})
    before: dict[str, MemberAccumulators] = {m: MemberAccumulators() for m in files}
    entries: list[tuple[str, str, object, dict[str, Any]]] = []
    for claim_id, member_id in history:
        if claim_id not in targeted:
            before[member_id].apply(held[claim_id])
            continue
        claim, bill, file = claims[claim_id], bills[claim_id], files[member_id]
        standing = aggregate.lines_now(claim.lines, adjustments[claim_id])
        fixed = {b: h.line for b, h in standing.items() if h.reviewed}
        for b in list(fixed):
            report["skipped"].append({"claim_id": claim_id, "benefit": b, "why": "decided by a reviewer"})
        engine = engines[bill.begndate]
        duplicate = first.get((claim.settlement.fixmedins_code, claim.settlement.setl_id), claim_id) != claim_id
        domain = file.claim(f"claim-{claim_id}", claim.submitted_on, bill)
        funding = funds.funding_of_version(session, plans, engine.version)
        rows_of = {ln.benefit: ln for ln in claim.lines}
        while True:
            decision = engine.adjudicate(domain, before[member_id], duplicate, fixed=fixed or None)
            # A decided claim has no line left for a reviewer: a line the version in force
            # would pend for review stays as it was decided (nothing reserved for it), is
            # reported, and the lines after it are decided again around it.
            while claim.status != "pended":
                pending = [ln for ln in decision.lines if ln.status is LineStatus.PENDED and ln.benefit not in fixed]
                if not pending:
                    break
                for ln in pending:
                    fixed[ln.benefit] = standing[ln.benefit].line if ln.benefit in standing else \
                        BenefitLine(ln.benefit, LineStatus.NOT_APPLICABLE)
                    report["held_for_review"].append({"claim_id": claim_id, "benefit": ln.benefit,
                                                      "why": "the version in force would pend it for review; "
                                                             "it stays as decided"})
                decision = engine.adjudicate(domain, before[member_id], duplicate, fixed=fixed)
            # A reviewed line of a benefit the version no longer has stays as it is.
            kept = [h.line for b, h in standing.items() if h.reviewed and b not in {ln.benefit for ln in decision.lines}]
            new_holding = [*decision.changes, *(c for line in kept for c in line.changes)]
            delta_changes = aggregate.net(held[claim_id], new_holding)
            line_diffs = [
                {"benefit": nl.benefit,
                 "from_status": standing[nl.benefit].line.status.value if nl.benefit in standing else None,
                 "to_status": nl.status.value,
                 "from_amount": format_fen(standing[nl.benefit].line.amount) if nl.benefit in standing else "0.00",
                 "to_amount": format_fen(nl.amount), "reasons": [str(r) for r in nl.reasons]}
                for nl in decision.lines
                if nl.benefit not in fixed and (nl.benefit not in standing or standing[nl.benefit].line.status != nl.status
                                                or standing[nl.benefit].line.amount != nl.amount)
            ]
            if claim.status == "pended":
                break
            # A decided claim's line the version in force pays more than its fund can cover
            # stays as decided, like one it would pend, and the lines after it are decided
            # again around it. (A benefit the claim has no stored line for is not charged.)
            outcome = purse.plan([
                funds.Want(rows_of[d["benefit"]].id, member_id, d["benefit"], bill.begndate.year, leagues.get(member_id),
                           funding, parse_yuan(d["to_amount"]) if d["to_status"] == LineStatus.APPROVED.value else 0,
                           charged.get(rows_of[d["benefit"]].id, {}), if_short="hold")
                for d in line_diffs if d["benefit"] in rows_of])
            if not outcome.unfunded:
                break
            for line_id in outcome.unfunded:
                benefit = next(b for b, row in rows_of.items() if row.id == line_id)
                fixed[benefit] = standing[benefit].line
                report["held_for_funds"].append({"claim_id": claim_id, "benefit": benefit,
                                                 "why": "its fund cannot pay what the version in force adds; "
                                                        "it stays as decided"})
        report["claims"] += 1
        standing_total = sum(h.line.amount for h in standing.values() if h.line.counts)
        delta = decision.total + sum(ln.amount for ln in kept if ln.counts) - standing_total
        unchanged = not line_diffs and not delta_changes
        if claim.status == "pended" and not (unchanged and claim.plan_version == engine.version):
            aggregate.move_totals(session, member_id, delta_changes)
            rows = {ln.benefit: ln for ln in claim.lines}
            for position, nl in enumerate(decision.lines):
                if nl.benefit in fixed:
                    rows[nl.benefit].position = position
                    continue
                if nl.benefit in rows:
                    row = rows[nl.benefit]
                    row.position, row.status, row.amount = position, nl.status.value, nl.amount
                    row.reasons, row.changes = [str(r) for r in nl.reasons], [aggregate.change_json(c) for c in nl.changes]
                else:
                    session.add(models.DecisionLine(**aggregate.line_row(claim_id, position, nl)))
            gone = [row for benefit, row in rows.items()
                    if benefit not in fixed and benefit not in {ln.benefit for ln in decision.lines}]
            for row in gone:
                session.delete(row)
            session.flush()  # new lines get their ids, to be charged
            stored = [row for row in session.scalars(select(models.DecisionLine)
                                                     .where(models.DecisionLine.claim_id == claim_id))]
            funds.settle_lines(session, purse, claim, stored, funding, leagues.get(member_id), gone=gone)
            claim.status = claim_status([BenefitLine(ln.benefit, LineStatus(ln.status), ln.amount) for ln in stored]).value
            claim.total = decision.total + sum(ln.amount for ln in kept if ln.counts)
            claim.plan_version, claim.trace = engine.version, decision.trace
            report["pended_redecided"] += 1
            entries.append(("claim.readjudicated", "claim", claim_id, {
                "to_version": engine.version, "status": claim.status, "total": format_fen(claim.total),
                "kept_reviewed": sorted(fixed)}))
        elif claim.status != "pended" and not unchanged:
            aggregate.move_totals(session, member_id, delta_changes)
            adj = models.Adjustment(
                claim_id=claim_id, from_version=claim.plan_version, to_version=engine.version, total_delta=delta,
                lines=line_diffs, reason="re-adjudicated under the version in force",
                changes=[aggregate.change_json(c) for c in delta_changes])
            session.add(adj)
            session.flush()
            purse.apply(outcome, {ref: (ref, claim_id) for ref in {mv.ref for mv in outcome.moves}})
            report["adjustments"] += 1
            entries.append(("claim.adjusted", "adjustment", adj.id, {
                "claim_id": claim_id, "total_delta": format_fen(delta), "to_version": engine.version}))
        else:
            before[member_id].apply(held[claim_id])
            continue
        before[member_id].apply(new_holding)
        report["total_delta"] += delta
        if line_diffs:
            report["changes"].append({"claim_id": claim_id, "total_delta": format_fen(delta), "lines": line_diffs})
    session.flush()
    # Each re-decided claim's entry holds the digest of its lines as they now stand: read
    # once for all of them, after the last change.
    redecided = [entity_id for action, _, entity_id, _ in entries if action == "claim.readjudicated"]
    stored_lines: dict[int, list[models.DecisionLine]] = {claim_id: [] for claim_id in redecided}
    if redecided:
        for line in session.scalars(select(models.DecisionLine).where(models.DecisionLine.claim_id.in_(redecided))):
            stored_lines[line.claim_id].append(line)
    for action, _, entity_id, details in entries:
        if action == "claim.readjudicated":
            details["decision"] = audit.decision_digest(stored_lines[entity_id])
    # The audit chain last (lock order), in runs of one kind: one lock and one insert each.
    for (action, entity), run in itertools.groupby(entries, key=lambda e: (e[0], e[1])):
        audit.record_many(session, who, action, entity, [(entity_id, details) for _, _, entity_id, details in run])
    report["total_delta"] = format_fen(report["total_delta"])
    return report
