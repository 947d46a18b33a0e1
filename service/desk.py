"""The hospital desk: pre-settlement, one-stop settlement at discharge, cancellation, the day's reconciliation.

The national transactions it stands for: 2303 (pre-settlement: ``preview``), 2304
(settlement: ``settle``), 2305 (cancellation: ``cancel``), 3201/3202 (the day's totals
and the detailed reconciliation: ``day_totals``, ``reconcile``).

A desk request has a patient waiting at the cashier's, so ``settle`` does the least it
can, 15 statements in all: the key read with its hospital's grade, the patient locked
by ``certno``, the bill stored with one ``INSERT ... ON CONFLICT DO NOTHING``, the
member's file (enrollments, hardship register, totals) and the schedule of published
plans in one read, the claim written in one statement per table, and the settlement's and the
claim's audit entries in one take of the chain's head and one insert. Nothing that
must stay fresh (a revoked key, the member's totals, the plan in force) is cached; the
statements themselves are built once per process (``store.repositories.prebuilt``).

The decision itself is ``service.claims.decide`` (one place): a preview runs it on the
same record without storing, so it equals what ``settle`` of that record would answer
at that moment.

What a hospital reads of a decision is only that decision: the lines' status, amount,
reasons and disease; never the member's id, totals, bands reached from earlier claims,
or other claims. A hospital serves everyone, so a bill of a member of any union is
decided; what it learns is what its own bill got.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select
from sqlalchemy.orm import Session, selectinload

from claims.dates import FIRST_DAY, as_utc, china_midnight, china_today, happened
from claims.decision import LineStatus
from claims.money import AmountError, format_fen, parse_yuan
from claims.settlement import Settlement, parse_settlement
from rules.explain import explain, reason_text
from claims.funding import funding_of
from service import audit, claims, funds, payments, settlements
from service import claim_aggregate as aggregate
from service.auth import Principal, Role
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.plans import PlanBook
from service.schemas import (
    CancellationCreate,
    CancellationRead,
    DaySums,
    DeskDecisionRead,
    DeskLineRead,
    ReasonRead,
    ReconciliationCreate,
    ReconciliationDifference,
    ReconciliationRead,
    ReconciliationResult,
)
from store import models
from store.repositories import is_postgres, lock_members, prebuilt

CANCELLED = aggregate.CANCELLED

# Why a bill got no claim: codes of the desk's own, with the texts the cashier reads.
NO_MEMBER_FOR_CERTNO = "NO_MEMBER_FOR_CERTNO"
NOT_CLAIMED = "NOT_CLAIMED"
NO_CLAIM_REASONS: dict[str, tuple[str, str]] = {
    NO_MEMBER_FOR_CERTNO: ("未登记此身份证号的会员，未生成互助申请",
                           "No member is registered with this identity number; no claim was made"),
    NOT_CLAIMED: ("该结算单尚未申请互助", "No claim has been made on this settlement yet"),
}

CANCELLERS = (Role.ADMIN, Role.OFFICER, Role.HOSPITAL)


# ----------------------------------------------------------------------------- preview and settlement


def preview(session: Session, who: Principal, plans: PlanBook, raw: Any,
            provincial_med_types: frozenset[str] = frozenset()) -> DeskDecisionRead:
    """The answer ``settle`` would give this record now (2303); nothing stored, no total moved, no audit entry."""
    posted = settlements.check_posted(session, who, raw, provincial_med_types)
    existing = settlements.find(session, posted.bill.fixmedins_code, posted.bill.setl_id)
    if existing is not None:
        _same_content(existing, posted)
        return _stored_answer(session, plans, existing, decide_unclaimed=True)
    member = _patient(session, posted.record["certno"], lock=False)
    if member is None:
        return _no_claim(None, posted.bill, NO_MEMBER_FOR_CERTNO)
    return _decided_now(session, plans, member, posted.bill)


def _decided_now(session: Session, plans: PlanBook, member: models.Member, bill: Settlement) -> DeskDecisionRead:
    """The decision ``settle`` would make on this member's bill now, nothing stored (a preview's answer)."""
    files, versions = aggregate.files_and_schedule(session, {member.id: member})
    d = claims.decide(session, plans, files, [(member.id, bill, china_today())],
                      set(aggregate.decided_bills(session, [bill.bill_key])), versions)[0]
    # What the funds would do to it now (a relief line they cannot pay waits: FUND_EXHAUSTED),
    # read from the pools without locking or storing anything, as ``settle`` would charge it.
    if not d.duplicate:
        funds.fund_decisions(session, [(member.id, bill.begndate.year, d.decision, funding_of(d.engine.plan))],
                             {member.id: funds.leagues_of(session, {member.id}).get(member.id)}, read_only=True)
    return _answer(None, bill, d.decision.status.value, d.decision.lines, d.decision.trace,
                   d.decision.plan_version or d.engine.version, plans, session)


def settle(session: Session, who: Principal, plans: PlanBook, raw: Any,
           provincial_med_types: frozenset[str] = frozenset()) -> tuple[DeskDecisionRead, bool]:
    """Store the settlement and decide the member's claim in one transaction (2304); (answer, made now).

    The same record posted again answers what was decided (made now: False), never a
    second claim; a cancelled one is a conflict. A ``certno`` of no registered member:
    the settlement is stored and the answer says no claim was made, and why.

    Locks in the order ``service.claim_aggregate`` documents: the patient's member row
    first, then the settlement (inserted), the totals, the audit chain last.
    """
    posted = settlements.check_posted(session, who, raw, provincial_med_types)
    member = _patient(session, posted.record["certno"], lock=True)
    row, created = settlements.store_posted(session, posted)
    if not created:
        if _cancellation(session, row.id) is not None:
            raise _cancelled_conflict(row)
        stored = _stored_answer(session, plans, row)
        if stored.claim_made or member is None:
            return stored, False
        # Posted earlier (POST /v1/settlements) and never claimed: decide it now.
        return _decide_and_store(session, who, plans, member, row, posted.bill, [],
                                 set(aggregate.decided_bills(session, [posted.bill.bill_key]))), True
    entries = [settlements.posted_entry(row)]
    if member is None:
        audit.record_entries(session, who, entries)
        return _no_claim(row, posted.bill, NO_MEMBER_FOR_CERTNO), True
    # A settlement row made just now has no decided bill: adjudicated_bills gains its
    # key only with a claim of a stored settlement (and a cancellation keeps the row).
    return _decide_and_store(session, who, plans, member, row, posted.bill, entries, set()), True


def _decide_and_store(session: Session, who: Principal, plans: PlanBook, member: models.Member,
                      row: models.Settlement, bill: Settlement, entries: list, decided_bills: set) -> DeskDecisionRead:
    files, versions = aggregate.files_and_schedule(session, {member.id: member})
    decided = claims.decide(session, plans, files, [(member.id, bill, china_today())], decided_bills, versions)
    [record] = claims.store_decisions(session, who, decided, [row], [""], also_audit=entries)
    return _answer(record.id, bill, record.status, record.lines, record.trace, record.plan_version, plans, session,
                   settlement_id=row.id, just_made=True)


def _patient(session: Session, certno: str, *, lock: bool) -> models.Member | None:
    """The member whose resident identity number the bill carries (locked when deciding)."""
    return session.scalar(prebuilt(session, _patient_locked if lock else _patient_read), {"certno": certno})


def _patient_read(dialect: str):
    return select(models.Member).where(models.Member.certno == bindparam("certno"))


def _patient_locked(dialect: str):
    query = _patient_read(dialect)
    return query.with_for_update() if dialect == "postgresql" else query


def _same_content(row: models.Settlement, posted: settlements.PostedBill) -> None:
    if row.content_hash != posted.digest:
        raise Conflict(f"settlement {row.setl_id} of hospital {row.fixmedins_code} was already posted with "
                       "different content")


def _cancellation(session: Session, settlement_id: int) -> models.SettlementCancellation | None:
    return session.get(models.SettlementCancellation, settlement_id)


def _cancelled_conflict(row: models.Settlement) -> Conflict:
    return Conflict(f"settlement {row.setl_id} of hospital {row.fixmedins_code} was cancelled; "
                    "post the stay again under a new setl_id")


# ----------------------------------------------------------------------------- reading a decision


def settlement_decision(session: Session, who: Principal, plans: PlanBook, settlement_id: int) -> DeskDecisionRead:
    """The decision made on a hospital's own bill (an administrator's: any); another's is unknown (404)."""
    who.require(Role.ADMIN, Role.HOSPITAL)
    row = session.get(models.Settlement, settlement_id)
    if row is None or (who.role is Role.HOSPITAL and row.fixmedins_code != who.hospital_code):
        raise NotFound(f"no settlement {settlement_id}")
    return _stored_answer(session, plans, row)


