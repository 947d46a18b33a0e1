"""The facts a federation report groups claims by, written in the same transaction as the decision.

``record_claims`` is called once from ``claim_aggregate.insert_claims``: one select of
the members' unions and one insert for the whole batch. A claim's facts never change
afterwards (``models.ClaimFact`` says why), so reviews and re-adjudication leave them be.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, false, insert, inspect, select
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
    unions = _unions_of(session, {c.member_id for c in claims})
    today = china_today()
    rows = [{"claim_id": c.id, "member_id": c.member_id, "union_id": unions[c.member_id], "submitted_on": c.submitted_on,
             "decided_on": today, "admitted_on": s.begndate, "hosp_lv": str(s.record.get("hosp_lv", ""))[:2],
             "main_diagnosis": main_diagnosis(s.record)}
            for c, s in zip(claims, settlements)]
    session.execute(_INSERT_FACTS, rows)
    # The ledger entries charging these claims come next in this transaction: they find the
    # facts here instead of reading back what was just written (a statement at the desk).
    fresh = _this_transaction(session)["facts"]
    for row in rows:
        fresh[row["claim_id"]] = models.ClaimFact(**row)


# Built once (a statement built anew is walked anew for SQLAlchemy's cache key).
_INSERT_FACTS = insert(models.ClaimFact.__table__)
_INSERT_CHARGES = insert(models.ReportCharge.__table__)
_INSERT_RELIEF = insert(models.ReportRelief.__table__)
_INSERT_PAYMENTS = insert(models.ReportPayment.__table__)

_PART = 10_000  # ids in one IN (...): well within PostgreSQL's 65,535 parameters


def _unions_of(session: Session, member_ids: set[str]) -> dict[str, str]:
    """Each member's union: from the members the transaction already loaded (locked), the rest read."""
    mapper = inspect(models.Member)
    found: dict[str, str] = {}
    for member_id in member_ids:
        loaded = session.identity_map.get(mapper.identity_key_from_primary_key((member_id,)))
        if loaded is not None:
            found[member_id] = loaded.union_id
    missing = sorted(member_ids - found.keys())
    # In parts: an import's hundred thousand members would pass PostgreSQL's 65,535 parameters.
    for start in range(0, len(missing), _PART):
        found.update(session.execute(select(models.Member.id, models.Member.union_id)
                                     .where(models.Member.id.in_(missing[start:start + _PART]))).all())
    return found


def _this_transaction(session: Session) -> dict:
    """What this transaction wrote of the report (the facts of its new claims, the lines it charged).

    Kept per transaction: after a rollback or a commit the next one starts empty, so
    nothing a rolled-back transaction wrote is believed.
    """
    transaction = session.get_transaction()
    kept = session.info.get("report_facts")
    if kept is None or kept[0] is not transaction:
        kept = (transaction, {"facts": {}, "charged": set()})
        session.info["report_facts"] = kept
    return kept[1]


# ----------------------------------------------------------------------------- the ledger's report rows
#
# ``ledger.post`` and ``ledger.post_many`` call ``record_entries`` for the entries they
# write, in the same transaction, so the report tables hold exactly what the ledger
# holds; ``rebuild`` makes the same rows from the ledger with a few INSERT ... SELECT
# (the migration runs it for entries posted before these tables existed; a test
# compares the two).
#
# The shapes read (funds.md §4):
# - a claim's charges (``line.charged``) and give-backs (``line.released``): one entry a
#   claim, its lines possibly of several benefits; each line's expense legs
#   (``Expenses:Benefits:<B>``, or ``…:CIR:<Source>`` per relief source) carry the line
#   and the claim, so a line's benefit is read from ITS expense legs, never the entry's.
#   Any other entry with expense legs naming a line (a reversal, a recovery booked
#   against the expense) adjusts that line the same way, so the report's payouts are the
#   ledger's expense accounts to the fen;
# - ``item.paid``: the claims whose payable legs it debits were paid that day;
#   ``item.returned`` reverses one: those claims were not paid by it after all.

EXPENSE_ROOT = "Expenses:Benefits:"
CIR_EXPENSES = "Expenses:Benefits:CIR:"
ALLOCATIONS_ROOT = "Income:Allocations:"
PAID_EVENT = "item.paid"  # the payment of an item (funds.md §4): its payable legs name the claims paid
RETURNED_EVENT = "item.returned"  # the bank sent a paid item back: the reversal of its item.paid entry


def _money_account(account: str) -> bool:
    from service import ledger

    return account in (ledger.CONTRIBUTIONS_MEMBERS, ledger.CONTRIBUTIONS_UNION_SUBSIDY) or \
        account.startswith(ALLOCATIONS_ROOT)


