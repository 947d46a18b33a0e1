"""Simulating drafts on past claims (as jobs in child processes) and re-adjudicating after publishing."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import tempfile
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from claims.accumulators import MemberAccumulators
from claims.cases import Claim
from claims.decision import AccumulatorChange
from claims.money import format_fen
from claims.settlement import parse_settlement
from service import audit
from service.auth import Principal, Role
from service.claims import domain_member
from service.errors import Invalid, NotFound
from service.plans import PlanBook, check, published_documents
from store import models
from store.repositories import apply_changes, lock_member


def _claims_in_range(session: Session, submitted_from: dt.date | None, submitted_to: dt.date | None):
    query = select(models.Claim).options(selectinload(models.Claim.settlement)).order_by(models.Claim.id)
    if submitted_from:
        query = query.where(models.Claim.submitted_on >= submitted_from)
    if submitted_to:
        query = query.where(models.Claim.submitted_on <= submitted_to)
    return session.scalars(query)


def export_cases(session: Session, path: str, submitted_from: dt.date | None, submitted_to: dt.date | None) -> int:
    """Past claims as a case file (spec/case-format.md), in the order they were submitted."""
    n = 0
    members: dict[str, dict[str, Any]] = {}
    with open(path, "w", encoding="utf-8") as out:
        for claim in _claims_in_range(session, submitted_from, submitted_to):
            if claim.member_id not in members:
                m = session.get(models.Member, claim.member_id)
                enrollments = session.scalars(select(models.Enrollment).where(models.Enrollment.member_id == m.id))
                regs = list(session.scalars(select(models.HardshipRegistration)
                                            .where(models.HardshipRegistration.member_id == m.id)))
                members[m.id] = {
                    "member": {"id": m.id, **({"gender": m.gender} if m.gender else {}),
                               **({"birth_date": m.birth_date.isoformat()} if m.birth_date else {})},
                    "enrollments": [{"period_start": e.period_start.isoformat(), "period_end": e.period_end.isoformat(),
                                     "enrolled_on": e.enrolled_on.isoformat()} for e in enrollments],
                    "registrations": regs,
                }
            info = members[claim.member_id]
            admitted = claim.settlement.begndate
            active = [r for r in info["registrations"]
                      if r.registered_on <= admitted and (r.revoked_on is None or r.revoked_on > admitted)]
            reg = max(active, key=lambda r: r.registered_on) if active else None
            case = {
                "case_id": f"claim-{claim.id}", "submitted_on": claim.submitted_on.isoformat(),
                "member": info["member"], "enrollments": info["enrollments"],
                "hardship": None if reg is None else {
                    "category": reg.category, "verified": reg.verified, "registered_on": reg.registered_on.isoformat(),
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

    Pended claims are not final: their decision is replaced. A decided claim is never
    changed: where the version in force now decides it differently, the difference
    becomes an ``Adjustment`` with the accumulator changes it makes. Each claim is
    re-decided against its member's totals as they stood then: the member's earlier
    claims (as decided now, adjustments included), in submission order.
    """
    who.require(Role.ADMIN)
    if not include_pended and submitted_from is None and submitted_to is None:
        raise Invalid.at("submitted_from", "choose pended claims, a date range, or both")
    ids: list[int] = []
    if include_pended:
        ids += list(session.scalars(select(models.Claim.id).where(models.Claim.status == "pended")))
    if submitted_from is not None or submitted_to is not None:
        ids += [c.id for c in _claims_in_range(session, submitted_from, submitted_to)
                if c.status in ("approved", "denied")]
    report: dict[str, Any] = {"claims": 0, "pended_redecided": 0, "adjustments": 0, "total_delta": 0, "changes": []}
    for claim_id in sorted(set(ids)):
        claim = session.scalar(select(models.Claim).where(models.Claim.id == claim_id)
                               .options(selectinload(models.Claim.lines), selectinload(models.Claim.settlement)))
        member = lock_member(session, claim.member_id)
        bill = parse_settlement(claim.settlement.record, prefix="")
        person, enrollments, hardship = domain_member(session, member, bill.begndate)
        domain = Claim(f"claim-{claim.id}", claim.submitted_on, person, enrollments, hardship, bill)
        # What this claim holds in the totals: its lines, and any earlier adjustment of it.
        own = _contributions(session, [claim.id])
        # The totals as they stood when it was decided: the member's earlier claims only.
        earlier = session.scalars(select(models.Claim.id).where(
            models.Claim.member_id == member.id, models.Claim.id < claim.id))
        without_own = MemberAccumulators()
        without_own.apply(_contributions(session, list(earlier)))
        first = session.get(models.AdjudicatedBill, (claim.settlement.fixmedins_code, claim.settlement.setl_id))
        duplicate = first is not None and first.claim_id != claim.id
        engine = plans.engine_for(session, bill.begndate)
        decision = engine.adjudicate(domain, without_own, duplicate)
        report["claims"] += 1
        old = {ln.benefit: ln for ln in claim.lines}
        line_diffs = [
            {"benefit": nl.benefit, "from_status": old[nl.benefit].status if nl.benefit in old else None,
             "to_status": nl.status.value, "from_amount": format_fen(old[nl.benefit].amount) if nl.benefit in old else "0.00",
             "to_amount": format_fen(nl.amount), "reasons": list(nl.reasons)}
            for nl in decision.lines
            if nl.benefit not in old or old[nl.benefit].status != nl.status.value or old[nl.benefit].amount != nl.amount
        ]
        delta_changes = _net(own, decision.changes)
        if claim.status == "pended":
            apply_changes(session, member.id, delta_changes)
            for line in claim.lines:
                session.delete(line)
            session.flush()
            for position, nl in enumerate(decision.lines):
                session.add(models.DecisionLine(
                    claim_id=claim.id, position=position, benefit=nl.benefit, status=nl.status.value, amount=nl.amount,
                    reasons=[str(r) for r in nl.reasons],
                    changes=[{"benefit": c.benefit, "measure": c.measure, "scope": c.scope, "delta": c.delta}
                             for c in nl.changes]))
            delta = decision.total - claim.total
            claim.status, claim.total = decision.status.value, decision.total
            claim.plan_version, claim.trace = engine.version, decision.trace
            report["pended_redecided"] += 1
            audit.record(session, who, "claim.readjudicated", "claim", claim.id, to_version=engine.version,
                         status=claim.status, total=format_fen(claim.total))
        elif line_diffs:
            delta = decision.total - claim.total
            apply_changes(session, member.id, delta_changes)
            adj = models.Adjustment(
                claim_id=claim.id, from_version=claim.plan_version, to_version=engine.version, total_delta=delta,
                lines=line_diffs, reason="re-adjudicated under the version in force",
                changes=[{"benefit": c.benefit, "measure": c.measure, "scope": c.scope, "delta": c.delta} for c in delta_changes])
            session.add(adj)
            session.flush()
            report["adjustments"] += 1
            audit.record(session, who, "claim.adjusted", "adjustment", adj.id, claim_id=claim.id,
                         total_delta=format_fen(delta), to_version=engine.version)
        else:
            continue
        report["total_delta"] += delta
        if line_diffs:
            report["changes"].append({"claim_id": claim.id, "total_delta": format_fen(delta), "lines": line_diffs})
    session.flush()
    report["total_delta"] = format_fen(report["total_delta"])
    return report


def _contributions(session: Session, claim_ids: list[int]) -> list[AccumulatorChange]:
    """The accumulator changes that claims hold: their lines' and their adjustments'."""
    if not claim_ids:
        return []
    out = [AccumulatorChange(**c) for changes in session.scalars(
        select(models.DecisionLine.changes).where(models.DecisionLine.claim_id.in_(claim_ids))) for c in changes]
    out += [AccumulatorChange(**c) for changes in session.scalars(
        select(models.Adjustment.changes).where(models.Adjustment.claim_id.in_(claim_ids))) for c in changes]
    return out


def _net(old: list[AccumulatorChange], new: list[AccumulatorChange]) -> list[AccumulatorChange]:
    """The accumulator changes that turn the old decision's contribution into the new one's."""
    net: dict[tuple[str, str, str], int] = {}
    for c in old:
        net[(c.benefit, c.measure, c.scope)] = net.get((c.benefit, c.measure, c.scope), 0) - c.delta
    for c in new:
        net[(c.benefit, c.measure, c.scope)] = net.get((c.benefit, c.measure, c.scope), 0) + c.delta
    return [AccumulatorChange(b, m, s, d) for (b, m, s), d in net.items() if d]

