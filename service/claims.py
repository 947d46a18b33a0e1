"""Claims: submit (decided at once), read, list, and review pended lines.

A claim's decision, its lines, the accumulator changes and the audit entry are written
in the caller's one transaction. The member row is locked first, then the settlement
row, so two claims touching the same totals or the same bill are decided one after
the other and never pay twice or past a cap.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from claims.cases import Claim
from claims.decision import AccumulatorChange, BenefitLine, LineStatus, claim_status
from claims.members import Enrollment, Gender, HardshipCategory, HardshipRegistration, Member
from claims.money import AmountError, format_fen, parse_yuan
from claims.reasons import REASON_TEXTS, Reason
from claims.settlement import parse_settlement
from service import audit
from service.auth import Principal, Role
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.plans import PlanBook
from service.schemas import ClaimCreate, ClaimRead, ClaimReview, LineRead, ReasonRead
from store import models
from store.repositories import apply_changes, is_postgres, load_accumulators, lock_member, paginate


def to_read(claim: models.Claim) -> ClaimRead:
    return ClaimRead(
        id=claim.id,
        member_id=claim.member_id,
        settlement_id=claim.settlement_id,
        fixmedins_code=claim.settlement.fixmedins_code,
        setl_id=claim.settlement.setl_id,
        submitted_on=claim.submitted_on,
        status=claim.status,
        total=format_fen(claim.total),
        plan_version=claim.plan_version,
        lines=[
            LineRead(
                benefit=line.benefit,
                status=line.status,
                amount=format_fen(line.amount),
                reasons=[_reason(code) for code in line.reasons],
                review_note=line.review_note,
            )
            for line in claim.lines
        ],
        trace=claim.trace,
    )


def _reason(code: str) -> ReasonRead:
    text = REASON_TEXTS.get(Reason(code)) if code in Reason.__members__ else None
    return ReasonRead(code=code, zh=text.zh if text else code, en=text.en if text else code)


def _load(session: Session, claim_id: int) -> models.Claim | None:
    return session.scalar(
        select(models.Claim)
        .where(models.Claim.id == claim_id)
        .options(selectinload(models.Claim.lines), selectinload(models.Claim.settlement))
    )


def _domain_member(session: Session, member: models.Member, admitted: dt.date):
    enrollments = tuple(
        Enrollment(e.period_start, e.period_end, e.enrolled_on)
        for e in session.scalars(select(models.Enrollment).where(models.Enrollment.member_id == member.id))
    )
    registrations = [
        HardshipRegistration(HardshipCategory(r.category), r.verified, r.registered_on, r.revoked_on)
        for r in session.scalars(
            select(models.HardshipRegistration).where(models.HardshipRegistration.member_id == member.id)
        )
    ]
    # The registration active on the admission date decides; none active means not registered.
    hardship = next((r for r in sorted(registrations, key=lambda r: r.registered_on, reverse=True)
                     if r.active_on(admitted)), None)
    person = Member(member.id, Gender(member.gender) if member.gender else None, member.birth_date)
    return person, enrollments, hardship


def submit_claim(session: Session, who: Principal, plans: PlanBook, data: ClaimCreate) -> models.Claim:
    who.require(Role.ADMIN, Role.OFFICER, Role.MEMBER)
    member = lock_member(session, data.member_id)
    if member is None:
        raise NotFound(f"no member {data.member_id}")
    who.require_member(member)
    today = dt.date.today()
    submitted_on = data.submitted_on or today
    if submitted_on > today:
        raise Invalid.at("submitted_on", "is in the future")

    query = select(models.Settlement)
    if data.settlement_id is not None:
        query = query.where(models.Settlement.id == data.settlement_id)
    else:
        query = query.where(models.Settlement.fixmedins_code == data.fixmedins_code,
                            models.Settlement.setl_id == data.setl_id)
    if is_postgres(session):
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound("no such settlement has been posted")

    bill = parse_settlement(row.record, prefix="")
    person, enrollments, hardship = _domain_member(session, member, bill.begndate)
    claim = Claim(case_id="", submitted_on=submitted_on, member=person, enrollments=enrollments,
                  hardship=hardship, settlement=bill)
    duplicate = session.get(models.AdjudicatedBill, (row.fixmedins_code, row.setl_id)) is not None
    engine = plans.engine_for(session, bill.begndate)
    decision = engine.adjudicate(claim, load_accumulators(session, member.id), duplicate)

    record = models.Claim(
        member_id=member.id, settlement_id=row.id, submitted_on=submitted_on, submitted_by=who.key_id,
        status=decision.status.value, total=decision.total, plan_version=decision.plan_version or engine.version,
        trace=decision.trace,
    )
    session.add(record)
    session.flush()
    lines = [
        models.DecisionLine(
            claim_id=record.id, position=position, benefit=line.benefit, status=line.status.value,
            amount=line.amount, reasons=[str(r) for r in line.reasons],
            changes=[{"benefit": c.benefit, "measure": c.measure, "scope": c.scope, "delta": c.delta} for c in line.changes],
        )
        for position, line in enumerate(decision.lines)
    ]
    session.add_all(lines)
    apply_changes(session, member.id, decision.changes)
    if not duplicate:
        session.add(models.AdjudicatedBill(fixmedins_code=row.fixmedins_code, setl_id=row.setl_id, claim_id=record.id))
    audit.record(session, who, "claim.adjudicated", "claim", record.id, member_id=member.id, settlement_id=row.id,
                 status=record.status, total=format_fen(record.total), plan_version=record.plan_version)
    # The answer is built from what was just written; reading it back would only cost queries.
    set_committed_value(record, "lines", lines)
    set_committed_value(record, "settlement", row)
    return record


def get_claim(session: Session, who: Principal, claim_id: int) -> models.Claim:
    claim = _load(session, claim_id)
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    _may_see(session, who, claim)
    return claim


def _may_see(session: Session, who: Principal, claim: models.Claim) -> None:
    if who.role is Role.HOSPITAL:
        raise Forbidden("hospitals read settlements, not claims")
    member = session.get(models.Member, claim.member_id)
    assert member is not None
    who.require_member(member)


def list_claims(
    session: Session, who: Principal, *, status: str | None, member_id: str | None, hospital: str | None,
    submitted_from: dt.date | None, submitted_to: dt.date | None, page: int, page_size: int, oldest_first: bool = False,
) -> tuple[list[models.Claim], int]:
    who.require(Role.ADMIN, Role.OFFICER, Role.MEMBER)
    query = select(models.Claim)
    if who.role is Role.MEMBER:
        query = query.where(models.Claim.member_id == who.member_id)
    elif who.role is Role.OFFICER:
        query = query.join(models.Member, models.Member.id == models.Claim.member_id).where(
            models.Member.union_id == who.union_id)
    if status:
        query = query.where(models.Claim.status == status)
    if member_id:
        query = query.where(models.Claim.member_id == member_id)
    if hospital:
        query = query.join(models.Settlement, models.Settlement.id == models.Claim.settlement_id).where(
            models.Settlement.fixmedins_code == hospital)
    if submitted_from:
        query = query.where(models.Claim.submitted_on >= submitted_from)
    if submitted_to:
        query = query.where(models.Claim.submitted_on <= submitted_to)
    order = models.Claim.id.asc() if oldest_first else models.Claim.id.desc()
    return paginate(session, query, order, page, page_size,
                    selectinload(models.Claim.lines), selectinload(models.Claim.settlement))


REVIEWERS = (Role.ADMIN, Role.OFFICER)


def review_claim(session: Session, who: Principal, claim_id: int, data: ClaimReview) -> models.Claim:
    """Approve, deny or adjust (down) pended lines; a denial releases what the line reserved."""
    who.require(*REVIEWERS)
    claim = _load(session, claim_id)
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    member = lock_member(session, claim.member_id)
    assert member is not None
    who.require_member(member)
    session.refresh(claim)  # re-read under the lock: another review may have just finished
    lines = {line.benefit: line for line in session.scalars(
        select(models.DecisionLine).where(models.DecisionLine.claim_id == claim.id))}
    seen: set[str] = set()
    for i, item in enumerate(data.lines):
        line = lines.get(item.benefit)
        if line is None:
            raise Invalid.at(f"lines[{i}].benefit", f"claim {claim.id} has no line {item.benefit}")
        if item.benefit in seen:
            raise Invalid.at(f"lines[{i}].benefit", f"line {item.benefit} is listed twice")
        seen.add(item.benefit)
        if line.status != LineStatus.PENDED:
            raise Conflict(f"line {item.benefit} of claim {claim.id} is {line.status}, not pended")
        changes = [AccumulatorChange(**c) for c in line.changes]
        if item.action == "approve":
            if item.amount is not None:
                raise Invalid.at(f"lines[{i}].amount", "only adjust takes an amount")
            line.status = LineStatus.APPROVED
        elif item.action == "deny":
            if item.amount is not None:
                raise Invalid.at(f"lines[{i}].amount", "only adjust takes an amount")
            apply_changes(session, claim.member_id, [AccumulatorChange(c.benefit, c.measure, c.scope, -c.delta) for c in changes])
            line.status, line.amount, line.changes = LineStatus.DENIED, 0, []
            line.reasons = [Reason.REVIEW_DENIED.value]
        else:
            if item.amount is None:
                raise Invalid.at(f"lines[{i}].amount", "adjust needs the new amount")
            try:
                new = parse_yuan(item.amount)
            except AmountError as err:
                raise Invalid.at(f"lines[{i}].amount", str(err)) from None
            if new > line.amount or new == 0:
                raise Invalid.at(f"lines[{i}].amount",
                                 f"must be above 0.00 and at most the pended {format_fen(line.amount)} (deny to pay nothing)")
            released = line.amount - new
            paid = [c for c in changes if c.measure == "paid"]
            if released and paid:
                apply_changes(session, claim.member_id, [AccumulatorChange(paid[0].benefit, "paid", paid[0].scope, -released)])
                line.changes = [
                    {**c, "delta": c["delta"] - released} if c["measure"] == "paid" else c for c in line.changes
                ]
            line.status, line.amount = LineStatus.APPROVED, new
            line.reasons = [*line.reasons, Reason.REVIEW_ADJUSTED.value]
        line.review_note = item.note
    ordered = sorted(lines.values(), key=lambda ln: ln.position)
    domain_lines = [BenefitLine(ln.benefit, LineStatus(ln.status), ln.amount) for ln in ordered]
    claim.status = claim_status(domain_lines).value
    claim.total = sum(bl.amount for bl in domain_lines if bl.counts)
    session.flush()
    audit.record(session, who, "claim.reviewed", "claim", claim.id, status=claim.status,
                 total=format_fen(claim.total),
                 lines=[{"benefit": i.benefit, "action": i.action, "amount": i.amount, "note": i.note} for i in data.lines])
    session.expire(claim)
    reloaded = _load(session, claim.id)
    assert reloaded is not None
    return reloaded