def _stored_answer(session: Session, plans: PlanBook, row: models.Settlement, *,
                   decide_unclaimed: bool = False) -> DeskDecisionRead:
    """What was decided on a stored settlement: its first standing claim, else its latest cancelled one.

    ``decide_unclaimed`` (a preview): a bill never claimed is decided as ``settle``
    would decide it now, nothing stored.
    """
    bill = parse_settlement(row.record, prefix="")
    found = list(session.scalars(
        select(models.Claim).where(models.Claim.settlement_id == row.id)
        .options(selectinload(models.Claim.lines)).order_by(models.Claim.id)))
    standing = [c for c in found if c.status != CANCELLED]
    claim = standing[0] if standing else (found[-1] if found else None)
    cancellation = _cancellation(session, row.id)
    if decide_unclaimed and cancellation is not None:
        raise _cancelled_conflict(row)
    if claim is None:
        member = _patient(session, row.certno or "", lock=False)
        if member is None or not decide_unclaimed:
            answer = _no_claim(row, bill, NO_MEMBER_FOR_CERTNO if member is None else NOT_CLAIMED)
            if cancellation is not None:
                answer.cancelled = CancellationRead(reason=cancellation.reason, cancelled_at=cancellation.cancelled_at)
            return answer
        return _decided_now(session, plans, member, bill)
    answer = _answer(claim.id, bill, claim.status, claim.lines, claim.trace, claim.plan_version, plans, session,
                     settlement_id=row.id)
    if cancellation is not None:
        answer.cancelled = CancellationRead(reason=cancellation.reason, cancelled_at=cancellation.cancelled_at)
    return answer


