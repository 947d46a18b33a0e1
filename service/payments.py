"""Paying members (``funds.md`` §3): payee accounts, payment runs, the bank's files, recoveries.

A line's **payable** amount is what it is approved for now (its amount after every
re-adjudication adjustment, ``claim_aggregate.lines_now``) less what items that still
hold it carry (items ``pending`` or ``paid``; a ``returned`` or ``cancelled`` item
holds nothing). A run gathers the payable lines of a union's subtree into one item a
member, nets the member's open recoveries first, and goes

    draft ──approve (another person)──> approved ──bank file──> exported ──return file──> closed
      └──────────────cancel─────────────────┘

Never twice: every line of an unsettled item has a row in ``payment_line_claims``
whose primary key is the line id, so two runs built at the same moment cannot both
take a line (the database refuses the second), and the builder locks the members it
pays first (the lock order of ``claim_aggregate``), so the second builder waits and
then sees the first one's lines as held.

Ledger (``service.ledger``, in the same transaction): an item paid debits
``Liabilities:Payable:Members`` and credits the bank account of each line's fund; the
recoveries it nets debit payable and credit ``Assets:Receivable:Recoveries``; an item
that comes back returned after it was paid reverses both. A decision reduced after
payment (review, re-adjudication, cancellation) is booked by ``service.funds`` in the
reduction's own entry: debit recoveries for the part already paid, debit payable for
the rest, credit the benefit's expense. An item the bank pays *after* its lines were
reduced (it was with the bank) leaves a recovery too (``recover_overpaid``): debit
recoveries, credit payable, the reduction having gone through payable already.

A line's money, one rule for all of it (``overpaid``): what paid items carry of a line
less what was recovered of it is what the member kept; beyond what the line is
approved for now it is owed back.

Lock order: members (id order) → payment runs → audit chain.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.dates import FIRST_DAY, LAST_DAY, china_midnight, happened
from claims.decision import approved_for
from claims.funding import MUTUAL_AID
from claims.money import format_fen
from claims.remittance import ADVICE, ITEM_STATUS
from rules.explain import reason_text
from service import audit, ledger
from service import claim_aggregate as aggregate
from service.auth import Principal, Role, unions_beneath
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.csv_files import decode_csv, formula_safe
from service.schemas import (
    AdviceClaim,
    AdviceLine,
    ItemLineRead,
    LeftOut,
    PayeeAccountWrite,
    PaymentItemRead,
    PaymentRunCreate,
    ReasonRead,
    RemittanceAdvice,
    ReturnsResult,
)
from store import models
from store.repositories import insert_rows, is_postgres, lock_members, next_ids, paginate, update_rows
from store.row_ids import is_row_id

PAYERS = (Role.ADMIN, Role.FINANCE)  # who makes, approves, exports and settles runs
ACCOUNT_WRITERS = (Role.ADMIN, Role.OFFICER, Role.MEMBER)
ACCOUNT_READERS = (*ACCOUNT_WRITERS, Role.FINANCE)
ADVICE_READERS = (Role.ADMIN, Role.OFFICER, Role.FINANCE, Role.MEMBER)

HOLDING = ("pending", "paid")  # item statuses that hold their lines
BANK_FILE_COLUMNS = ("seq", "payee_name", "account_no", "bank_name", "amount", "currency", "reference", "memo")
RETURN_COLUMNS = ("reference", "status", "reason", "bank_ref", "date")
# The bank file's encodings by charset name (what the answer's Content-Type says) → codec:
# utf-8 with the BOM Excel needs to read it as UTF-8.
ENCODINGS = {"utf-8": "utf-8-sig", "gb18030": "gb18030"}

# The events this module posts; ``check`` sums their postings.
PAID, PAID_RETURNED = "item.paid", "item.returned"
NETTED, NETTED_RETURNED = "recovery.netted", "recovery.netting_returned"
RECOVERY_RECORDED = "recovery.recorded"


def mask(account_no: str) -> str:
    """``****1234``: what every answer but the bank file shows of an account number."""
    return f"****{account_no[-4:]}"


# ----------------------------------------------------------------------------- payee accounts


def _member_for_account(session: Session, who: Principal, member_id: str, *, write: bool) -> models.Member:
    """The member, if the caller may see their account; else 404 as if unknown (403 for a role that never may)."""
    who.require(*(ACCOUNT_WRITERS if write else ACCOUNT_READERS))
    if write:
        member = lock_members(session, [member_id]).get(member_id)  # lock order: the member first
    else:
        member = session.get(models.Member, member_id)
    if member is None or not who.may_read(member):  # finance reads, never writes: refused above
        raise NotFound(f"no member {member_id}")
    return member


def _active_account(session: Session, member_id: str) -> models.PayeeAccount | None:
    return session.scalar(select(models.PayeeAccount).where(models.PayeeAccount.member_id == member_id,
                                                            models.PayeeAccount.active.is_(True)))


def get_payee_account(session: Session, who: Principal, member_id: str) -> models.PayeeAccount:
    """The member's active account: to the member, their officers, finance of their union's tree, administrators."""
    _member_for_account(session, who, member_id, write=False)
    account = _active_account(session, member_id)
    if account is None:
        raise NotFound(f"member {member_id} has no payee account")
    return account


def set_payee_account(session: Session, who: Principal, member_id: str, data: PayeeAccountWrite) -> models.PayeeAccount:
    """Make ``data`` the member's active account; the old one is kept, deactivated. The same account again changes nothing.

    Refused (409) while the member has an item in an exported run the bank has not
    settled: the money may be on its way to the old account.
    """
    member = _member_for_account(session, who, member_id, write=True)
    current = _active_account(session, member.id)
    if current is not None and (current.holder_name, current.bank_name, current.account_no) == (
            data.holder_name, data.bank_name, data.account_no):
        return current
    in_flight = session.scalar(
        select(models.PaymentItem.id).join(models.PaymentRun, models.PaymentRun.id == models.PaymentItem.run_id)
        .where(models.PaymentItem.member_id == member.id, models.PaymentItem.status == "pending",
               models.PaymentRun.status == "exported").limit(1))
    if in_flight is not None:
        raise Conflict(f"member {member.id}'s payment item {in_flight} is with the bank (its run was exported); "
                       "the account can change once the bank's return file has settled it")
    now = models._now()
    if current is not None:
        current.active, current.deactivated_at = False, now
        session.flush()  # the partial unique index: one active account a member
    account = models.PayeeAccount(member_id=member.id, holder_name=data.holder_name, bank_name=data.bank_name,
                                  account_no=data.account_no, active=True, created_by=who.actor, created_at=now)
    session.add(account)
    session.flush()
    # The audit log is read widely: it keeps the masked number only.
    audit.record(session, who, "payee_account.changed", "member", member.id, account_id=account.id,
                 holder_name=data.holder_name, bank_name=data.bank_name, account_no=mask(data.account_no),
                 replaced=({"account_id": current.id, "account_no": mask(current.account_no)} if current else None))
    return account


def account_read(account: models.PayeeAccount) -> dict:
    return {"id": account.id, "member_id": account.member_id, "holder_name": account.holder_name,
            "bank_name": account.bank_name, "account_no": mask(account.account_no), "active": account.active,
            "created_at": account.created_at}


# ----------------------------------------------------------------------------- payable lines


@dataclass(frozen=True, slots=True)
class Payable:
    line_id: int
    claim_id: int
    member_id: str
    benefit: str
    amount: int  # fen, > 0


def _claims_in(path: str, decided_from: dt.date | None, decided_to: dt.date | None):
    """The ids of claims of members of a union's subtree decided in the window (a SELECT, not run here).

    A claim's decision date is its last change (``updated_at``): the decision, or the
    review that approved a pended line.
    """
    query = (select(models.Claim.id).join(models.Member, models.Member.id == models.Claim.member_id)
             .where(models.Member.union_id.in_(unions_beneath(path))))
    if decided_from is not None:
        query = query.where(models.Claim.updated_at >= china_midnight(decided_from))
    if decided_to is not None:
        query = query.where(models.Claim.updated_at < china_midnight(decided_to + dt.timedelta(days=1)))
    return query


def current_lines(session: Session, claim_ids) -> dict[int, tuple[str, int]]:
    """(status, amount) now of the lines of those claims that re-adjudication adjusted, by line id.

    ``claim_ids``: a SELECT of claim ids or a list. Only adjusted claims are read in
    full (the rule is ``claim_aggregate.lines_now``); every other line is as decided.
    """
    adjusted = select(models.Adjustment.claim_id).where(models.Adjustment.claim_id.in_(claim_ids)).distinct()
    wanted = list(session.scalars(adjusted))
    if not wanted:
        return {}
    lines: dict[int, list[models.DecisionLine]] = defaultdict(list)
    for line in session.scalars(select(models.DecisionLine).where(models.DecisionLine.claim_id.in_(wanted))):
        lines[line.claim_id].append(line)
    adjustments = aggregate.adjustments_of(session, wanted)
    out: dict[int, tuple[str, int]] = {}
    for claim_id, rows in lines.items():
        now = aggregate.lines_now(rows, adjustments.get(claim_id, []))
        for row in rows:
            held = now[row.benefit].line
            out[row.id] = (held.status.value, held.amount)
    return out


def _sums(rows) -> dict:
    """(key, SUM) rows as a dict of int fen (PostgreSQL answers a SUM of bigints as a decimal)."""
    return {key: int(total) for key, total in rows}


def _held(session: Session, line_ids) -> dict[int, int]:
    """What items that hold lines (pending or paid) carry of each of these lines."""
    return _sums(session.execute(
        select(models.PaymentItemLine.line_id, func.sum(models.PaymentItemLine.amount))
        .join(models.PaymentItem, models.PaymentItem.id == models.PaymentItemLine.item_id)
        .where(models.PaymentItem.status.in_(HOLDING), models.PaymentItemLine.line_id.in_(line_ids))
        .group_by(models.PaymentItemLine.line_id)).all())


def approved_now(session: Session, claim_ids) -> dict[int, tuple[int, str, str, int]]:
    """Lines of these claims (a SELECT of ids or a list) approved now: line → (claim, member, benefit, fen).

    Approved now: its status and amount after every re-adjudication adjustment
    (``claim_aggregate.lines_now``); a line of a cancelled claim is approved for nothing.
    """
    adjusted = select(models.Adjustment.claim_id).where(models.Adjustment.claim_id.in_(claim_ids))
    line = models.DecisionLine
    rows = session.execute(
        select(line.id, line.claim_id, models.Claim.member_id, line.benefit, line.status, line.amount)
        .join(models.Claim, models.Claim.id == line.claim_id)
        .where(line.claim_id.in_(claim_ids), models.Claim.status != aggregate.CANCELLED,
               or_(line.status == "approved", line.claim_id.in_(adjusted)))
        .order_by(line.claim_id, line.position)).all()
    now = current_lines(session, claim_ids)
    out = {}
    for line_id, claim_id, member_id, benefit, status, amount in rows:  # cancelled claims are not among them
        if fen := approved_for(*now.get(line_id, (status, amount))):
            out[line_id] = (claim_id, member_id, benefit, fen)
    return out


def payable_lines(session: Session, claim_ids) -> list[Payable]:
    """The lines of these claims (a SELECT of ids) approved now with something left to pay, in claim order.

    Left to pay: approved now less what the member keeps of it (items holding it, less
    what was recovered of it: a recovery is netted from the same item, so a line cut
    after payment and raised again is paid its raise, net of what is owed back).
    """
    line = models.DecisionLine
    approved = approved_now(session, claim_ids)
    of_claims = select(line.id).where(line.claim_id.in_(claim_ids))
    held = _held(session, of_claims)
    recovered = _recovered(session, [line_id for line_id in approved if line_id in held])
    out = []
    for line_id, (claim_id, member_id, benefit, amount) in approved.items():
        left = amount - held.get(line_id, 0) + recovered.get(line_id, 0)
        if left > 0:
            out.append(Payable(line_id, claim_id, member_id, benefit, left))
    return out


_PART = 10_000  # ids in one IN (...): a run of 100,000 lines would pass PostgreSQL's 65,535 parameters


def _parts(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), _PART):
        yield ordered[start:start + _PART]


def _recovered(session: Session, line_ids: Iterable[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for part in _parts(line_ids):
        found.update(_sums(session.execute(select(models.Recovery.line_id, func.sum(models.Recovery.amount))
                                           .where(models.Recovery.line_id.in_(part)).group_by(models.Recovery.line_id))))
    return found


def paid_amounts(session: Session, line_ids: Iterable[int]) -> dict[int, int]:
    """Fen of each line that items the bank paid carry (netted recoveries included): what a reduction is measured against."""
    return _paid_by(session, models.PaymentItemLine.line_id, line_ids)


def _paid_by(session: Session, key, ids: Iterable[int]) -> dict[int, int]:
    """What items the bank paid carry (netted recoveries included), summed by ``key`` (a PaymentItemLine column)."""
    found: dict[int, int] = {}
    for part in _parts(ids):
        found.update(_sums(session.execute(
            select(key, func.sum(models.PaymentItemLine.amount))
            .join(models.PaymentItem, models.PaymentItem.id == models.PaymentItemLine.item_id)
            .where(models.PaymentItem.status == "paid", key.in_(part))
            .group_by(key))))
    return found


# ----------------------------------------------------------------------------- recoveries


def lock_runs_paying(session: Session, line_ids: Iterable[int]) -> None:
    """Lock the runs whose unsettled items hold these lines (PostgreSQL; SQLite has one writer at a time).

    For a step that cuts lines (lock order: after the pools): a return file settling
    one of those items at the same moment either finishes first, so the cut sees the
    item paid, or waits, and then sees the cut; the overpayment is recovered once.
    """
    ids = list(set(line_ids))
    if not ids or not is_postgres(session):
        return
    session.execute(select(models.PaymentRun.id).where(models.PaymentRun.id.in_(
        select(models.PaymentItem.run_id).join(models.PaymentItemLine, models.PaymentItemLine.item_id == models.PaymentItem.id)
        .where(models.PaymentItem.status == "pending", models.PaymentItemLine.line_id.in_(ids))))
        .order_by(models.PaymentRun.id).with_for_update())


def overpaid(session: Session, approved_after: dict[int, int]) -> dict[int, int]:
    """Of each line (line → fen it is approved for now, or is about to be): what the member was paid beyond it
    and does not owe back yet; lines paid no more than that are left out.

    Paid: what items the bank paid carry of the line (netted recoveries included); a
    line's earlier recoveries are taken off, so a line cut twice is recovered once each.
    """
    paid = paid_amounts(session, approved_after)
    recovered = _recovered(session, paid)
    out = {}
    for line_id, fen in paid.items():
        over = fen - recovered.get(line_id, 0) - approved_after[line_id]
        if over > 0:
            out[line_id] = over
    return out


@dataclass(frozen=True, slots=True)
class Owed:
    """A recovery to store: ``amount`` fen of a line the member was paid and owes back."""

    member_id: str
    claim_id: int | None
    line_id: int | None
    benefit: str
    amount: int


def add_recoveries(session: Session, actor: str, owed: Iterable[Owed], reason: str) -> list[models.Recovery]:
    """Store recoveries whose ledger legs the caller posts (the one place ``recoveries`` rows are made)."""
    rows = []
    for o in owed:
        if type(o.amount) is not int or o.amount <= 0:  # noqa: E721
            raise ValueError(f"a recovery is a positive number of fen, not {o.amount!r}")
        rows.append(models.Recovery(member_id=o.member_id, claim_id=o.claim_id, line_id=o.line_id, benefit=o.benefit,
                                    amount=o.amount, reason=reason, created_by=actor))
    session.add_all(rows)
    session.flush()
    return rows


def record_recovery(session: Session, who: Principal, member_id: str, claim_id: int | None, line_id: int | None,
                    amount: int, reason: str) -> models.Recovery:
    """The member owes ``amount`` fen the reduction of their payable already accounts for; netted before their next payment.

    Debit ``Assets:Receivable:Recoveries`` / credit ``Liabilities:Payable:Members``: a
    reduction booked while the money was with the bank went through payable (it was
    unpaid then); the bank's payment left payable in debit, which this turns into what
    the member owes. (A reduction of a line already paid is booked by ``service.funds``
    in one entry with its expense, through ``add_recoveries``.) Call it under the
    member's lock, in the transaction that finds the overpayment (``overpaid``).
    """
    benefit = ""
    if line_id is not None:
        benefit = session.scalar(select(models.DecisionLine.benefit).where(models.DecisionLine.id == line_id)) or ""
    [recovery] = add_recoveries(session, who.actor, [Owed(member_id, claim_id, line_id, benefit, amount)], reason)
    dims = {"member_id": member_id, "claim_id": claim_id, "line_id": line_id}
    ledger.post(session, RECOVERY_RECORDED, [ledger.Leg(ledger.RECOVERIES, amount, **dims),
                                             ledger.Leg(ledger.PAYABLE_MEMBERS, -amount, **dims)],
                ref=f"recovery:{recovery.id}", memo=reason)
    audit.record(session, who, RECOVERY_RECORDED, "member", member_id, recovery_id=recovery.id, claim_id=claim_id,
                 line_id=line_id, amount=format_fen(amount), reason=reason)
    return recovery


PAID_AFTER_REDUCTION = "paid after its decision was reduced (it was with the bank)"


def recover_overpaid(session: Session, who: Principal, line_ids: Iterable[int]) -> list[models.Recovery]:
    """Recoveries for lines the bank just paid beyond what they are approved for now (reduced or cancelled while
    their item was with the bank)."""
    ids = sorted(set(line_ids))
    if not ids:
        return []
    approved: dict = {}
    for part in _parts(ids):
        approved.update(approved_now(session, select(models.DecisionLine.claim_id)
                                     .where(models.DecisionLine.id.in_(part))))
    over = overpaid(session, {i: approved.get(i, (0, "", "", 0))[3] for i in ids})
    if not over:
        return []
    lines = {}
    for part in _parts(over):
        lines.update({i: (c, m) for i, c, m in session.execute(
            select(models.DecisionLine.id, models.DecisionLine.claim_id, models.Claim.member_id)
            .join(models.Claim, models.Claim.id == models.DecisionLine.claim_id).where(models.DecisionLine.id.in_(part)))})
    return [record_recovery(session, who, lines[i][1], lines[i][0], i, fen, PAID_AFTER_REDUCTION)
            for i, fen in sorted(over.items())]


# ----------------------------------------------------------------------------- runs


def _run(session: Session, who: Principal, run_id: int, *, lock: bool = False) -> models.PaymentRun:
    """A run in the caller's scope (another union's is 404, as if none), locked on request."""
    who.require(*PAYERS)
    query = select(models.PaymentRun).where(models.PaymentRun.id == run_id)
    if lock and is_postgres(session):
        query = query.with_for_update()
    run = session.scalar(query)
    if run is None or not who.sees_union(run.union_id):
        raise NotFound(f"no payment run {run_id}")
    if lock:
        session.refresh(run)
    return run


def create_run(session: Session, who: Principal, data: PaymentRunCreate) -> tuple[models.PaymentRun, list[LeftOut]]:
    """A draft run over the payable lines of a union's subtree decided in the window; and who was left out.

    One item a member: their lines add up to ``gross``; their open recoveries are netted
    first; a member with no active payee account, or who owes more than they are owed,
    gets no item (their lines stay payable, their recoveries open).
    """
    who.require(*PAYERS)
    union_id = data.union_id or (who.union_id if who.role is Role.FINANCE else None)
    if union_id is None:
        raise Invalid.at("union_id", "an administrator names the union whose members are paid")
    union = session.get(models.Union, union_id)
    if union is None or not who.sees_union(union.id):
        raise NotFound(f"no union {union_id}")
    for name in ("decided_from", "decided_to"):
        day = getattr(data, name)
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise Invalid.at(name, f"must be a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")
    if data.decided_from and data.decided_to and data.decided_to < data.decided_from:
        raise Invalid.at("decided_to", f"is before decided_from {data.decided_from.isoformat()}")
    claims_in = _claims_in(union.path, data.decided_from, data.decided_to)
    # Lock order: the members first. A second run built at the same moment waits here,
    # then reads the lines this one took as held (PostgreSQL reads afresh per statement).
    if is_postgres(session):
        session.execute(select(models.Member.id).where(models.Member.id.in_(
            select(models.Claim.member_id).where(models.Claim.id.in_(claims_in)))).order_by(models.Member.id)
            .with_for_update())
    lines = payable_lines(session, claims_in)
    if not lines:
        raise Conflict(f"no approved line of union {union.id}'s members in that window is left to pay")
    by_member: dict[str, list[Payable]] = defaultdict(list)
    for line in lines:
        by_member[line.member_id].append(line)
    accounts = {a.member_id: a for a in session.scalars(
        select(models.PayeeAccount).where(models.PayeeAccount.active.is_(True), models.PayeeAccount.member_id.in_(
            select(models.Claim.member_id).where(models.Claim.id.in_(claims_in)))))}
    open_recoveries: dict[str, list[models.Recovery]] = defaultdict(list)
    for recovery in session.scalars(
            select(models.Recovery).where(models.Recovery.item_id.is_(None), models.Recovery.member_id.in_(
                select(models.Claim.member_id).where(models.Claim.id.in_(claims_in)))).order_by(models.Recovery.id)):
        open_recoveries[recovery.member_id].append(recovery)

    left_out: list[LeftOut] = []
    paying: list[tuple[str, list[Payable], list[models.Recovery], int, int]] = []
    for member_id in sorted(by_member):
        gross = sum(line.amount for line in by_member[member_id])
        owed = open_recoveries.get(member_id, [])
        netted = sum(r.amount for r in owed)
        if member_id not in accounts:
            left_out.append(LeftOut(member_id=member_id, payable=format_fen(gross), why="no_payee_account"))
        elif netted >= gross:
            left_out.append(LeftOut(member_id=member_id, payable=format_fen(gross), why="recoveries_exceed_payable"))
        else:
            paying.append((member_id, by_member[member_id], owed, gross, netted))
    if not paying:
        raise Conflict(f"{len(left_out)} member(s) have lines to pay, none an item: "
                       + ", ".join(f"{x.member_id} ({x.why})" for x in left_out[:20]))

    run = models.PaymentRun(union_id=union.id, decided_from=data.decided_from, decided_to=data.decided_to,
                            status="draft", made_by=who.actor, made_by_key=who.key_id,
                            total=sum(gross - netted for *_rest, gross, netted in paying), item_count=len(paying))
    session.add(run)
    session.flush()
    item_rows = [{"run_id": run.id, "member_id": m, "payee_account_id": accounts[m].id, "gross": gross,
                  "netted": netted, "amount": gross - netted, "status": "pending", "reason": "", "bank_ref": ""}
                 for m, _lines, _owed, gross, netted in paying]
    item_ids = next_ids(session, models.PaymentItem.__table__, len(item_rows))
    if item_ids is None:
        item_ids = session.scalars(insert(models.PaymentItem).returning(models.PaymentItem.id,
                                                                        sort_by_parameter_order=True), item_rows).all()
    else:
        insert_rows(session, models.PaymentItem.__table__, [{"id": i, **row} for i, row in zip(item_ids, item_rows)])
    item_lines, claims_rows, netting = [], [], []
    for item_id, (_m, member_lines, owed, _gross, _netted) in zip(item_ids, paying):
        for line in member_lines:
            item_lines.append({"item_id": item_id, "line_id": line.line_id, "claim_id": line.claim_id,
                               "amount": line.amount})
            claims_rows.append({"line_id": line.line_id, "item_id": item_id, "run_id": run.id})
        netting.extend({"id": r.id, "item_id": item_id} for r in owed)
    try:
        # The guard: a line already held by another unsettled item is refused here.
        insert_rows(session, models.LiveLineClaim.__table__, claims_rows)
    except IntegrityError:
        raise Conflict("another payment run took some of these lines at the same moment; build the run again") from None
    insert_rows(session, models.PaymentItemLine.__table__, item_lines)
    if netting:
        session.execute(update(models.Recovery), netting)
    audit.record(session, who, "payment_run.created", "payment_run", run.id, union_id=union.id,
                 decided_from=data.decided_from, decided_to=data.decided_to, items=len(paying), lines=len(item_lines),
                 total=format_fen(run.total), left_out=len(left_out))
    return run, left_out


def list_runs(session: Session, who: Principal, *, status: str | None, page: int,
              page_size: int) -> tuple[list[models.PaymentRun], int]:
    who.require(*PAYERS)
    query = select(models.PaymentRun)
    if who.role is Role.FINANCE:
        query = query.where(who.union_scope(models.PaymentRun.union_id))
    if status:
        query = query.where(models.PaymentRun.status == status)
    return paginate(session, query, models.PaymentRun.id.desc(), page, page_size)


def get_run(session: Session, who: Principal, run_id: int) -> models.PaymentRun:
    return _run(session, who, run_id)


def run_items(session: Session, run_id: int) -> list[PaymentItemRead]:
    """The run's items, masked, each with its lines (three queries, whatever the size)."""
    item, account = models.PaymentItem, models.PayeeAccount
    rows = session.execute(select(item, account.holder_name, account.bank_name, account.account_no)
                           .join(account, account.id == item.payee_account_id)
                           .where(item.run_id == run_id).order_by(item.id)).all()
    lines: dict[int, list[ItemLineRead]] = defaultdict(list)
    for item_id, claim_id, line_id, benefit, amount in session.execute(
            select(models.PaymentItemLine.item_id, models.PaymentItemLine.claim_id, models.PaymentItemLine.line_id,
                   models.DecisionLine.benefit, models.PaymentItemLine.amount)
            .join(models.DecisionLine, models.DecisionLine.id == models.PaymentItemLine.line_id)
            .join(item, item.id == models.PaymentItemLine.item_id)
            .where(item.run_id == run_id).order_by(models.PaymentItemLine.claim_id, models.PaymentItemLine.line_id)):
        lines[item_id].append(ItemLineRead(claim_id=claim_id, line_id=line_id, benefit=benefit,
                                           amount=format_fen(amount)))
    return [_item_read(i, holder, bank, number, lines[i.id]) for i, holder, bank, number in rows]