def _line_charges(legs: Sequence) -> dict[int, tuple[int, str, int]]:
    """line id → (claim id, its benefit's expense account, fen charged) of an entry's expense legs naming a line.

    A CIR line has a leg per relief source (``…:CIR:Central``, ``…:CIR:Region``): the
    least of its accounts names it, as ``rebuild``'s ``min(account)`` does. A line whose
    legs add up to nothing (a source swapped for another) moved no money: left out.
    """
    found: dict[int, list] = {}
    for leg in legs:
        if leg.line_id is None or leg.claim_id is None or not leg.account.startswith(EXPENSE_ROOT):
            continue
        got = found.get(leg.line_id)
        if got is None:
            found[leg.line_id] = [leg.claim_id, leg.account, leg.amount]
        else:
            got[1] = min(got[1], leg.account)
            got[2] += leg.amount
    return {line: (claim, account, fen) for line, (claim, account, fen) in found.items() if fen}


def record_entry(session: Session, entry_id: int, event: str, booked_on, legs: Sequence) -> None:
    """The report rows of one journal entry just posted (``legs``: ``ledger.Leg``)."""
    record_entries(session, [(entry_id, event, booked_on, legs)])


def record_entries(session: Session, entries: Sequence[tuple[int, str, object, Sequence]]) -> None:
    """The report rows of journal entries just posted ``(entry id, event, booked_on, legs)``, in bulk.

    A few statements for the whole batch, whatever its size (``ledger.post_many`` writes
    an import's or a payment run's thousands of entries at once). A claim's charge at
    the desk costs three: its facts with the lines charged before (one select), the
    charges, and the relief shares when it has any.
    """
    from service import ledger

    wanted_claims: set[int] = set()
    wanted_lines: set[int] = set()
    returned: list[int] = []
    parsed = []
    for entry_id, event, booked_on, legs in entries:
        lines = _line_charges(legs)
        relief = [leg for leg in legs if leg.account.startswith(CIR_EXPENSES) and leg.claim_id is not None]
        paid = sorted({leg.claim_id for leg in legs if event == PAID_EVENT and leg.account == ledger.PAYABLE_MEMBERS
                       and leg.claim_id is not None and leg.amount > 0})
        money = [leg for leg in legs if _money_account(leg.account)]
        if event == RETURNED_EVENT:
            returned.append(entry_id)
        wanted_claims.update(claim for claim, _a, _f in lines.values())
        wanted_claims.update(leg.claim_id for leg in relief)
        wanted_claims.update(paid)
        wanted_lines.update(lines)
        parsed.append((entry_id, booked_on, lines, relief, paid, money))
    kept = _this_transaction(session)
    # Claims decided in this transaction: their facts are known, and their lines can only
    # have been charged in it.
    facts: dict[int, models.ClaimFact] = {c: kept["facts"][c] for c in wanted_claims if c in kept["facts"]}
    charged: set[int] = set(kept["charged"])
    wanted_claims = wanted_claims - facts.keys()
    if wanted_claims and len(wanted_claims) <= _PART:
        # The claims' facts and, beside them, which of the lines were charged before (a later row adjusts a line).
        cf, rc = models.ClaimFact, models.ReportCharge
        before = (rc.claim_id == cf.claim_id) & rc.line_id.in_(sorted(wanted_lines)) if wanted_lines else false()
        for fact, line_id in session.execute(select(cf, rc.line_id).outerjoin(rc, before)
                                             .where(cf.claim_id.in_(sorted(wanted_claims))).distinct()):
            facts[fact.claim_id] = fact
            if line_id is not None:
                charged.add(line_id)
    elif wanted_claims:
        # A payment run's thousands of claims: facts and earlier charges read in parts, each
        # within PostgreSQL's 65,535 parameters.
        cf, rc = models.ClaimFact, models.ReportCharge
        claims, lines = sorted(wanted_claims), sorted(wanted_lines)
        for start in range(0, len(claims), _PART):
            for fact in session.scalars(select(cf).where(cf.claim_id.in_(claims[start:start + _PART]))):
                facts[fact.claim_id] = fact
        for start in range(0, len(lines), _PART):
            charged.update(session.scalars(select(rc.line_id).where(rc.line_id.in_(lines[start:start + _PART]))
                                           .distinct()))
    members = {leg.member_id for *_, money in parsed for leg in money if leg.member_id}
    unions = _unions_of(session, members) if members else {}
    charges, reliefs, payments = [], [], []
    summed: dict[tuple, int] = {}
    for entry_id, booked_on, lines, relief, paid, money in parsed:
        for line_id, (claim_id, account, fen) in sorted(lines.items()):
            fact = facts.get(claim_id)
            if fact is None:
                continue
            charges.append({"entry_id": entry_id, "booked_on": booked_on, "line_id": line_id, "claim_id": claim_id,
                            "adjusts": line_id in charged, "member_id": fact.member_id, "union_id": fact.union_id,
                            "account": account, "main_diagnosis": fact.main_diagnosis, "hosp_lv": fact.hosp_lv,
                            "amount": fen})
            charged.add(line_id)
            kept["charged"].add(line_id)
        reliefs += [{"entry_id": entry_id, "booked_on": booked_on, "claim_id": leg.claim_id,
                     "member_id": facts[leg.claim_id].member_id, "union_id": facts[leg.claim_id].union_id,
                     "fund_source": leg.fund_source or "", "league_id": leg.league_id or "", "amount": leg.amount}
                    for leg in relief if leg.claim_id in facts]
        payments += [{"entry_id": entry_id, "claim_id": c, "union_id": facts[c].union_id, "paid_on": booked_on,
                      "submitted_on": facts[c].submitted_on, "decided_on": facts[c].decided_on}
                     for c in paid if c in facts]
        for leg in money:
            key = (booked_on, leg.account, leg.fund_source or "", leg.league_id or "", unions.get(leg.member_id, ""))
            summed[key] = summed.get(key, 0) - leg.amount
    if charges:
        session.execute(_INSERT_CHARGES, charges)
    if reliefs:
        session.execute(_INSERT_RELIEF, reliefs)
    if payments:
        session.execute(_INSERT_PAYMENTS, payments)
    if returned:
        # A returned item paid nobody: the rows of the payment it reverses go (the ledger keeps both entries).
        session.execute(delete(models.ReportPayment).where(models.ReportPayment.entry_id.in_(
            select(models.JournalEntry.reverses_id).where(models.JournalEntry.id.in_(returned),
                                                          models.JournalEntry.reverses_id.is_not(None)))))
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
    from sqlalchemy import func
    from sqlalchemy.orm import aliased

    from service import ledger

    p, e, cf, m = models.Posting, models.JournalEntry, models.ClaimFact, models.Member
    for model in (models.ReportCharge, models.ReportRelief, models.ReportPayment, models.ReportMoney):
        connection.execute(delete(model))
    # Each entry's charge of each line: its expense legs naming the line, summed (as _line_charges does).
    per_line = (select(p.entry_id.label("entry_id"), p.line_id.label("line_id"), p.claim_id.label("claim_id"),
                       func.min(p.account).label("account"), func.sum(p.amount).label("amount"))
                .where(p.account.startswith(EXPENSE_ROOT), p.line_id.is_not(None), p.claim_id.is_not(None))
                .group_by(p.entry_id, p.line_id, p.claim_id).having(func.sum(p.amount) != 0).subquery())
    # A line's rows after its first entry adjust it (as record_entries marks them, entry by entry).
    later = func.row_number().over(partition_by=per_line.c.line_id, order_by=per_line.c.entry_id) > 1
    connection.execute(insert(models.ReportCharge).from_select(
        ["entry_id", "booked_on", "line_id", "adjusts", "claim_id", "member_id", "union_id", "account",
         "main_diagnosis", "hosp_lv", "amount"],
        select(per_line.c.entry_id, e.booked_on, per_line.c.line_id, later, per_line.c.claim_id, cf.member_id,
               cf.union_id, per_line.c.account, cf.main_diagnosis, cf.hosp_lv, per_line.c.amount)
        .join(e, e.id == per_line.c.entry_id).join(cf, cf.claim_id == per_line.c.claim_id)
        .order_by(per_line.c.entry_id, per_line.c.line_id)))
    connection.execute(insert(models.ReportRelief).from_select(
        ["entry_id", "booked_on", "claim_id", "member_id", "union_id", "fund_source", "league_id", "amount"],
        select(p.entry_id, e.booked_on, cf.claim_id, cf.member_id, cf.union_id, func.coalesce(p.fund_source, ""),
               func.coalesce(p.league_id, ""), p.amount)
        .join(e, e.id == p.entry_id).join(cf, cf.claim_id == p.claim_id)
        .where(p.account.startswith(CIR_EXPENSES)).order_by(p.id)))
    back = aliased(models.JournalEntry)
    returned = select(back.id).where(back.reverses_id == e.id, back.event == RETURNED_EVENT).exists()
    paid = (select(p.entry_id.label("entry_id"), p.claim_id.label("claim_id"), e.booked_on.label("paid_on"))
            .join(e, e.id == p.entry_id)
            .where(e.event == PAID_EVENT, p.account == ledger.PAYABLE_MEMBERS, p.claim_id.is_not(None), p.amount > 0,
                   ~returned)
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