def _no_claim(row: models.Settlement | None, bill: Settlement, code: str) -> DeskDecisionRead:
    zh, en = NO_CLAIM_REASONS[code]
    return DeskDecisionRead(
        settlement_id=row.id if row is not None else None, fixmedins_code=bill.fixmedins_code, setl_id=bill.setl_id,
        claim_made=False, no_claim_reason=ReasonRead(code=code, zh=zh, en=en), paid=format_fen(0),
        pended=format_fen(0), psn_cash_pay=format_fen(bill.psn_cash_pay), patient_owes=format_fen(bill.psn_cash_pay))


def _desk_trace(trace: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trace with each amount's reckoning left out: its bands start where the member's
    earlier claims brought the period's total, which is not the hospital's to read."""
    out = []
    for t in trace:
        if t.get("step") == "amount":
            numbers = t.get("numbers", {})
            t = {**t, "formula": "desk", "numbers": {k: numbers[k] for k in ("disease",) if k in numbers}}
        out.append(t)
    return out


def _answer(claim_id: int | None, bill: Settlement, status: str, lines: Iterable[Any], trace: list[dict[str, Any]],
            plan_version: str, plans: PlanBook, session: Session, *,
            settlement_id: int | None = None, just_made: bool = False) -> DeskDecisionRead:
    """A decision (stored lines or the engine's) as the desk reads it.

    ``just_made``: the claim was stored in this request, so nothing of it is paid yet
    (the patient at the cashier's waits for no payment query).

    ``patient_owes`` is the settlement's ``psn_cash_pay`` (the cash the patient bears
    after every fund and the personal account) minus what the plan pays now (the
    approved lines; a pended line is paid, if at all, after a union officer's review),
    never below 0.00.
    """
    try:
        plan = plans.engine_by_version(session, plan_version).plan
    except Conflict:
        plan = None
    main = next((d.diag_code for d in bill.diagnoses if d.is_main), None)
    trace = _desk_trace(trace)
    read_lines: list[DeskLineRead] = []
    paid = pended = 0
    for line in lines:
        line_status = getattr(line.status, "value", line.status)
        if line_status == LineStatus.APPROVED.value:
            paid += line.amount
        elif line_status == LineStatus.PENDED.value:
            pended += line.amount
        said = explain(line, trace, plan, admitted=bill.begndate, main_diagnosis=main) if plan is not None else None
        read_lines.append(DeskLineRead(
            benefit=line.benefit, name_zh=said.name_zh if said else "", name_en=said.name_en if said else "",
            status=line_status, amount=format_fen(line.amount),
            reasons=[ReasonRead(code=str(c), zh=(t := reason_text(str(c), plan))[0], en=t[1]) for c in line.reasons],
            explanation_zh=said.zh if said else "", explanation_en=said.en if said else ""))
    if status == CANCELLED:
        paid = pended = 0  # a cancelled claim pays nothing
    payment_status, paid_out = _payment(session, None if just_made else claim_id)
    return DeskDecisionRead(
        settlement_id=settlement_id, fixmedins_code=bill.fixmedins_code, setl_id=bill.setl_id, claim_made=True,
        claim_id=claim_id, status=status, lines=read_lines, paid=format_fen(paid), pended=format_fen(pended),
        psn_cash_pay=format_fen(bill.psn_cash_pay), patient_owes=format_fen(max(0, bill.psn_cash_pay - paid)),
        payment_status=payment_status, paid_out=format_fen(paid_out))


def _payment(session: Session, claim_id: int | None) -> tuple[str | None, int]:
    """A stored claim's payment status and what the bank paid of it (``payments``); a preview's: unpaid, nothing."""
    if claim_id is None:
        return "unpaid", 0
    claim = session.scalar(select(models.Claim).where(models.Claim.id == claim_id)
                           .options(selectinload(models.Claim.lines), selectinload(models.Claim.adjustments)))
    return payments.payment_statuses(session, [claim])[claim_id], payments.paid_by_claim(session, [claim_id]).get(claim_id, 0)


# ----------------------------------------------------------------------------- cancellation


def cancel(session: Session, who: Principal, plans: PlanBook, settlement_id: int,
           data: CancellationCreate) -> DeskDecisionRead:
    """Cancel a settlement (2305): its claims become ``cancelled`` and hold nothing in the totals.

    Who: the hospital that posted it, officers whose scope holds the patient, and
    administrators; to anyone else of those roles it is unknown (404). The bill's key
    in ``adjudicated_bills`` is freed; the stay may be posted again under a new
    ``setl_id`` and is then decided as if the cancelled claim had never been. A second
    cancellation is a conflict (409). Locks: the members concerned, then the
    settlement, the totals, the audit chain last.
    """
    who.require(*CANCELLERS)
    row = session.get(models.Settlement, settlement_id)
    if row is None or not settlements.may_read(session, who, row):
        raise NotFound(f"no settlement {settlement_id}")
    claimants = set(session.scalars(select(models.Claim.member_id).where(models.Claim.settlement_id == row.id)))
    patient = session.scalar(select(models.Member.id).where(models.Member.certno == row.certno)) if row.certno else None
    lock_members(session, claimants | ({patient} if patient else set()))
    if is_postgres(session):
        session.execute(select(models.Settlement.id).where(models.Settlement.id == row.id).with_for_update())
    done = _cancellation(session, row.id)
    if done is not None:
        raise Conflict(f"settlement {row.setl_id} was already cancelled at {done.cancelled_at.isoformat()}")
    standing = list(session.scalars(
        select(models.Claim).where(models.Claim.settlement_id == row.id, models.Claim.status != CANCELLED)
        .order_by(models.Claim.id)))
    _refuse_while_in_live_run(session, standing)
    held = aggregate.holdings(session, [c.id for c in standing])
    entries: list[tuple[str, str, object, dict[str, Any]]] = [
        ("settlement.cancelled", "settlement", row.id,
         {"fixmedins_code": row.fixmedins_code, "setl_id": row.setl_id, "reason": data.reason,
          "claims": [c.id for c in standing]})]
    for claim in standing:
        released = aggregate.net(held[claim.id], [])
        aggregate.move_totals(session, claim.member_id, released)
        entries.append(("claim.cancelled", "claim", claim.id,
                        {"member_id": claim.member_id, "settlement_id": row.id, "from_status": claim.status,
                         "total": format_fen(claim.total), "released": [aggregate.change_json(c) for c in released]}))
        claim.status = CANCELLED
        recovered = _on_claim_cancelled(session, who, claim)
        if recovered:
            entries[-1][3]["recoveries"] = recovered
    session.execute(delete(models.AdjudicatedBill).where(models.AdjudicatedBill.fixmedins_code == row.fixmedins_code,
                                                         models.AdjudicatedBill.setl_id == row.setl_id))
    session.add(models.SettlementCancellation(settlement_id=row.id, reason=data.reason, cancelled_by=who.key_id,
                                              cancelled_at=dt.datetime.now(dt.timezone.utc)))
    session.flush()
    audit.record_entries(session, who, entries)
    return _stored_answer(session, plans, row)


def _on_claim_cancelled(session: Session, who: Principal, claim: models.Claim) -> list[dict[str, Any]]:
    """The claim's money reversed (``funds.release_claim``): its fund charges given back to the pools, the
    unpaid part off the member's payable, the paid part a recovery netted from their next payment.

    Called once per claim that a cancellation turns ``cancelled``, in the cancellation's
    transaction, after its totals were released and before the audit entries are
    written (lock order: the pools after the accumulators, the audit chain last).
    Returns the recoveries made, for the claim's audit entry. An item of an exported
    run stays with the bank: if the bank pays it, ``payments.recover_overpaid`` makes
    that a recovery then (a line in a draft or approved run never gets here:
    ``_refuse_while_in_live_run``).
    """
    return [{"line_id": line_id, "amount": format_fen(fen)} for _c, line_id, fen in funds.release_claim(session, who, claim)]


def _refuse_while_in_live_run(session: Session, claims_: list[models.Claim]) -> None:
    """A line of these claims in a draft or approved payment run: the cancellation is refused (409, naming the run).

    Refused rather than the line dropped from the run: a run's items are what its maker
    built and its checker approved (maker–checker); finance cancels the run (its lines
    are free again) or exports it, and the desk cancels then. An exported run is not
    waited for: its item is with the bank, and what the bank pays of a cancelled line
    becomes a recovery.
    """
    if not claims_:
        return
    run = session.execute(
        select(models.PaymentRun.id, models.PaymentRun.status)
        .join(models.LiveLineClaim, models.LiveLineClaim.run_id == models.PaymentRun.id)
        .join(models.DecisionLine, models.DecisionLine.id == models.LiveLineClaim.line_id)
        .where(models.DecisionLine.claim_id.in_([c.id for c in claims_]),
               models.PaymentRun.status.in_(("draft", "approved")))
        .order_by(models.PaymentRun.id).limit(1)).first()
    if run is not None:
        raise Conflict(f"claim lines of this settlement are in payment run {run.id} ({run.status}); finance cancels "
                       f"that run, or exports it, before the settlement is cancelled",
                       [{"field": "settlement_id", "message": f"in payment run {run.id}"}])


# ----------------------------------------------------------------------------- the day's reconciliation


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The day as the desk counts it: from midnight to midnight in China (UTC+8), as UTC instants.

    A day before 2000 or after tomorrow holds nothing and is refused naming ``date``
    (``9999-12-31`` would not even have a next midnight).
    """
    if not happened(day):
        raise Invalid.at("date", f"must be a day from {FIRST_DAY} to tomorrow in China")
    start = china_midnight(day)
    return start, start + dt.timedelta(days=1)


def _scoped(query, who: Principal, hospital: str | None):
    if hospital:
        query = query.where(models.Settlement.fixmedins_code == hospital)
    if who.scoped_to_unions:
        query = query.where(models.Settlement.certno.in_(
            select(models.Member.certno).where(who.union_scope(models.Member.union_id))))
    return query


def _reporting_hospital(who: Principal, hospital: str | None) -> str | None:
    if who.role is Role.HOSPITAL:
        if hospital and hospital != who.hospital_code:
            raise Forbidden(f"this key cannot act for hospital {hospital}")
        return who.hospital_code
    return hospital or None


def day_totals(session: Session, who: Principal, day: dt.date, hospital: str | None) -> ReconciliationRead:
    """The day's count and sums (3201).

    "The day" is the settlements' posting date in China (``posted_at`` from 00:00 to
    24:00 UTC+8), not the discharge date: what the hospital's desk sent that day. A
    settlement cancelled since is counted under ``cancelled``, not with the others.
    Paid by benefit: the approved lines of the standing claims on those settlements,
    as decided (later re-adjudication is in ``/v1/adjustments``). A hospital reads its
    own; an officer or finance officer the bills of the members in their subtree; an
    administrator all (``hospital`` narrows).
    """
    who.require(Role.ADMIN, Role.OFFICER, Role.FINANCE, Role.HOSPITAL)
    hospital = _reporting_hospital(who, hospital)
    start, end = day_window(day)
    posted = models.Settlement.posted_at
    cancellation = models.SettlementCancellation
    is_cancelled = case((cancellation.settlement_id.is_(None), 0), else_=1)
    sums = _scoped(
        select(is_cancelled, func.count(), func.coalesce(func.sum(models.Settlement.medfee_sumamt), 0),
               func.coalesce(func.sum(models.Settlement.in_policy_self_pay), 0))
        .outerjoin(cancellation, cancellation.settlement_id == models.Settlement.id)
        .where(posted >= start, posted < end), who, hospital).group_by(is_cancelled)
    by_flag = {flag: DaySums(count=n, medfee_sumamt=format_fen(int(cost)), in_policy_self_pay=format_fen(int(b)))
               for flag, n, cost, b in session.execute(sums)}
    empty = DaySums(count=0, medfee_sumamt=format_fen(0), in_policy_self_pay=format_fen(0))
    line = models.DecisionLine
    paid_rows = session.execute(_scoped(
        select(line.benefit, line.status, func.sum(line.amount))
        .join(models.Claim, models.Claim.id == line.claim_id)
        .join(models.Settlement, models.Settlement.id == models.Claim.settlement_id)
        .where(posted >= start, posted < end, models.Claim.status != CANCELLED,
               line.status.in_((LineStatus.APPROVED.value, LineStatus.PENDED.value))), who, hospital)
        .group_by(line.benefit, line.status))
    paid: dict[str, int] = defaultdict(int)
    pended = 0
    for benefit, status, amount in paid_rows:
        if status == LineStatus.APPROVED.value:
            paid[benefit] += int(amount)
        else:
            pended += int(amount)
    return ReconciliationRead(
        date=day, hospital=hospital, day_starts=start, day_ends=end, settlements=by_flag.get(0, empty),
        cancelled=by_flag.get(1, empty), paid_by_benefit={b: format_fen(a) for b, a in sorted(paid.items())},
        paid_total=format_fen(sum(paid.values())), pended_total=format_fen(pended))


def reconcile(session: Session, who: Principal, data: ReconciliationCreate) -> ReconciliationResult:
    """Compare a hospital's own list of a day's settlements with ours (3202): the differences.

    Kinds: ``missing_here`` (on their list, never posted), ``posted_another_day`` (posted,
    but not on that day in China; ``ours`` is the day), ``missing_there`` (posted that
    day, not on their list), ``amount_differs`` (``field`` names the amount:
    ``medfee_sumamt``, ``psn_cash_pay``, ``union_paid``: what the approved lines of the
    standing claim pay), ``cancelled_here_only`` and ``cancelled_there_only``. Nothing is
    stored. A hospital reconciles its own list; an administrator names the hospital.
    """
    who.require(Role.ADMIN, Role.HOSPITAL)
    hospital = _reporting_hospital(who, data.hospital)
    if hospital is None:
        raise Invalid.at("hospital", "name the hospital whose list this is")
    if session.scalar(select(models.Hospital.code).where(models.Hospital.code == hospital)) is None:
        raise Invalid.at("hospital", f"no hospital {hospital} is registered")
    theirs: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(data.settlements):
        if item.setl_id in theirs:
            raise Invalid.at(f"settlements[{i}].setl_id", f"{item.setl_id} is listed twice")
        amounts: dict[str, int] = {}
        for name in ("medfee_sumamt", "psn_cash_pay", "union_paid"):
            value = getattr(item, name)
            if value is None:
                continue
            try:
                amounts[name] = parse_yuan(value)
            except AmountError as err:
                raise Invalid.at(f"settlements[{i}].{name}", str(err)) from None
        theirs[item.setl_id] = {"amounts": amounts, "cancelled": item.cancelled}
    start, end = day_window(data.date)
    s, cancellation = models.Settlement, models.SettlementCancellation
    ours: dict[str, dict[str, Any]] = {}
    for setl_id, row_id, cost, record, cancelled_id in session.execute(
            select(s.setl_id, s.id, s.medfee_sumamt, s.record, cancellation.settlement_id)
            .outerjoin(cancellation, cancellation.settlement_id == s.id)
            .where(s.fixmedins_code == hospital, s.posted_at >= start, s.posted_at < end)):
        ours[setl_id] = {"id": row_id, "cancelled": cancelled_id is not None,
                         "amounts": {"medfee_sumamt": cost, "psn_cash_pay": parse_yuan(record["psn_cash_pay"]),
                                     "union_paid": 0}}
    by_id = {o["id"]: setl_id for setl_id, o in ours.items()}
    if by_id:
        for settlement_id, amount in session.execute(
                select(models.Claim.settlement_id, func.sum(models.DecisionLine.amount))
                .join(models.DecisionLine, models.DecisionLine.claim_id == models.Claim.id)
                .where(models.Claim.settlement_id.in_(list(by_id)), models.Claim.status != CANCELLED,
                       models.DecisionLine.status == LineStatus.APPROVED.value)
                .group_by(models.Claim.settlement_id)):
            ours[by_id[settlement_id]]["amounts"]["union_paid"] = int(amount)
    differences: list[ReconciliationDifference] = []
    matched = 0
    elsewhere = sorted(set(theirs) - set(ours))
    other_days = {}
    if elsewhere:
        other_days = {setl_id: posted_at for setl_id, posted_at in session.execute(
            select(s.setl_id, s.posted_at).where(s.fixmedins_code == hospital, s.setl_id.in_(elsewhere)))}
    for setl_id, their in theirs.items():
        our = ours.get(setl_id)
        if our is None:
            if setl_id in other_days:
                when = china_day(other_days[setl_id])
                differences.append(ReconciliationDifference(setl_id=setl_id, kind="posted_another_day",
                                                            ours=when.isoformat(), theirs=data.date.isoformat()))
            else:
                differences.append(ReconciliationDifference(setl_id=setl_id, kind="missing_here"))
            continue
        found: list[ReconciliationDifference] = []
        if our["cancelled"] != their["cancelled"]:
            found.append(ReconciliationDifference(
                setl_id=setl_id, kind="cancelled_here_only" if our["cancelled"] else "cancelled_there_only"))
        for name, amount in their["amounts"].items():
            mine = our["amounts"][name]
            if name == "union_paid" and our["cancelled"]:
                mine = 0
            if mine != amount:
                found.append(ReconciliationDifference(setl_id=setl_id, kind="amount_differs", field=name,
                                                      ours=format_fen(mine), theirs=format_fen(amount)))
        differences.extend(found)
        matched += not found
    for setl_id in sorted(set(ours) - set(theirs)):
        differences.append(ReconciliationDifference(setl_id=setl_id, kind="missing_there"))
    return ReconciliationResult(date=data.date, hospital=hospital, matched=matched, differences=differences)


def china_day(posted_at: dt.datetime) -> dt.date:
    """The China date of a stored instant (SQLite gives it back without its zone: UTC)."""
    return china_today(as_utc(posted_at))