def _item_read(i: models.PaymentItem, holder: str, bank: str, number: str, lines: list[ItemLineRead]) -> PaymentItemRead:
    return PaymentItemRead(id=i.id, run_id=i.run_id, member_id=i.member_id, holder_name=holder, bank_name=bank,
                           account_no=mask(number), gross=format_fen(i.gross), netted=format_fen(i.netted),
                           amount=format_fen(i.amount), status=i.status, reason=i.reason, bank_ref=i.bank_ref,
                           settled_on=i.settled_on, lines=lines)


def approve_run(session: Session, who: Principal, run_id: int) -> models.PaymentRun:
    """The checker's approval: a finance officer or administrator other than the run's maker."""
    run = _run(session, who, run_id, lock=True)
    if run.status != "draft":
        raise Conflict(f"payment run {run.id} is {run.status}; only a draft is approved")
    if _same_person(run, who):
        raise Forbidden(f"payment run {run.id} was made by this key ({run.made_by}); maker–checker: another finance "
                        "officer or an administrator approves it")
    run.status, run.approved_by, run.approved_by_key = "approved", who.actor, who.key_id
    run.approved_at = models._now()
    session.flush()
    audit.record(session, who, "payment_run.approved", "payment_run", run.id, made_by=run.made_by,
                 total=format_fen(run.total), items=run.item_count)
    return run


