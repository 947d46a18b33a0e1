"""What a member's benefits have paid and what is left, on a day.

Every figure comes from the member's stored totals (``accumulators``, the same the
engine reads when it decides a claim) under the plan in force on the day: each amount
formula says which totals it keeps and reads its own caps from the plan
(``rules.formulas``: ``standing``), so a changed plan answers with its own caps.

Pended lines count in the totals (they reserve their amount until a reviewer decides,
default-plan.md section 8); the answer shows that part apart as ``reserved``, read from
the pended lines as they stand now, and ``left`` is what neither paid nor reserved
lines took. A reviewer's denial gives the reservation back.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from claims.accumulators import MemberAccumulators
from claims.decision import LineStatus
from claims.money import format_fen
from rules.engine import scopes_on
from rules.explain import reason_text
from rules.facts import standing_facts
from service import claim_aggregate as aggregate
from service.auth import MEMBER_READERS, Principal
from service.errors import NotFound
from service.plans import PlanBook
from service.schemas import (
    BenefitStandingRead,
    GrantRead,
    HardshipOnRead,
    MemberBenefitsRead,
    PeriodRead,
    ReasonRead,
)
from store import models


def member_benefits(session: Session, who: Principal, plans: PlanBook, member_id: str,
                    on: dt.date) -> MemberBenefitsRead:
    """The member's benefits on ``on``: to the member, the officers and finance officers of their subtree.

    Anyone else gets the answer of an unknown member (404); a role that never reads
    members (a hospital), 403 for every id.
    """
    who.require(*MEMBER_READERS)
    file = aggregate.load_members(session, [member_id], lock=False).get(member_id)
    if file is None:
        raise NotFound(f"no member {member_id}")
    who.require_member(file.row, reading=True)
    engine = plans.engine_for(session, on)
    hardship = file.hardship_on(on)
    facts, membership = standing_facts(file.person, file.enrollments, hardship, on)
    scopes = scopes_on(membership, on)
    reserved = reserved_by_pended_lines(session, member_id)
    plan = engine.plan
    benefits = []
    for b in engine.standing(facts, scopes, file.totals, reserved):
        s = b.standing
        benefits.append(BenefitStandingRead(
            benefit=b.benefit.code, name_zh=b.benefit.name_zh, name_en=b.benefit.name_en,
            applies=b.closed_by is None, reason=_reason(b.closed_by, plan) if b.closed_by else None,
            scope=s.scope, scope_key=s.scope_key, paid=format_fen(s.paid), reserved=format_fen(s.reserved),
            cap=_yuan(s.cap), left=_yuan(s.left),
            base_counted=_yuan(s.base_counted), next_rate=s.next_rate,
            days_paid=s.days_paid, days_reserved=s.days_reserved, max_days=s.max_days, days_left=s.days_left,
            grants=None if s.grants is None else [
                GrantRead(disease=g.disease, name_zh=g.name_zh, name_en=g.name_en, reserved=g.reserved)
                for g in s.grants],
            grants_left=s.grants_left,
        ))
    return MemberBenefitsRead(
        member_id=file.row.id, on=on, plan_version=engine.version, enrolled=membership is not None,
        period=PeriodRead(start=membership.enrollment.period_start, end=membership.enrollment.period_end)
        if membership else None,
        calendar_year=on.year,
        hardship=HardshipOnRead(category=hardship.category, verified=hardship.verified,
                                registered_on=hardship.registered_on) if hardship else None,
        benefits=benefits,
    )


def _reason(code: str, plan) -> ReasonRead:
    zh, en = reason_text(code, plan)  # built-in, else the plan's own
    return ReasonRead(code=code, zh=zh, en=en)


def _yuan(fen: int | None) -> str | None:
    return None if fen is None else format_fen(fen)


def reserved_by_pended_lines(session: Session, member_id: str) -> MemberAccumulators:
    """What the member's pended lines hold in their totals now (every scope).

    Only claims that can hold a pended line are read: one with a line stored as pended,
    or one re-adjudication adjusted (its lines stand as the adjustments left them).
    """
    line, adjustment = models.DecisionLine, models.Adjustment
    claims = session.scalars(
        select(models.Claim).where(
            models.Claim.member_id == member_id,
            or_(exists().where(line.claim_id == models.Claim.id, line.status == LineStatus.PENDED.value),
                exists().where(adjustment.claim_id == models.Claim.id)))
        .options(selectinload(models.Claim.lines), selectinload(models.Claim.adjustments)))
    held = MemberAccumulators()
    for claim in claims:
        for now in aggregate.lines_now(claim.lines, claim.adjustments).values():
            if now.line.status is LineStatus.PENDED:
                held.apply(now.line.changes)
    return held
