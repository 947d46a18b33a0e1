"""Claims: submit (decided at once), read, list, and review pended lines.

A claim's decision, its lines, the accumulator changes and the audit entry are written
in the caller's one transaction. The member row is locked first, then the settlement
row, so two claims touching the same totals or the same bill are decided one after
the other and never pay twice or past a cap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session, selectinload

from claims.accumulators import MemberAccumulators
from claims.dates import china_today
from claims.decision import AccumulatorChange, BenefitLine, LineStatus, claim_status
from claims.funding import funding_of
from claims.money import AmountError, format_fen, parse_yuan
from claims.settlement import Settlement, parse_settlement
from claims.reasons import Reason
from rules.document import Plan
from rules.explain import explain, reason_text
from rules.ordering import Decided, decide_in_order
from service import audit, funds, payments, settlements
from service import claim_aggregate as aggregate
from service.auth import MEMBER_READERS, Principal, Role
from service.errors import Conflict, Invalid, NotFound
from service.plans import PlanBook, PublishedVersion
from service.schemas import AdjustmentLineRead, AdjustmentRead, ClaimCreate, ClaimRead, ClaimReview, LineRead, ReasonRead
from store import models
from store.repositories import is_postgres, paginate


def to_read(claim: models.Claim, session: Session, plans: PlanBook, payment_status: str | None = None) -> ClaimRead:
    """The claim as answered, each line with its benefit's name and explanation under the version that decided it.

    ``payment_status``: read for a whole page at once by the caller (``payment_statuses``); else for this claim.
    """
    try:
        plan = plans.engine_by_version(session, claim.plan_version).plan
    except Conflict:  # a version no longer stored: the codes and their texts still say what happened
        plan = None
    admitted = claim.settlement.begndate
    main = next((d.get("diag_code") for d in claim.settlement.record.get("diagnoses", [])
                 if isinstance(d, dict) and d.get("maindiag_flag") == "1"), None)

    def line_read(line: models.DecisionLine) -> LineRead:
        said = explain(line, claim.trace, plan, admitted=admitted, main_diagnosis=main,
                       review_note=line.review_note) if plan is not None else None
        return LineRead(
            benefit=line.benefit,
            name_zh=said.name_zh if said else "",
            name_en=said.name_en if said else "",
            status=line.status,
            amount=format_fen(line.amount),
            reasons=[_reason(code, plan) for code in line.reasons],
            explanation_zh=said.zh if said else "",
            explanation_en=said.en if said else "",
            review_note=line.review_note,
            reviewed=line.reviewed,
        )

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
        lines=[line_read(line) for line in claim.lines],
        adjustments=[adjustment_read(a, claim.member_id) for a in claim.adjustments],
        payment_status=payment_status or payments.payment_statuses(session, [claim])[claim.id],
        trace=claim.trace,
    )


def page_read(claims: list[models.Claim], session: Session, plans: PlanBook) -> list[ClaimRead]:
    """A page of claims as answered: their payment statuses in one query."""
    statuses = payments.payment_statuses(session, claims)
    return [to_read(c, session, plans, statuses[c.id]) for c in claims]


def adjustment_read(adj: models.Adjustment, member_id: str) -> AdjustmentRead:
    return AdjustmentRead(
        id=adj.id, claim_id=adj.claim_id, member_id=member_id, from_version=adj.from_version,
        to_version=adj.to_version, total_delta=format_fen(adj.total_delta), reason=adj.reason,
        created_at=adj.created_at,
        lines=[AdjustmentLineRead(benefit=ln["benefit"], from_status=ln["from_status"], to_status=ln["to_status"],
                                  from_amount=ln["from_amount"], to_amount=ln["to_amount"],
                                  reasons=[_reason(code) for code in ln.get("reasons", [])])
               for ln in adj.lines],
    )


def _reason(code: str, plan: Plan | None = None) -> ReasonRead:
    zh, en = reason_text(code, plan)  # built-in, else the plan's own
    return ReasonRead(code=code, zh=zh, en=en)


def _load(session: Session, claim_id: int) -> models.Claim | None:
    return session.scalar(
        select(models.Claim)
        .where(models.Claim.id == claim_id)
        .options(selectinload(models.Claim.lines), selectinload(models.Claim.settlement),
                 selectinload(models.Claim.adjustments))
    )


def submit_claim(session: Session, who: Principal, plans: PlanBook, data: ClaimCreate) -> models.Claim:
    """Submit one claim: it is decided at once (a batch of one; errors name the plain field)."""
    return submit_claims(session, who, plans, [data], where=lambda _i, name: name)[0]


def submit_claims(session: Session, who: Principal, plans: PlanBook, items: Sequence[ClaimCreate],
                  where: Callable[[int, str], str] = lambda i, name: f"claims[{i}].{name}") -> list[models.Claim]:
    """Decide claims in order, in the caller's one transaction: all are stored, or none.

    A member's claims later in the list see the totals of the earlier ones, exactly as
    if they had been submitted one by one; the second claim of a bill is a duplicate.
    Any refused item (no such member or settlement, another union's member, a date in
    the future) refuses the whole batch, naming the item (``where``). Locks are taken
    in the order ``service.claim_aggregate`` documents (members, then settlements), and
    the reads and writes are made for the whole batch at once.
    """
    who.require(Role.ADMIN, Role.OFFICER, Role.MEMBER)
    files = aggregate.load_members(session, (d.member_id for d in items))
    today = china_today()
    for i, d in enumerate(items):
        file = files.get(d.member_id)
        # Another union's member is answered exactly as an unknown one (no existence leak).
        if file is None or not who.may_act_for(file.row):
            raise NotFound(f"no member {d.member_id}", [{"field": where(i, "member_id"), "message": "no such member"}])

    by_id = {d.settlement_id for d in items if d.settlement_id is not None}
    by_ref = {(d.fixmedins_code, d.setl_id) for d in items if d.settlement_id is None}
    conditions = []
    if by_id:
        conditions.append(models.Settlement.id.in_(by_id))
    if by_ref:
        conditions.append(tuple_(models.Settlement.fixmedins_code, models.Settlement.setl_id).in_(by_ref))
    cancellation = models.SettlementCancellation
    query = (select(models.Settlement, cancellation.settlement_id)
             .outerjoin(cancellation, cancellation.settlement_id == models.Settlement.id)
             .where(or_(*conditions)).order_by(models.Settlement.id))
    if is_postgres(session):
        query = query.with_for_update(of=models.Settlement)
    found = session.execute(query).all()
    rows = [row for row, _ in found]
    cancelled = {row.id for row, cancelled_id in found if cancelled_id is not None}
    rows_by_id = {r.id: r for r in rows}
    rows_by_ref = {(r.fixmedins_code, r.setl_id): r for r in rows}
    chosen: list[models.Settlement] = []
    for i, d in enumerate(items):
        row = rows_by_id.get(d.settlement_id) if d.settlement_id is not None else rows_by_ref.get((d.fixmedins_code, d.setl_id))
        row = settlements.owned_by(row, files[d.member_id].row)  # someone else's bill is answered as no bill
        if row is None:
            field = where(i, "settlement_id" if d.settlement_id is not None else "setl_id")
            raise NotFound("no such settlement has been posted", [{"field": field, "message": "no such settlement"}])
        if row.id in cancelled:
            raise Conflict(f"settlement {row.setl_id} was cancelled by its hospital; claim the settlement it posted "
                           "instead", [{"field": where(i, "settlement_id" if d.settlement_id is not None else "setl_id"),
                                        "message": "cancelled by its hospital"}])
        chosen.append(row)

    bills = {r.id: parse_settlement(r.record, prefix="") for r in rows}
    receipts = [_receipt_date(who, d, bills[row.id].enddate, today, lambda name, i=i: where(i, name))
                for i, (d, row) in enumerate(zip(items, chosen))]
    decided = decide(session, plans, files, [(d.member_id, bills[row.id], day) for d, row, (day, _note) in
                                             zip(items, chosen, receipts)],
                     set(aggregate.decided_bills(session, rows_by_ref)))
    return store_decisions(session, who, decided, chosen, [note for _day, note in receipts])


def decide(session: Session, plans: PlanBook, files: dict[str, aggregate.MemberFile],
           claims: Sequence[tuple[str, Settlement, dt.date]], decided_bills: set[tuple[str, str]],
           versions: Sequence[PublishedVersion] | None = None) -> list[Decided]:
    """Decide (member id, bill, date received) claims in order against the members' files; nothing stored.

    The one place a claim is decided: a submission, a hospital's one-stop settlement and
    its preview all come here, so a preview is the decision a settlement would get.
    ``decided_bills``: the bills already decided (a claim of one is a duplicate).
    ``versions``: the published plan versions as this transaction read them (else read here).
    """
    engines = plans.engines_for(session, {bill.begndate for _m, bill, _d in claims}, versions)
    return decide_in_order(
        [files[member_id].claim("", submitted_on, bill) for member_id, bill, submitted_on in claims],
        lambda c: engines[c.settlement.begndate], {m: f.totals for m, f in files.items()}, decided_bills)


def store_decisions(session: Session, who: Principal, decided: Sequence[Decided], chosen: Sequence[models.Settlement],
                    receipt_notes: Sequence[str],
                    also_audit: Sequence[tuple[str, str, object, dict]] = ()) -> list[models.Claim]:
    """Store decided claims (claim, lines, totals, decided bills) and their audit entries.

    ``also_audit``: entries of the same transaction written before the claims' (the
    one-stop settlement's ``settlement.posted``), in the same lock and insert.
    """
    claim_rows = [
        {"member_id": c.claim.member.id, "settlement_id": row.id, "submitted_on": c.claim.submitted_on,
         "receipt_note": receipt_note, "submitted_by": who.key_id, "status": c.decision.status.value,
         "total": c.decision.total, "plan_version": c.decision.plan_version or c.engine.version,
         "trace": c.decision.trace}
        for c, row, receipt_note in zip(decided, chosen, receipt_notes)
    ]
    records = aggregate.insert_claims(session, claim_rows, [c.decision for c in decided], list(chosen),
                                      [c.duplicate for c in decided], [funding_of(c.engine.plan) for c in decided])
    audit.record_entries(session, who, [*also_audit, *(
        ("claim.adjudicated", "claim", r.id,
         {"member_id": r.member_id, "settlement_id": r.settlement_id, "status": r.status,
          "total": format_fen(r.total), "plan_version": r.plan_version,
          "decision": audit.decision_digest(r.lines),  # claims check compares the stored lines with it
          # Only an officer-recorded date leaves a receipt in the log; the service's own date needs none.
          **({"receipt": {"submitted_on": r.submitted_on.isoformat(), "note": r.receipt_note,
                          "recorded_by_officer": True}} if r.receipt_note else {})})
        for r in records)])
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
    who.require(*MEMBER_READERS)  # hospitals read settlements, not claims
    claim = _load(session, claim_id)
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    _may_see(session, who, claim)
    return claim


def _may_see(session: Session, who: Principal, claim: models.Claim) -> None:
    member = session.get(models.Member, claim.member_id)
    assert member is not None
    who.require_member(member, hidden_as=NotFound(f"no claim {claim.id}"), reading=True)


def list_claims(
    session: Session, who: Principal, *, status: str | None, member_id: str | None, hospital: str | None,
    submitted_from: dt.date | None, submitted_to: dt.date | None, page: int, page_size: int, oldest_first: bool = False,
) -> tuple[list[models.Claim], int]:
    who.require(*MEMBER_READERS)
    query = select(models.Claim)
    if who.role is Role.MEMBER:
        query = query.where(models.Claim.member_id == who.member_id)
    elif who.scoped_to_unions:
        query = query.join(models.Member, models.Member.id == models.Claim.member_id).where(
            who.union_scope(models.Member.union_id))
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
    return paginate(session, query, order, page, page_size, selectinload(models.Claim.lines),
                    selectinload(models.Claim.settlement), selectinload(models.Claim.adjustments))


REVIEWERS = (Role.ADMIN, Role.OFFICER)


def review_claim(session: Session, who: Principal, plans: PlanBook, claim_id: int, data: ClaimReview) -> models.Claim:
    """Approve, deny or adjust (down) pended lines; a denial releases what the line reserved.

    A line that shares what an earlier line left of the base (CIR after MA_IP) is
    decided again, in the same transaction, when the reviewer denies or cuts a line it
    comes after, unless a reviewer has decided it too: otherwise it would keep a share
    of an amount that is no longer paid.
    """
    who.require(*REVIEWERS)
    claim = _load(session, claim_id)
    if claim is None:
        raise NotFound(f"no claim {claim_id}")
    files = aggregate.load_members(session, [claim.member_id])  # lock order: the member first
    file = files[claim.member_id]
    who.require_member(file.row, hidden_as=NotFound(f"no claim {claim_id}"))
    session.refresh(claim)  # re-read under the lock: another review may have just finished
    if claim.status == aggregate.CANCELLED:
        raise Conflict(f"claim {claim.id} was cancelled with its settlement; there is nothing to review")
    lines = {line.benefit: line for line in session.scalars(
        select(models.DecisionLine).where(models.DecisionLine.claim_id == claim.id))}
    seen: set[str] = set()
    cut: set[str] = set()  # lines whose amount the reviewer lowered (deny or adjust)
    released_changes: list[AccumulatorChange] = []  # what those cuts gave back to the totals
    for i, item in enumerate(data.lines):
        line = lines.get(item.benefit)
        if line is None:
            raise Invalid.at(f"lines[{i}].benefit", f"claim {claim.id} has no line {item.benefit}")
        if item.benefit in seen:
            raise Invalid.at(f"lines[{i}].benefit", f"line {item.benefit} is listed twice")
        seen.add(item.benefit)
        if line.status != LineStatus.PENDED:
            raise Conflict(f"line {item.benefit} of claim {claim.id} is {line.status}, not pended")
        changes = aggregate.changes_of(line.changes)
        if item.action == "approve":
            if item.amount is not None:
                raise Invalid.at(f"lines[{i}].amount", "only adjust takes an amount")
            line.status = LineStatus.APPROVED
        elif item.action == "deny":
            if item.amount is not None:
                raise Invalid.at(f"lines[{i}].amount", "only adjust takes an amount")
            released_changes.extend(aggregate.net(changes, []))
            aggregate.move_totals(session, claim.member_id, aggregate.net(changes, []))
            line.status, line.amount, line.changes = LineStatus.DENIED, 0, []
            line.reasons = [Reason.REVIEW_DENIED.value]
            cut.add(item.benefit)
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
                release = AccumulatorChange(paid[0].benefit, "paid", paid[0].scope, -released)
                released_changes.append(release)
                aggregate.move_totals(session, claim.member_id, [release])
                line.changes = [
                    {**c, "delta": c["delta"] - released} if c["measure"] == "paid" else c for c in line.changes
                ]
            if released:
                cut.add(item.benefit)
            line.status, line.amount = LineStatus.APPROVED, new
            line.reasons = [*line.reasons, Reason.REVIEW_ADJUSTED.value]
        line.review_note = item.note
        line.reviewed = True
    redecided = _redecide_after_review(session, plans, claim, file, lines, cut, released_changes) if cut else []
    # An approved line is charged to its fund now (lock order: after the totals); one its
    # fund cannot pay waits pended (FUND_EXHAUSTED) for the next allocation.
    funds.settle_lines(session, None, claim, lines.values(), funds.funding_of_version(session, plans, claim.plan_version),
                       funds.leagues_of(session, [claim.member_id]).get(claim.member_id), who=who)
    ordered = sorted(lines.values(), key=lambda ln: ln.position)
    domain_lines = [BenefitLine(ln.benefit, LineStatus(ln.status), ln.amount) for ln in ordered]
    claim.status = claim_status(domain_lines).value
    claim.total = sum(bl.amount for bl in domain_lines if bl.counts)
    session.flush()
    audit.record(session, who, "claim.reviewed", "claim", claim.id, status=claim.status,
                 total=format_fen(claim.total),
                 lines=[{"benefit": i.benefit, "action": i.action, "amount": i.amount, "note": i.note} for i in data.lines],
                 redecided=redecided, decision=audit.decision_digest(lines.values()))
    session.expire(claim)
    reloaded = _load(session, claim.id)
    assert reloaded is not None
    return reloaded


def _redecide_after_review(session: Session, plans: PlanBook, claim: models.Claim, file: aggregate.MemberFile,
                           lines: dict[str, models.DecisionLine], cut: set[str],
                           released: list[AccumulatorChange]) -> list[dict]:
    """Decide again the unreviewed lines that share what a cut line left of the base.

    They are decided under the version that decided the claim, against the member's
    totals without what those lines held, every other line kept as it now stands.
    """
    engine = plans.engine_by_version(session, claim.plan_version)
    dependent = {b.code for b in engine.benefits
                 if b.amount.kind == "residual_share" and cut & set(b.amount.after)
                 and b.code in lines and not lines[b.code].reviewed}
    if not dependent:
        return []
    old = {code: aggregate.changes_of(lines[code].changes) for code in dependent}
    # The totals without what the lines decided again held; the reviewer's releases of
    # this same review are in the database already, and here too.
    totals = MemberAccumulators(file.totals.values)
    totals.apply(released)
    totals.apply(aggregate.net([c for changes in old.values() for c in changes], []))
    fixed = {code: BenefitLine(ln.benefit, LineStatus(ln.status), ln.amount, list(ln.reasons),
                               aggregate.changes_of(ln.changes))
             for code, ln in lines.items() if code not in dependent}
    bill = parse_settlement(claim.settlement.record, prefix="")
    decision = engine.adjudicate(file.claim("", claim.submitted_on, bill), totals, fixed=fixed)
    out = []
    for new in decision.lines:
        if new.benefit not in dependent:
            continue
        row = lines[new.benefit]
        aggregate.move_totals(session, claim.member_id, aggregate.net(old[new.benefit], new.changes))
        out.append({"benefit": new.benefit, "from_status": row.status, "from_amount": format_fen(row.amount),
                    "to_status": new.status.value, "to_amount": format_fen(new.amount)})
        row.status, row.amount, row.reasons = new.status.value, new.amount, [str(r) for r in new.reasons]
        row.changes = [aggregate.change_json(c) for c in new.changes]
    claim.trace = decision.trace
    return out


def list_adjustments(session: Session, who: Principal, *, claim_id: int | None, member_id: str | None,
                     plan_version: str | None, page: int, page_size: int) -> tuple[list[AdjustmentRead], int]:
    """Adjustments re-adjudication recorded, newest first; a member sees their own, an officer their union's."""
    who.require(*MEMBER_READERS)
    query = select(models.Adjustment, models.Claim.member_id).join(models.Claim, models.Claim.id == models.Adjustment.claim_id)
    if who.role is Role.MEMBER:
        query = query.where(models.Claim.member_id == who.member_id)
    elif who.scoped_to_unions:
        query = query.join(models.Member, models.Member.id == models.Claim.member_id).where(
            who.union_scope(models.Member.union_id))
    if claim_id is not None:
        query = query.where(models.Adjustment.claim_id == claim_id)
    if member_id:
        query = query.where(models.Claim.member_id == member_id)
    if plan_version:
        query = query.where(models.Adjustment.to_version == plan_version)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(models.Adjustment.id.desc()).offset((page - 1) * page_size).limit(page_size))
    return [adjustment_read(adj, member) for adj, member in rows], total