def _person(actor: str) -> str:
    """The person in an actor name, without the role: ``key:7``, ``user:3`` or ``cli``."""
    return actor.split(" (", 1)[0]


def _same_person(run: models.PaymentRun, who: Principal) -> bool:
    # By the maker's name (a key's or a console user's id), not by key id alone: every
    # console user acts with no key (key_id None), and two of them are two people.
    return _person(run.made_by) == _person(who.actor)


def _release(session: Session, item_ids) -> None:
    """Lines and recoveries of items that no longer hold them (cancelled or returned) are free again."""
    session.execute(delete(models.LiveLineClaim).where(models.LiveLineClaim.item_id.in_(item_ids)))
    session.execute(update(models.Recovery).where(models.Recovery.item_id.in_(item_ids)).values(item_id=None))


def cancel_run(session: Session, who: Principal, run_id: int) -> models.PaymentRun:
    """A draft or approved run called off: its lines are payable again and its recoveries open."""
    run = _run(session, who, run_id, lock=True)
    if run.status not in ("draft", "approved"):
        raise Conflict(f"payment run {run.id} is {run.status}; only a draft or approved run is cancelled "
                       "(an exported one is settled by the bank's return file)")
    was = run.status
    _release(session, select(models.PaymentItem.id).where(models.PaymentItem.run_id == run.id))
    session.execute(update(models.PaymentItem).where(models.PaymentItem.run_id == run.id).values(status="cancelled"))
    run.status, run.cancelled_at = "cancelled", models._now()
    session.flush()
    audit.record(session, who, "payment_run.cancelled", "payment_run", run.id, was=was)
    return run


