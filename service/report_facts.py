"""The facts a federation report groups claims by, written in the same transaction as the decision.

``record_claims`` is called once from ``claim_aggregate.insert_claims``: one select of
the members' unions and one insert for the whole batch. A claim's facts never change
afterwards (``models.ClaimFact`` says why), so reviews and re-adjudication leave them be.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from claims.catalog import normalise_icd
from claims.dates import china_today
from store import models


def main_diagnosis(record: dict) -> str:
    """The normalised main ICD-10 code of a settlement record as stored ('' if it names none)."""
    for item in record.get("diagnoses") or ():
        if isinstance(item, dict) and str(item.get("maindiag_flag", "")).strip() == "1":
            return normalise_icd(str(item.get("diag_code", "")))[:32]
    return ""


def record_claims(session: Session, claims: Sequence[models.Claim], settlements: Sequence[models.Settlement]) -> None:
    """Write the report facts of newly decided claims (their ids set), with their settlements in the same order."""
    if not claims:
        return
    member_ids = sorted({c.member_id for c in claims})
    unions = dict(session.execute(select(models.Member.id, models.Member.union_id)
                                  .where(models.Member.id.in_(member_ids))).all())
    today = china_today()
    session.execute(insert(models.ClaimFact), [
        {"claim_id": c.id, "member_id": c.member_id, "union_id": unions[c.member_id], "submitted_on": c.submitted_on,
         "decided_on": today, "admitted_on": s.begndate, "hosp_lv": str(s.record.get("hosp_lv", ""))[:2],
         "main_diagnosis": main_diagnosis(s.record)}
        for c, s in zip(claims, settlements)
    ])


# ----------------------------------------------------------------------------- the ledger's report rows
#
# ``ledger.post`` calls ``record_entry`` for every entry it writes, in the same
# transaction, so the report tables hold exactly what the ledger holds; ``rebuild``
# makes the same rows from the ledger with a few INSERT ... SELECT (the migration runs
# it for entries posted before these tables existed; a test compares the two).

EXPENSE_ROOT = "Expenses:Benefits:"
CIR_EXPENSES = "Expenses:Benefits:CIR:"
ALLOCATIONS_ROOT = "Income:Allocations:"
PAID_EVENT = "item.paid"  # the payment of an item (funds.md §4): its payable legs name the claims paid


def _money_account(account: str) -> bool:
    from service import ledger

    return account in (ledger.CONTRIBUTIONS_MEMBERS, ledger.CONTRIBUTIONS_UNION_SUBSIDY) or \
        account.startswith(ALLOCATIONS_ROOT)


def record_entry(session: Session, entry_id: int, event: str, booked_on, legs: Sequence) -> None:
    """The report rows of one journal entry just posted (``legs``: ``ledger.Leg``)."""
    record_entries(session, [(entry_id, event, booked_on, legs)])


def record_entries(session: Session, entries: Sequence[tuple[int, str, object, Sequence]]) -> None:
    """The report rows of journal entries just posted ``(entry id, event, booked_on, legs)``, in bulk.

    A few statements for the whole batch, whatever its size (``ledger.post_many`` writes
    an import's or a payment run's thousands of entries at once).
    """
    from service import ledger

    wanted_claims: set[int] = set()
    wanted_lines: set[int] = set()
    parsed = []
    for entry_id, event, booked_on, legs in entries:
        expense = [leg for leg in legs if leg.account.startswith(EXPENSE_ROOT)]
        payable = [leg for leg in legs if leg.account == ledger.PAYABLE_MEMBERS and leg.claim_id is not None]
        money = [leg for leg in legs if _money_account(leg.account)]
        if payable and (expense or event == PAID_EVENT):
            wanted_claims.update(leg.claim_id for leg in payable)
            if expense:
                wanted_lines.update(leg.line_id for leg in payable if leg.line_id is not None)
        parsed.append((entry_id, event, booked_on, expense, payable, money))
    facts = {f.claim_id: f for f in session.scalars(
        select(models.ClaimFact).where(models.ClaimFact.claim_id.in_(sorted(wanted_claims))))} if wanted_claims else {}
    charged = set(session.scalars(select(models.ReportCharge.line_id)
                                  .where(models.ReportCharge.line_id.in_(sorted(wanted_lines))).distinct())) \
        if wanted_lines else set()
    members = {leg.member_id for *_, money in parsed for leg in money if leg.member_id}
    unions = dict(session.execute(select(models.Member.id, models.Member.union_id)
                                  .where(models.Member.id.in_(sorted(members)))).all()) if members else {}
    charges, reliefs, payments = [], [], []
    summed: dict[tuple, int] = {}
    for entry_id, event, booked_on, expense, payable, money in parsed:
        if payable and expense:
            account = min(leg.account for leg in expense)
            for leg in payable:
                if leg.line_id is None or leg.claim_id not in facts:
                    continue
                fact = facts[leg.claim_id]
                # A line's rows after its first entry adjust it (a re-charge, a reversal).
                charges.append({"entry_id": entry_id, "booked_on": booked_on, "line_id": leg.line_id,
                                "claim_id": leg.claim_id, "adjusts": leg.line_id in charged,
                                "member_id": fact.member_id, "union_id": fact.union_id, "account": account,
                                "main_diagnosis": fact.main_diagnosis, "hosp_lv": fact.hosp_lv, "amount": -leg.amount})
            charged.update(leg.line_id for leg in payable if leg.line_id is not None and leg.claim_id in facts)
            claim = facts.get(min(leg.claim_id for leg in payable))
            if claim:
                reliefs += [{"entry_id": entry_id, "booked_on": booked_on, "claim_id": claim.claim_id,
                             "member_id": claim.member_id, "union_id": claim.union_id,
                             "fund_source": leg.fund_source or "", "league_id": leg.league_id or "", "amount": leg.amount}
                            for leg in expense if leg.account.startswith(CIR_EXPENSES)]
        elif payable and event == PAID_EVENT:
            for c in sorted({leg.claim_id for leg in payable if leg.amount > 0 and leg.claim_id in facts}):
                payments.append({"entry_id": entry_id, "claim_id": c, "union_id": facts[c].union_id, "paid_on": booked_on,
                                 "submitted_on": facts[c].submitted_on, "decided_on": facts[c].decided_on})
        for leg in money:
            key = (booked_on, leg.account, leg.fund_source or "", leg.league_id or "", unions.get(leg.member_id, ""))
            summed[key] = summed.get(key, 0) - leg.amount
    if charges:
        session.execute(insert(models.ReportCharge), charges)
    if reliefs:
        session.execute(insert(models.ReportRelief), reliefs)
    if payments:
        session.execute(insert(models.ReportPayment), payments)
    if summed:
        _add_money(session, summed)


def _add_money(session: Session, summed: dict[tuple, int]) -> None:
    """Add to the day's sums (made on first use) in the database: two entries at once never collide."""
    from sqlalchemy.dialects import postgresql, sqlite

    table = models.ReportMoney.__table__
    statement = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["booked_on", "account", "fund_source", "league_id", "union_id"],
        set_={"amount": table.c.amount + statement.excluded.amount})
    session.execute(statement, [
        {"booked_on": d, "account": a, "fund_source": s, "league_id": lg, "union_id": u, "amount": fen}
        for (d, a, s, lg, u), fen in sorted(summed.items())])


