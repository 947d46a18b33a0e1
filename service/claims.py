"""Claims: submit (decided at once), read, list, and review pended lines.

A claim's decision, its lines, the accumulator changes and the audit entry are written
in the caller's one transaction. The member row is locked first, then the settlement
row, so two claims touching the same totals or the same bill are decided one after
the other and never pay twice or past a cap.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import insert, or_, select, tuple_
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from claims.cases import Claim
from claims.dates import china_today
from claims.decision import AccumulatorChange, BenefitLine, Decision, LineStatus, claim_status
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
from store.repositories import (
    apply_changes,
    apply_members_changes,
    is_postgres,
    load_accumulators,
    lock_member,
    lock_members,
    paginate,
)


def to_read(claim: models.Claim) -> ClaimRead:
    return ClaimRead(
        id=claim.id,
        member_id=claim.member_id,
        settlement_id=claim.settlement_id,
        fixmedins_code=claim.settlement.fixmedins_code,
        setl_id=claim.settlement.setl_id,
        submitted_on=claim.submitted_on,
        receipt_note=claim.receipt_note,
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


def _domain_member(member: models.Member, enrollments: list[models.Enrollment],
                   registrations: list[models.HardshipRegistration], admitted: dt.date):
    # The registration active on the admission date decides; none active means not registered.
    hardship = next((r for r in sorted(
        (HardshipRegistration(HardshipCategory(r.category), r.verified, r.registered_on, r.revoked_on)
         for r in registrations), key=lambda r: r.registered_on, reverse=True) if r.active_on(admitted)), None)
    person = Member(member.id, Gender(member.gender) if member.gender else None, member.birth_date)
    return person, tuple(Enrollment(e.period_start, e.period_end, e.enrolled_on) for e in enrollments), hardship


def domain_member(session: Session, member: models.Member, admitted: dt.date):
    """One member as the engine sees them on ``admitted``: person, enrollments, hardship."""
    return _domain_member(member, _by_member(session, models.Enrollment, [member.id])[member.id],
                          _by_member(session, models.HardshipRegistration, [member.id])[member.id], admitted)


def _by_member(session: Session, model, member_ids: list[str]) -> dict[str, list]:
    found: dict[str, list] = defaultdict(list)
    for row in session.scalars(select(model).where(model.member_id.in_(member_ids)).order_by(model.id)):
        found[row.member_id].append(row)
    return found


def submit_claim(session: Session, who: Principal, plans: PlanBook, data: ClaimCreate) -> models.Claim:
    """Submit one claim: it is decided at once (a batch of one; errors name the plain field)."""
    return submit_claims(session, who, plans, [data], where=lambda _i, name: name)[0]


def submit_claims(session: Session, who: Principal, plans: PlanBook, items: Sequence[ClaimCreate],
                  where: Callable[[int, str], str] = lambda i, name: f"claims[{i}].{name}") -> list[models.Claim]:
    """Decide claims in order, in the caller's one transaction: all are stored, or none.

    A member's claims later in the list see the totals of the earlier ones, exactly as
    if they had been submitted one by one; the second claim of a bill is a duplicate.
    Any refused item (no such member or settlement, another union's member, a date in
    the future) refuses the whole batch, naming the item (``where``). The reads and
    writes are made for the whole batch at once: the members are locked in id order and
    the settlements in id order (PostgreSQL; on SQLite the transaction holds the write
    lock), so two batches never wait for each other in a circle.
    """
    who.require(Role.ADMIN, Role.OFFICER, Role.MEMBER)
    member_ids = sorted({d.member_id for d in items})
    members = lock_members(session, member_ids)
    today = china_today()
    for i, d in enumerate(items):
        member = members.get(d.member_id)
        if member is None:
            raise NotFound(f"no member {d.member_id}", [{"field": where(i, "member_id"), "message": "no such member"}])
        who.require_member(member)

    by_id = {d.settlement_id for d in items if d.settlement_id is not None}
    by_ref = {(d.fixmedins_code, d.setl_id) for d in items if d.settlement_id is None}
    conditions = []
    if by_id:
        conditions.append(models.Settlement.id.in_(by_id))
    if by_ref:
        conditions.append(tuple_(models.Settlement.fixmedins_code, models.Settlement.setl_id).in_(by_ref))
    query = select(models.Settlement).where(or_(*conditions)).order_by(models.Settlement.id)
    if is_postgres(session):
        query = query.with_for_update()
    rows = list(session.scalars(query))
    rows_by_id = {r.id: r for r in rows}
    rows_by_ref = {(r.fixmedins_code, r.setl_id): r for r in rows}
    chosen: list[models.Settlement] = []
    for i, d in enumerate(items):
        row = rows_by_id.get(d.settlement_id) if d.settlement_id is not None else rows_by_ref.get((d.fixmedins_code, d.setl_id))
        if row is None:
            field = where(i, "settlement_id" if d.settlement_id is not None else "setl_id")
            raise NotFound("no such settlement has been posted", [{"field": field, "message": "no such settlement"}])
        chosen.append(row)

    enrollments = _by_member(session, models.Enrollment, member_ids)
    registrations = _by_member(session, models.HardshipRegistration, member_ids)
    adjudicated = {tuple(k) for k in session.execute(
        select(models.AdjudicatedBill.fixmedins_code, models.AdjudicatedBill.setl_id)
        .where(tuple_(models.AdjudicatedBill.fixmedins_code, models.AdjudicatedBill.setl_id).in_(list(rows_by_ref))))}
    totals = load_accumulators(session, member_ids)
    bills = {r.id: parse_settlement(r.record, prefix="") for r in rows}
    engines = plans.engines_for(session, {b.begndate for b in bills.values()})
    receipts = [_receipt_date(who, d, bills[row.id].enddate, today, lambda name, i=i: where(i, name))
                for i, (d, row) in enumerate(zip(items, chosen))]

    decisions: list[tuple[models.Settlement, Decision, bool]] = []
    claim_rows: list[dict] = []
    changes: list[tuple[str, AccumulatorChange]] = []
    for d, row, (submitted_on, receipt_note) in zip(items, chosen, receipts):
        bill = bills[row.id]
        member = members[d.member_id]
        person, member_enrollments, hardship = _domain_member(
            member, enrollments.get(member.id, []), registrations.get(member.id, []), bill.begndate)
        claim = Claim(case_id="", submitted_on=submitted_on, member=person, enrollments=member_enrollments,
                      hardship=hardship, settlement=bill)
        key = (row.fixmedins_code, row.setl_id)
        duplicate = key in adjudicated
        engine = engines[bill.begndate]
        decision = engine.adjudicate(claim, totals[member.id], duplicate)
        moved = decision.changes
        totals[member.id].apply(moved)  # the member's next claim in this batch sees them
        changes.extend((member.id, c) for c in moved)
        if not duplicate:
            adjudicated.add(key)
        claim_rows.append({
            "member_id": member.id, "settlement_id": row.id, "submitted_on": claim.submitted_on,
            "receipt_note": receipt_note, "submitted_by": who.key_id, "status": decision.status.value,
            "total": decision.total, "plan_version": decision.plan_version or engine.version, "trace": decision.trace})
        decisions.append((row, decision, duplicate))

    # The writes: one statement per table for the whole batch.
    ids = session.scalars(insert(models.Claim).returning(models.Claim.id, sort_by_parameter_order=True),
                          claim_rows).all()
    records: list[models.Claim] = []
    line_rows: list[dict] = []
    bill_rows: list[dict] = []
    for claim_id, claim_row, (row, decision, duplicate) in zip(ids, claim_rows, decisions):
        record = models.Claim(id=claim_id, **claim_row)
        lines = [
            {"claim_id": claim_id, "position": position, "benefit": line.benefit, "status": line.status.value,
             "amount": line.amount, "reasons": [str(r) for r in line.reasons], "review_note": "",
             "changes": [{"benefit": c.benefit, "measure": c.measure, "scope": c.scope, "delta": c.delta}
                         for c in line.changes]}
            for position, line in enumerate(decision.lines)
        ]
        line_rows.extend(lines)
        if not duplicate:
            bill_rows.append({"fixmedins_code": row.fixmedins_code, "setl_id": row.setl_id, "claim_id": claim_id})
        # The answer is built from what was just written; reading it back would only cost queries.
        set_committed_value(record, "lines", [models.DecisionLine(**line) for line in lines])
        set_committed_value(record, "settlement", row)
        records.append(record)
    if line_rows:
        session.execute(insert(models.DecisionLine), line_rows)
    apply_members_changes(session, changes)
    if bill_rows:
        session.execute(insert(models.AdjudicatedBill), bill_rows)
    audit.record_many(session, who, "claim.adjudicated", "claim", [
        (r.id, {"member_id": r.member_id, "settlement_id": r.settlement_id, "status": r.status,
                "total": format_fen(r.total), "plan_version": r.plan_version,
                # Only an officer-recorded date leaves a receipt in the log; the service's own date needs none.
                **({"receipt": {"submitted_on": r.submitted_on.isoformat(), "note": r.receipt_note,
                                "recorded_by_officer": True}} if r.receipt_note else {})})
        for r in records
    ])
    return records


RECEIPT_RECORDERS = (Role.ADMIN, Role.OFFICER)


def _receipt_date(who: Principal, data: ClaimCreate, bill_enddate: dt.date, today: dt.date,
                  where: Callable[[str], str]) -> tuple[dt.date, str]:
    """The date the claim was received, and the note that explains an earlier one (domain.md, Dates).

    The service sets it: China's today. Only a union officer (or an administrator) may
    record an earlier date, for a paper claim that reached the union office, and must
    say why; otherwise a member could backdate a claim past its submission deadline.
    """
    note = (data.note or "").strip()
    if data.submitted_on is None:
        if note:
            raise Invalid.at(where("note"), "explains an earlier submitted_on; send it with one")
        return today, ""
    if who.role not in RECEIPT_RECORDERS:
        raise Invalid.at(where("submitted_on"), "is set by the service when the claim arrives; "
                         "only a union officer records an earlier date for a paper claim")
    if not note:
        raise Invalid.at(where("note"), "an earlier receipt date needs a note saying how the claim reached the union")
    if data.submitted_on > today:
        raise Invalid.at(where("submitted_on"), f"is in the future (today in China is {today.isoformat()})")
    if data.submitted_on < bill_enddate:
        raise Invalid.at(where("submitted_on"), f"is before the discharge date {bill_enddate.isoformat()}")
    return data.submitted_on, note


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