# ----------------------------------------------------------------------------- the bank's files

def bank_file(session: Session, who: Principal, run_id: int, encoding: str) -> tuple[bytes, str]:
    """The CSV the bank pays from (approved or exported runs; the first one marks the run exported); its file name.

    The only place an account number is whole. Every download is audited.
    """
    run = _run(session, who, run_id, lock=True)
    if run.status not in ("approved", "exported"):
        raise Conflict(f"payment run {run.id} is {run.status}; the bank file is made from an approved run"
                       + (" (approve it first, as another person)" if run.status == "draft" else ""))
    item, account = models.PaymentItem, models.PayeeAccount
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BANK_FILE_COLUMNS)
    rows = session.execute(select(item.id, item.amount, account.holder_name, account.account_no, account.bank_name)
                           .join(account, account.id == item.payee_account_id)
                           .where(item.run_id == run.id, item.status != "cancelled").order_by(item.id))
    for seq, (item_id, amount, holder, number, bank) in enumerate(rows, start=1):
        writer.writerow([formula_safe(str(v)) for v in (seq, holder, number, bank, format_fen(amount), "CNY", item_id,
                                            f"互助保障金 payment run {run.id}")])
    first = run.status == "approved"
    if first:
        run.status, run.exported_at = "exported", models._now()
        session.flush()
    audit.record(session, who, "payment_run.exported" if first else "payment_run.bank_file_again", "payment_run",
                 run.id, encoding=encoding, items=run.item_count, total=format_fen(run.total))
    return out.getvalue().encode(ENCODINGS[encoding]), f"payment-run-{run.id}.csv"