def rebuild(connection) -> None:
    """Every report row of the ledger made again from the ledger itself (a Session or a Connection)."""
    from sqlalchemy import delete, func
    from sqlalchemy.orm import aliased

    from service import ledger

    p, e, cf, m = models.Posting, models.JournalEntry, models.ClaimFact, models.Member
    for model in (models.ReportCharge, models.ReportRelief, models.ReportPayment, models.ReportMoney):
        connection.execute(delete(model))
    x = aliased(models.Posting)
    charge_entries = (select(x.entry_id.label("entry_id"), func.min(x.account).label("account"))
                      .where(x.account.startswith(EXPENSE_ROOT)).group_by(x.entry_id).subquery())
    # A line's rows after its first entry adjust it (as record_entry marks them, entry by entry).
    later = func.row_number().over(partition_by=p.line_id, order_by=(p.entry_id, p.id)) > 1
    connection.execute(insert(models.ReportCharge).from_select(
        ["entry_id", "booked_on", "line_id", "adjusts", "claim_id", "member_id", "union_id", "account",
         "main_diagnosis", "hosp_lv", "amount"],
        select(p.entry_id, e.booked_on, p.line_id, later, p.claim_id, cf.member_id, cf.union_id,
               charge_entries.c.account, cf.main_diagnosis, cf.hosp_lv, -p.amount)
        .join(e, e.id == p.entry_id).join(charge_entries, charge_entries.c.entry_id == p.entry_id)
        .join(cf, cf.claim_id == p.claim_id)
        .where(p.account == ledger.PAYABLE_MEMBERS, p.line_id.is_not(None)).order_by(p.id)))
    y = aliased(models.Posting)
    claim_of_entry = (select(y.entry_id.label("entry_id"), func.min(y.claim_id).label("claim_id"))
                      .where(y.account == ledger.PAYABLE_MEMBERS, y.claim_id.is_not(None))
                      .group_by(y.entry_id).subquery())
    connection.execute(insert(models.ReportRelief).from_select(
        ["entry_id", "booked_on", "claim_id", "member_id", "union_id", "fund_source", "league_id", "amount"],
        select(p.entry_id, e.booked_on, cf.claim_id, cf.member_id, cf.union_id, func.coalesce(p.fund_source, ""),
               func.coalesce(p.league_id, ""), p.amount)
        .join(e, e.id == p.entry_id).join(claim_of_entry, claim_of_entry.c.entry_id == p.entry_id)
        .join(cf, cf.claim_id == claim_of_entry.c.claim_id)
        .where(p.account.startswith(CIR_EXPENSES)).order_by(p.id)))
    paid = (select(p.entry_id.label("entry_id"), p.claim_id.label("claim_id"), e.booked_on.label("paid_on"))
            .join(e, e.id == p.entry_id)
            .where(e.event == PAID_EVENT, p.account == ledger.PAYABLE_MEMBERS, p.claim_id.is_not(None), p.amount > 0)
            .group_by(p.entry_id, p.claim_id, e.booked_on).subquery())
    connection.execute(insert(models.ReportPayment).from_select(
        ["entry_id", "claim_id", "union_id", "paid_on", "submitted_on", "decided_on"],
        select(paid.c.entry_id, paid.c.claim_id, cf.union_id, paid.c.paid_on, cf.submitted_on, cf.decided_on)
        .join(cf, cf.claim_id == paid.c.claim_id).order_by(paid.c.entry_id, paid.c.claim_id)))
    money = [ledger.CONTRIBUTIONS_MEMBERS, ledger.CONTRIBUTIONS_UNION_SUBSIDY]
    keys = (e.booked_on, p.account, func.coalesce(p.fund_source, ""), func.coalesce(p.league_id, ""),
            func.coalesce(m.union_id, ""))
    connection.execute(insert(models.ReportMoney).from_select(
        ["booked_on", "account", "fund_source", "league_id", "union_id", "amount"],
        select(*keys, -func.sum(p.amount)).join(e, e.id == p.entry_id).outerjoin(m, m.id == p.member_id)
        .where(p.account.in_(money) | p.account.startswith(ALLOCATIONS_ROOT)).group_by(*keys)))