_DATE = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})")  # ASCII: \d takes ٢٠٢٦ too


def _return_date(value: str) -> dt.date | None:
    match = _DATE.fullmatch(value.strip())
    if match is None:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def import_returns(session: Session, who: Principal, run_id: int, data: bytes | str) -> ReturnsResult:
    """The bank's return file: each item ``paid`` or ``returned``; all or nothing; the same file again changes nothing.

    A paid item posts its payment (and the recoveries it netted) to the ledger, and a
    line it paid beyond what it is approved for now (cut or cancelled while with the
    bank) leaves a recovery (``recover_overpaid``); a returned one frees its lines and
    recoveries (a paid one that comes back returned reverses those entries). When every
    item is settled the run is ``closed``.
    """
    run = _run(session, who, run_id, lock=True)
    if run.status not in ("exported", "closed"):
        raise Conflict(f"payment run {run.id} is {run.status}; a return file settles an exported run")
    reader = csv.DictReader(io.StringIO(decode_csv(data)))
    try:
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error as err:
        raise Invalid.at("header", f"not a CSV header: {err}") from None
    missing = [c for c in ("reference", "status", "date") if c not in header]
    if missing:
        raise Invalid.at("header", f"the return file needs the columns {', '.join(RETURN_COLUMNS)}; "
                         f"missing {', '.join(missing)}")
    reader.fieldnames = header
    item = models.PaymentItem
    items = {row[0]: _Settling(*row) for row in session.execute(
        select(item.id, item.member_id, item.status, item.netted, item.entry_id, item.netting_entry_id)
        .where(item.run_id == run.id, item.status != "cancelled"))}
    errors: list[dict[str, str]] = []
    seen: dict[int, int] = {}
    changes: list[tuple[_Settling, str, str, str, dt.date]] = []
    unchanged = 0
    n = 1
    try:
        for n, row in enumerate(reader, start=2):
            def cell(name: str) -> str:
                return (row.get(name) or "").strip()

            reference, status, reason, bank_ref, day_text = (cell(c) for c in RETURN_COLUMNS)
            # The item's id as the bank file wrote it: "07" or "²" names no item (store.row_ids).
            item = items.get(int(reference)) if is_row_id(reference) else None
            day = _return_date(day_text)
            if item is None:
                errors.append({"field": f"row {n}.reference", "message": f"no item {reference!r} in payment run {run.id}"})
            elif item.id in seen:
                errors.append({"field": f"row {n}.reference", "message": f"item {item.id} is listed already (row {seen[item.id]})"})
            elif status not in ("paid", "returned"):
                errors.append({"field": f"row {n}.status", "message": "paid or returned"})
            elif day is None:
                errors.append({"field": f"row {n}.date", "message": f"not a date (YYYY-MM-DD): {day_text!r}"})
            elif not happened(day):
                errors.append({"field": f"row {n}.date", "message": (
                    f"{day.isoformat()}: the bank settles on a day from {FIRST_DAY.isoformat()} "
                    "to tomorrow in China")})
            elif status == "returned" and not reason:
                errors.append({"field": f"row {n}.reason", "message": "a returned item needs the bank's reason"})
            elif len(reason) > 500 or len(bank_ref) > 100:
                errors.append({"field": f"row {n}.{'reason' if len(reason) > 500 else 'bank_ref'}",
                               "message": "too long (reason 500, bank_ref 100 characters at most)"})
            elif item.status == "returned" and status == "paid":
                errors.append({"field": f"row {n}.status", "message": (
                    f"item {item.id} was returned already; its lines are paid by a new run")})
            else:
                seen[item.id] = n
                if item.status == status:
                    unchanged += 1
                else:
                    changes.append((item, status, reason, bank_ref, day))
    except csv.Error as err:
        errors.append({"field": f"row {n + 1}", "message": f"not a CSV row: {err}"})
    if errors:
        raise Invalid(f"{len(errors)} row(s) of the return file are invalid; nothing was stored", errors)

    paid = [c for c in changes if c[1] == "paid"]
    returned = [c for c in changes if c[1] == "returned"]
    _post_paid(session, run, [c[0] for c in paid])
    _unpost_returned(session, run, [c[0] for c in returned if c[0].status == "paid"])
    for settling, status, reason, bank_ref, day in changes:
        settling.status = status
    update_rows(session, models.PaymentItem.__table__, [
        {"id": c[0].id, "status": status, "reason": reason, "bank_ref": bank_ref, "settled_on": day,
         "entry_id": c[0].entry_id, "netting_entry_id": c[0].netting_entry_id}
        for c in changes for _s, status, reason, bank_ref, day in [c]])
    if paid:  # a line reduced or cancelled while its item was with the bank: what it paid beyond is owed back
        recover_overpaid(session, who, _cut_lines_paid(session, run.id))
    if changes:  # settled items hold no line claims; returned ones free their recoveries too
        session.execute(delete(models.LiveLineClaim).where(models.LiveLineClaim.run_id == run.id, models.LiveLineClaim.item_id.in_(
            select(models.PaymentItem.id).where(models.PaymentItem.run_id == run.id,
                                                models.PaymentItem.status.in_(("paid", "returned"))))))
    if returned:
        _release(session, select(models.PaymentItem.id).where(models.PaymentItem.run_id == run.id,
                                                              models.PaymentItem.status == "returned"))
    if run.status == "exported" and all(i.status in ("paid", "returned") for i in items.values()):
        run.status, run.closed_at = "closed", models._now()
        session.flush()
    if changes:
        audit.record(session, who, "payment_run.returns_imported", "payment_run", run.id, paid=len(paid),
                     returned=len(returned), unchanged=unchanged, run_status=run.status)
    return ReturnsResult(paid=len(paid), returned=len(returned), unchanged=unchanged, run_status=run.status)


def _cut_lines_paid(session: Session, run_id: int) -> list[int]:
    """Lines that paid items of the run carry and that may have been cut since the run took them: of a cancelled
    or re-adjudicated claim, no longer approved, or approved for less than the item carries. (Only candidates,
    found by the run, one parameter, whatever its size: ``overpaid`` is the rule.)"""
    il, line, claim = models.PaymentItemLine, models.DecisionLine, models.Claim
    adjusted = select(models.Adjustment.claim_id)
    return list(session.scalars(
        select(il.line_id).join(models.PaymentItem, models.PaymentItem.id == il.item_id)
        .join(line, line.id == il.line_id).join(claim, claim.id == il.claim_id)
        .where(models.PaymentItem.run_id == run_id, models.PaymentItem.status == "paid",
               or_(claim.status == aggregate.CANCELLED, line.status != "approved", line.amount < il.amount,
                   il.claim_id.in_(adjusted)))))


@dataclass(slots=True)
class _Settling:
    """An item as a return file settles it (a light row: a run may have tens of thousands)."""

    id: int
    member_id: str
    status: str
    netted: int
    entry_id: int | None
    netting_entry_id: int | None


def _post_paid(session: Session, run: models.PaymentRun, items: list[_Settling]) -> None:
    """The ledger entries of items the bank paid: the payment per line, and the recoveries netted."""
    if not items:
        return
    by_item: dict[int, list[tuple[int, int, str, int]]] = defaultdict(list)
    # Read by the run (one parameter), not by a list of thousands of item ids.
    of_run = select(models.PaymentItem.id).where(models.PaymentItem.run_id == run.id)
    for item_id, line_id, claim_id, benefit, amount in session.execute(
            select(models.PaymentItemLine.item_id, models.PaymentItemLine.line_id, models.PaymentItemLine.claim_id,
                   models.DecisionLine.benefit, models.PaymentItemLine.amount)
            .join(models.DecisionLine, models.DecisionLine.id == models.PaymentItemLine.line_id)
            .where(models.PaymentItemLine.item_id.in_(of_run))
            .order_by(models.PaymentItemLine.item_id, models.PaymentItemLine.claim_id, models.PaymentItemLine.line_id)):
        by_item[item_id].append((line_id, claim_id, benefit, amount))
    # The fund that pays a line is the one its charges were made to (the plan's Funding.fund_of when approved).
    c = models.LineCharge
    fund_of_line = dict(session.execute(select(c.line_id, c.fund).distinct().where(
        c.line_id.in_(select(models.PaymentItemLine.line_id).where(models.PaymentItemLine.item_id.in_(of_run))))).all())
    recoveries: dict[int, list[models.Recovery]] = defaultdict(list)
    if any(i.netted for i in items):
        for r in session.scalars(select(models.Recovery).where(models.Recovery.item_id.in_(of_run)).order_by(models.Recovery.id)):
            recoveries[r.item_id].append(r)
    payments, nettings = [], []
    for item in items:
        to_net = item.netted  # the recoveries take the first lines' fen; the bank pays the rest
        pay_legs, net_legs = [], []
        for line_id, claim_id, benefit, amount in by_item[item.id]:
            netted_here = min(to_net, amount)
            to_net -= netted_here
            dims = {"member_id": item.member_id, "claim_id": claim_id, "line_id": line_id}
            if amount - netted_here:
                pay_legs += [ledger.Leg(ledger.PAYABLE_MEMBERS, amount - netted_here, **dims),
                             ledger.Leg(ledger.bank_account_for(fund_of_line.get(line_id, MUTUAL_AID)),
                                        -(amount - netted_here), **dims)]
            if netted_here:
                net_legs.append(ledger.Leg(ledger.PAYABLE_MEMBERS, netted_here, **dims))
        net_legs += [ledger.Leg(ledger.RECOVERIES, -r.amount, member_id=item.member_id, claim_id=r.claim_id,
                                line_id=r.line_id) for r in recoveries[item.id]]
        payments.append(ledger.Entry(PAID, pay_legs, f"payment_item:{item.id}", f"payment run {run.id}"))
        nettings.append(ledger.Entry(NETTED, net_legs, f"payment_item:{item.id}", f"payment run {run.id}"))
    for item, entry_id in zip(items, ledger.post_many(session, payments)):
        item.entry_id = entry_id or None
    if any(entry.legs for entry in nettings):
        for item, entry_id in zip(items, ledger.post_many(session, nettings)):
            item.netting_entry_id = entry_id or None


def _unpost_returned(session: Session, run: models.PaymentRun, items: list[_Settling]) -> None:
    """A paid item the bank sent back: its payment and netting entries reversed."""
    reversals = [(i.entry_id, PAID_RETURNED, f"payment_item:{i.id}") for i in items if i.entry_id]
    reversals += [(i.netting_entry_id, NETTED_RETURNED, f"payment_item:{i.id}") for i in items if i.netting_entry_id]
    ledger.reverse_many(session, reversals)


# ----------------------------------------------------------------------------- what claims show


def payment_statuses(session: Session, claims: Iterable[models.Claim]) -> dict[int, str]:
    """Each claim's payment status (one query for them all); claims need their lines and adjustments loaded."""
    claims = list(claims)
    if not claims:
        return {}
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for claim_id, status, amount in session.execute(
            select(models.PaymentItemLine.claim_id, models.PaymentItem.status, func.sum(models.PaymentItemLine.amount))
            .join(models.PaymentItem, models.PaymentItem.id == models.PaymentItemLine.item_id)
            .where(models.PaymentItemLine.claim_id.in_([c.id for c in claims]))
            .group_by(models.PaymentItemLine.claim_id, models.PaymentItem.status)):
        sums[claim_id][status] += int(amount)
    out = {}
    for claim in claims:
        held = sums.get(claim.id, {})
        approved = sum(approved_for(h.line.status, h.line.amount, cancelled=claim.status == aggregate.CANCELLED)
                       for h in aggregate.lines_now(claim.lines, claim.adjustments).values())
        if held.get("pending"):
            out[claim.id] = "in_run"
        elif held.get("paid"):
            out[claim.id] = "paid" if held["paid"] >= approved else "partly_paid"
        elif held.get("returned"):
            out[claim.id] = "returned"
        else:
            out[claim.id] = "unpaid"
    return out


def paid_by_claim(session: Session, claim_ids: Iterable[int]) -> dict[int, int]:
    """What items the bank paid carry of each claim's lines (fen; netted recoveries included)."""
    return _paid_by(session, models.PaymentItemLine.claim_id, claim_ids)


# ----------------------------------------------------------------------------- remittance advice


def member_items(session: Session, who: Principal, member_id: str, limit: int = 200) -> list[models.PaymentItem]:
    """A member's payment items of runs that reached the bank (exported or closed), newest first.

    To those who may read the member's advice: another member, or a member outside the
    caller's scope, is unknown (404).
    """
    who.require(*ADVICE_READERS)
    member = session.get(models.Member, member_id)
    if member is None or not (who.may_act_for(member)
                              or (who.role is Role.FINANCE and who.sees_union(member.union_id))):
        raise NotFound(f"no member {member_id}")
    run = models.PaymentRun
    return list(session.scalars(
        select(models.PaymentItem).join(run, run.id == models.PaymentItem.run_id)
        .where(models.PaymentItem.member_id == member.id, run.status.in_(("exported", "closed")))
        .order_by(models.PaymentItem.id.desc()).limit(limit)))



def advice(session: Session, who: Principal, plans, item_id: int) -> RemittanceAdvice:
    """What an item paid: to the member, their officers, finance of their union's tree, administrators."""
    who.require(*ADVICE_READERS)
    # Only of a run that reached the bank (as ``member_items`` lists them): an advice of a
    # draft, approved or cancelled run would be a printable paper for money never sent.
    found = session.execute(select(models.PaymentItem, models.Member, models.PayeeAccount)
                            .join(models.Member, models.Member.id == models.PaymentItem.member_id)
                            .join(models.PayeeAccount, models.PayeeAccount.id == models.PaymentItem.payee_account_id)
                            .join(models.PaymentRun, models.PaymentRun.id == models.PaymentItem.run_id)
                            .where(models.PaymentItem.id == item_id,
                                   models.PaymentRun.status.in_(("exported", "closed")))).first()
    if found is None:
        raise NotFound(f"no payment item {item_id}")
    item, member, account = found
    if not (who.may_act_for(member) or (who.role is Role.FINANCE and who.sees_union(member.union_id))):
        raise NotFound(f"no payment item {item_id}")
    rows = session.execute(
        select(models.PaymentItemLine.amount, models.DecisionLine, models.Claim, models.Settlement)
        .join(models.DecisionLine, models.DecisionLine.id == models.PaymentItemLine.line_id)
        .join(models.Claim, models.Claim.id == models.PaymentItemLine.claim_id)
        .join(models.Settlement, models.Settlement.id == models.Claim.settlement_id)
        .where(models.PaymentItemLine.item_id == item.id)
        .order_by(models.Claim.id, models.DecisionLine.position)).all()
    claims: dict[int, AdviceClaim] = {}
    for amount, line, claim, bill in rows:
        try:
            plan = plans.engine_by_version(session, claim.plan_version).plan
        except Conflict:
            plan = None
        benefit = next((b for b in plan.document.benefits if b.code == line.benefit), None) if plan else None
        entry = claims.setdefault(claim.id, AdviceClaim(claim_id=claim.id, fixmedins_code=bill.fixmedins_code,
                                                         setl_id=bill.setl_id, admitted=bill.begndate,
                                                         discharged=bill.enddate, lines=[]))
        entry.lines.append(AdviceLine(
            line_id=line.id, benefit=line.benefit, name_zh=benefit.name_zh if benefit else "",
            name_en=benefit.name_en if benefit else "", amount=format_fen(amount),
            reasons=[ReasonRead(code=code, zh=zh, en=en) for code in line.reasons
                     for zh, en in [reason_text(code, plan)]]))
    return RemittanceAdvice(
        item_id=item.id, run_id=item.run_id, member_id=member.id, member_name=member.name,
        holder_name=account.holder_name, bank_name=account.bank_name, account_no=mask(account.account_no),
        status=item.status, settled_on=item.settled_on, bank_ref=item.bank_ref, gross=format_fen(item.gross),
        netted=format_fen(item.netted), amount=format_fen(item.amount), claims=list(claims.values()))


def advice_html(advice: RemittanceAdvice) -> str:
    """The advice as a printable page, Chinese with English beside; every value escaped."""
    e = html.escape

    def label(key: str) -> str:
        zh, en = ADVICE[key].zh, ADVICE[key].en
        return f'{e(zh)} <span class="en">{e(en)}</span>'

    status = ITEM_STATUS.get(advice.status)
    facts = [
        ("item", str(advice.item_id)), ("run", str(advice.run_id)),
        ("member", f"{advice.member_name} ({advice.member_id})" if advice.member_name else advice.member_id),
        ("payee", advice.holder_name), ("bank", advice.bank_name), ("account", advice.account_no),
        ("status", f"{status.zh} / {status.en}" if status else advice.status),
        ("settled_on", advice.settled_on.isoformat() if advice.settled_on else "—"),
        ("bank_ref", advice.bank_ref or "—"),
    ]
    parts = [
        "<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(ADVICE['title'].zh)} {e(ADVICE['title'].en)} {advice.item_id}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #999;padding:4px;text-align:left}.en{color:#555;font-size:90%}"
        ".num{text-align:right}@media print{.noprint{display:none}}</style></head><body>",
        f"<h1>{label('title')}</h1><p>{label('union_line')}</p>",
        "<table>" + "".join(f"<tr><th>{label(k)}</th><td>{e(v)}</td></tr>" for k, v in facts) + "</table>",
    ]
    for claim in advice.claims:
        parts.append(f"<h2>{label('claim')} {claim.claim_id}</h2><p>{label('hospital')}: {e(claim.fixmedins_code)} "
                     f"({e(claim.setl_id)}) · {label('stay')}: {claim.admitted.isoformat()} – "
                     f"{claim.discharged.isoformat()}</p>")
        parts.append(f"<table><tr><th>{label('benefit')}</th><th>{label('amount')}</th><th>{label('reasons')}</th></tr>")
        for line in claim.lines:
            reasons = "<br>".join(f"{e(r.zh)} <span class=\"en\">{e(r.en)}</span>" for r in line.reasons)
            parts.append(f"<tr><td>{e(line.name_zh or line.benefit)} <span class=\"en\">{e(line.name_en)}</span></td>"
                         f"<td class=\"num\">{e(line.amount)}</td><td>{reasons}</td></tr>")
        parts.append("</table>")
    parts.append("<table>" + "".join(f"<tr><th>{label(k)}</th><td class=\"num\">{e(v)}</td></tr>" for k, v in (
        ("gross", advice.gross), ("netted", advice.netted), ("paid", advice.amount))) + "</table>")
    parts.append(f'<p class="noprint">{label("print")}</p></body></html>')
    return "\n".join(parts)


# ----------------------------------------------------------------------------- claims check


def check(session: Session) -> list[str]:
    """The payment rules of ``funds.md`` §3–4 that ``claims check`` proves; problems, one line each."""
    problems: list[str] = []
    il, item = models.PaymentItemLine, models.PaymentItem
    # A line in two live runs: two unsettled items (of runs not cancelled) hold it.
    for line_id, count in session.execute(
            select(il.line_id, func.count()).join(item, item.id == il.item_id).where(item.status == "pending")
            .group_by(il.line_id).having(func.count() > 1)):
        problems.append(f"line {line_id} is in {count} live payment runs at once")
    # Paid twice: what paid items carry of a line beyond what it is approved for now and what was recovered of it.
    paid = _sums(session.execute(select(il.line_id, func.sum(il.amount)).join(item, item.id == il.item_id)
                                 .where(item.status == "paid").group_by(il.line_id)))
    if paid:
        paid_lines = select(il.line_id).join(item, item.id == il.item_id).where(item.status == "paid")
        approved = approved_now(session, select(models.DecisionLine.claim_id).where(models.DecisionLine.id.in_(paid_lines)))
        recovered = _recovered(session, paid)
        for line_id, amount in sorted(paid.items()):
            allowed = approved.get(line_id, (0, "", "", 0))[3]
            if amount > allowed + recovered.get(line_id, 0):
                problems.append(f"line {line_id}: paid {format_fen(amount)}, approved {format_fen(allowed)}"
                                f"{' plus recoveries ' + format_fen(recovered[line_id]) if recovered.get(line_id) else ''}"
                                ": paid more than once")
    # The ledger's payments agree with the items: what payment events took off each member's payable
    # is the gross of their items the bank paid (cash and recoveries netted alike).
    booked = _sums(session.execute(
        select(models.Posting.member_id, func.sum(models.Posting.amount))
        .join(models.JournalEntry, models.JournalEntry.id == models.Posting.entry_id)
        .where(models.Posting.account == ledger.PAYABLE_MEMBERS,
               models.JournalEntry.event.in_((PAID, PAID_RETURNED, NETTED, NETTED_RETURNED)))
        .group_by(models.Posting.member_id)))
    settled = _sums(session.execute(select(item.member_id, func.sum(item.gross)).where(item.status == "paid")
                                    .group_by(item.member_id)))
    for member_id in sorted(set(booked) | set(settled)):
        if booked.get(member_id, 0) != settled.get(member_id, 0):
            problems.append(f"member {member_id}: the ledger booked {format_fen(booked.get(member_id, 0))} of payments "
                            f"off their payable, their paid items add up to {format_fen(settled.get(member_id, 0))}")
    problems += _payable_per_member(session, settled)
    return problems


def _payable_per_member(session: Session, paid_gross: dict[str, int]) -> list[str]:
    """Payable to each member per the ledger = approved lines − paid items + returned items − recoveries netted
    (``funds.md`` §4), the ledger's own legs against the lines and items.

    Approved lines: what each line is approved for now (``approved_now``: 0 for a
    cancelled claim) plus what was recovered of it: a line cut after it was paid owes
    the paid part back (``Assets:Receivable:Recoveries``) instead of taking it off
    payable. Paid items count their gross: the cash and the recoveries they netted; a
    returned item is not paid (its entries are reversed).
    """
    ledger_payable = {m: -int(total) for m, total in session.execute(
        select(models.Posting.member_id, func.sum(models.Posting.amount))
        .where(models.Posting.account == ledger.PAYABLE_MEMBERS, models.Posting.member_id.is_not(None))
        .group_by(models.Posting.member_id))}
    approved: dict[str, int] = defaultdict(int)
    for _claim, member_id, _benefit, amount in approved_now(session, select(models.Claim.id)).values():
        approved[member_id] += amount
    recovered = _sums(session.execute(select(models.Recovery.member_id, func.sum(models.Recovery.amount))
                                      .group_by(models.Recovery.member_id)))
    problems = []
    for member_id in sorted(set(ledger_payable) | set(approved) | set(paid_gross) | set(recovered)):
        want = approved.get(member_id, 0) - paid_gross.get(member_id, 0) + recovered.get(member_id, 0)
        have = ledger_payable.get(member_id, 0)
        if want != have:
            problems.append(f"member {member_id}: payable per the ledger {format_fen(have)}, approved lines less "
                            f"paid items plus recoveries give {format_fen(want)}")
    return problems
