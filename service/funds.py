"""Funds: relief allocations, the pools they fill, and what each approved line is charged (``funds.md`` §1-2, §4).

A line is charged when it becomes approved (submission, review, re-adjudication, the
re-decision after an allocation): mutual-aid lines to the mutual-aid pool (one pool,
never exhausted, it may run into deficit), relief lines split by the plan's shares,
each source as far as its pool goes, the rest passed to the fallback, and when the
fallback cannot take it either the whole line is pended ``FUND_EXHAUSTED``. The split
is pure (``claims.funding``); this module locks the pools, stores each part as a
``LineCharge`` and posts the ledger entry in the caller's transaction.

Lock order (``service.claim_aggregate``): members → settlements → accumulator rows →
**fund pools** (``Purse``: one upsert that locks every pool a step needs, in key
order) → payment runs → the audit chain. Only relief pools are locked: the mutual-aid
pool never refuses a charge, so locking it would only put every claim in one queue.

Public functions the other parts call:

- ``Purse(session, who)``: ``plan(wants)`` then ``apply(outcome, ids)``; ``settle_lines`` for
  stored lines (review, re-adjudication); ``release_claim`` for a cancelled claim. A
  reduction of a line the member was already paid leaves a recovery (``_reduction_legs``);
- ``fund_decisions``: the charges of decisions about to be stored (submission);
- ``held_by_line``: what lines hold charged, by source;
- ``leagues_of``: the league of each member's union;
- ``record_allocation``, ``list_allocations``, ``pools``: the finance API;
- ``funds_left``: the pools of a year that pay an officer's unions' claims (read-only);
- ``check``: the ``claims check`` rules of the funds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from claims.dates import FIRST_DAY, china_today
from claims.decision import CLAIM_CANCELLED, BenefitLine, Decision, LineStatus, approved_for, claim_status
from claims.funding import (DEFAULT_FUNDING, FUND_EXHAUSTED, LEAGUE, MUTUAL_AID, RELIEF, RELIEF_SOURCES, Funding,
                            cover, funding_of, release)
from claims.money import AmountError, format_fen, parse_yuan
from service import audit, ledger
from service.auth import Principal, Role
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.plans import PlanBook
from service.schemas import AllocationCreate
from store import models
from store.repositories import is_postgres, lock_members, paginate


FINANCE = (Role.ADMIN, Role.FINANCE)
NO_LEAGUE = ""  # a pool's league key for money not kept per league

PoolKey = tuple[str, int, str]  # source, year, league ('' when not per league)


def pool_key(source: str, year: int, league_id: str | None) -> PoolKey:
    return (source, year, (league_id or NO_LEAGUE) if source == LEAGUE else NO_LEAGUE)


def _reduction_legs(session: Session, released: Mapping[int, tuple[int, int, str, str]]) -> tuple[
        dict[int, tuple[int, int]], list[Any]]:
    """How reductions of approved lines are owed: line → (fen off payable, fen to recover), and the recoveries.

    ``released``: line → (fen given back, > 0; claim; member; benefit). The part of a
    reduction the member was already paid (``payments.overpaid`` against what the line
    holds once reduced) becomes a recovery, debited to ``Assets:Receivable:Recoveries``
    (``funds.md`` §3-4); the unpaid part shrinks what the member is owed
    (``Liabilities:Payable:Members``). Money still with the bank counts as unpaid: if
    the bank pays it, ``payments.recover_overpaid`` finds it then.
    """
    from service import payments  # payments reads funds' entries; the import is one way at load time

    payments.lock_runs_paying(session, released)
    held = held_by_line(session, released)
    after = {line_id: sum(f for f, _ in held.get(line_id, {}).values()) - fen
             for line_id, (fen, _c, _m, _b) in released.items()}
    over = payments.overpaid(session, after)
    split, owed = {}, []
    for line_id, (fen, claim_id, member, benefit) in released.items():
        recover = min(fen, over.get(line_id, 0))
        split[line_id] = (fen - recover, recover)
        if recover:
            owed.append(payments.Owed(member, claim_id, line_id, benefit, recover))
    return split, owed


REDUCED_AFTER_PAYMENT = "decision reduced after it was paid"


# ----------------------------------------------------------------------------- charging


@dataclass(frozen=True, slots=True)
class Want:
    """A line and what it should hold charged now.

    ``amount``: its amount when approved, else 0. ``held``: what it holds charged now,
    source → (fen, league) (``held_by_line``). ``if_short``: when the increase cannot
    be paid, ``pend`` gives back what it holds (the caller pends the line), ``hold``
    leaves it as it is (a decided claim's line stays as decided).
    """

    ref: Hashable  # the line's id, or any key of a line not stored yet
    member_id: str
    benefit: str
    year: int
    league_id: str | None
    funding: Funding
    amount: int
    held: Mapping[str | None, tuple[int, str | None]] = field(default_factory=dict)
    if_short: str = "pend"


@dataclass(frozen=True, slots=True)
class Move:
    """Fen charged to (positive) or given back by (negative) one source for one line."""

    ref: Hashable
    member_id: str
    benefit: str
    fund: str
    source: str | None
    year: int
    league_id: str | None
    amount: int


@dataclass
class Outcome:
    moves: list[Move] = field(default_factory=list)
    unfunded: list[Hashable] = field(default_factory=list)  # refs whose increase could not be paid
    spent: dict[PoolKey, int] = field(default_factory=dict)  # net change of each relief pool's charges


class Purse:
    """The relief pools one transaction charges: locked when first needed, then kept in memory."""

    def __init__(self, session: Session, who: Principal | None = None, *, read_only: bool = False) -> None:
        self.session = session
        self.actor = who.actor if who is not None else "system"  # who made the recoveries a reduction leaves
        self.pools: dict[PoolKey, list[int]] = {}  # key -> [id, allocated, charged]
        # A preview (the desk's 2303) reads the pools as they stand: nothing made, nothing locked.
        self.read_only = read_only
        self.recovered: list[tuple[int, int, int]] = []  # (claim, line, fen) of the recoveries made

    def lock(self, keys: Iterable[PoolKey]) -> None:
        """Lock (making them if need be) the pools not held yet: one statement, in key order."""
        missing = sorted(set(keys) - self.pools.keys())
        if not missing:
            return
        table = models.FundPool.__table__
        if self.read_only:
            for key in missing:
                self.pools[key] = [0, 0, 0]
            for pid, source, year, league, allocated, charged in self.session.execute(
                    select(table.c.id, table.c.source, table.c.fund_year, table.c.league_id, table.c.allocated,
                           table.c.charged).where(tuple_(table.c.source, table.c.fund_year, table.c.league_id)
                                                  .in_(missing))):
                self.pools[(source, year, league)] = [pid, allocated, charged]
            return
        insert = postgresql.insert if is_postgres(self.session) else sqlite.insert
        statement = insert(table).values([
            {"source": s, "fund_year": y, "league_id": league, "allocated": 0, "charged": 0} for s, y, league in missing])
        # A no-op update: the row is returned, and on PostgreSQL locked, whether it was
        # made now or long ago; a pool made by a concurrent transaction is waited for.
        statement = statement.on_conflict_do_update(
            index_elements=["source", "fund_year", "league_id"], set_={"charged": table.c.charged},
        ).returning(table.c.id, table.c.source, table.c.fund_year, table.c.league_id, table.c.allocated,
                    table.c.charged)
        for pid, source, year, league, allocated, charged in self.session.execute(statement):
            self.pools[(source, year, league)] = [pid, allocated, charged]

    def lock_all(self, years_and_leagues: Iterable[tuple[int, str | None]], also: Iterable[PoolKey] = ()) -> None:
        """Lock at once every relief pool of these (year, league) pairs: a step that charges
        lines in several statements (an allocation's re-decisions, a re-adjudication) then
        holds its pools from the start, taken in one key order like a claim's."""
        self.lock({*(pool_key(s, year, league) for year, league in years_and_leagues for s in RELIEF_SOURCES
                     if _has_pool(s, league)), *also})

    def available(self, key: PoolKey) -> int:
        pool = self.pools.get(key)
        return pool[1] - pool[2] if pool else 0

    def plan(self, wants: Sequence[Want]) -> Outcome:
        """What each line is charged or given back, in order; nothing is written (``apply`` does)."""
        keys: set[PoolKey] = set()
        for w in wants:
            if w.funding.fund_of(w.benefit) == RELIEF and w.amount > sum(f for f, _ in w.held.values()):
                keys.update(pool_key(s, w.year, w.league_id) for s in _sources(w.funding) if _has_pool(s, w.league_id))
            keys.update(pool_key(s, w.year, league) for s, (_, league) in w.held.items() if s is not None)
        self.lock(keys)
        out = Outcome()
        spent: dict[PoolKey, int] = defaultdict(int)

        def move(w: Want, fund: str, source: str | None, league: str | None, fen: int) -> None:
            out.moves.append(Move(w.ref, w.member_id, w.benefit, fund, source, w.year,
                                  league if source == LEAGUE else None, fen))
            if source is not None:
                spent[pool_key(source, w.year, league)] += fen

        for w in wants:
            fund = w.funding.fund_of(w.benefit)
            now = sum(f for f, _ in w.held.values())
            if w.amount < now:
                self._give_back(w, fund, now - w.amount, move)
            elif w.amount > now:
                if fund == MUTUAL_AID:
                    move(w, fund, None, None, w.amount - now)
                    continue
                room = {s: self.available(pool_key(s, w.year, w.league_id)) - spent[pool_key(s, w.year, w.league_id)]
                        if _has_pool(s, w.league_id) else 0 for s in _sources(w.funding)}
                parts = w.funding.shares_of(w.benefit, w.amount - now)
                taken = cover(parts, room, w.funding.fallback)  # type: ignore[arg-type]
                if taken is None:
                    out.unfunded.append(w.ref)
                    if w.if_short == "pend" and now:
                        self._give_back(w, fund, now, move)
                    continue
                for source, fen in taken:
                    move(w, fund, source, w.league_id, fen)
        out.spent = {k: v for k, v in spent.items() if v}
        return out

    @staticmethod
    def _give_back(w: Want, fund: str, amount: int, move: Callable[..., None]) -> None:
        held = {s: fen for s, (fen, _) in w.held.items()}
        for source, fen in release(held, amount, w.funding.release_order):
            move(w, fund, source, w.held[source][1], -fen)

    def apply(self, outcome: Outcome, ids: Mapping[Hashable, tuple[int, int]] | None = None) -> None:
        """Store the moves: line charges, the pools' charged, and one ledger entry per claim and direction.

        ``ids``: ref → (line id, claim id) for refs that are not line ids themselves. A
        claim's charges are one entry (its lines' legs each carry the line), so a request
        writes one entry whatever the number of lines: on SQLite each entry is a statement.
        """
        if not outcome.moves:
            return
        by_entry: dict[tuple[int, bool], list[tuple[int, Move]]] = defaultdict(list)
        for mv in outcome.moves:
            line_id, claim_id = ids[mv.ref] if ids is not None else mv.ref  # type: ignore[misc]
            by_entry[(claim_id, mv.amount > 0)].append((line_id, mv))
        released: dict[int, tuple[int, int, str, str]] = {}
        for (claim_id, charged), moves in by_entry.items():
            if not charged:
                for line_id, mv in moves:
                    fen = released.get(line_id, (0,))[0]
                    released[line_id] = (fen - mv.amount, claim_id, mv.member_id, mv.benefit)
        split, recoveries = _reduction_legs(self.session, released) if released else ({}, [])
        entries = []
        for (claim_id, charged), moves in by_entry.items():
            legs = [ledger.Leg(ledger.benefit_expense_account(mv.benefit, mv.source), mv.amount, mv.source, mv.year,
                               mv.league_id, None, claim_id, line_id) for line_id, mv in moves]
            owed: dict[int, int] = defaultdict(int)
            for line_id, mv in moves:
                owed[line_id] += mv.amount
            member = moves[0][1].member_id
            for line_id, fen in owed.items():
                dims = {"member_id": member, "claim_id": claim_id, "line_id": line_id}
                if charged:
                    legs.append(ledger.Leg(ledger.PAYABLE_MEMBERS, -fen, **dims))
                    continue
                unpaid, recover = split[line_id]
                legs += [ledger.Leg(ledger.PAYABLE_MEMBERS, unpaid, **dims), ledger.Leg(ledger.RECOVERIES, recover, **dims)]
            benefits = ", ".join(dict.fromkeys(mv.benefit for _, mv in moves))
            entries.append(ledger.Entry("line.charged" if charged else "line.released", legs, f"claim:{claim_id}",
                                        memo=benefits))
        entry_ids = dict(zip(by_entry, ledger.post_many(self.session, entries)))
        now = dt.datetime.now(dt.timezone.utc)
        self.session.execute(_INSERT_LINE_CHARGES, [
            {"line_id": line_id, "claim_id": claim_id, "member_id": mv.member_id, "benefit": mv.benefit, "fund": mv.fund,
             "source": mv.source, "fund_year": mv.year, "league_id": mv.league_id, "amount": mv.amount,
             "entry_id": entry_ids[(claim_id, charged)] or None, "created_at": now}
            for (claim_id, charged), moves in by_entry.items() for line_id, mv in moves
        ])
        changed = []
        for key, fen in outcome.spent.items():
            pool = self.pools[key]
            pool[2] += fen
            if fen > 0 and pool[2] > pool[1]:  # cover() never lets this happen: a bug, never stored
                raise AssertionError(f"pool {key} would be charged {pool[2]} fen of {pool[1]} allocated")
            changed.append({"id": pool[0], "charged": pool[2]})
        if changed:
            self.session.execute(update(models.FundPool), changed)
        if recoveries:
            from service import payments

            payments.add_recoveries(self.session, self.actor, recoveries, REDUCED_AFTER_PAYMENT)
            self.recovered += [(o.claim_id, o.line_id, o.amount) for o in recoveries]


_INSERT_LINE_CHARGES = insert(models.LineCharge.__table__)  # built once: see store.repositories.prebuilt


def _sources(funding: Funding) -> list[str]:
    return list(dict.fromkeys([*(s for s, _ in funding.relief_shares), funding.fallback]))


def _has_pool(source: str, league_id: str | None) -> bool:
    """League money is kept per league: a member's union with no league above it has none."""
    return source != LEAGUE or bool(league_id)


def held_by_line(session: Session, line_ids: Iterable[int]) -> dict[int, dict[str | None, tuple[int, str | None]]]:
    """What each line holds charged now: source → (fen, league), sources holding 0 left out."""
    ids = sorted(set(line_ids))
    out: dict[int, dict[str | None, tuple[int, str | None]]] = defaultdict(dict)
    if not ids:
        return out
    c = models.LineCharge
    rows = session.execute(select(c.line_id, c.source, c.league_id, func.sum(c.amount))
                           .where(c.line_id.in_(ids)).group_by(c.line_id, c.source, c.league_id))
    for line_id, source, league, fen in rows:
        if fen:
            before = out[line_id].get(source, (0, league))
            out[line_id][source] = (before[0] + int(fen), league)
    return out


def leagues_of(session: Session, member_ids: Iterable[str]) -> dict[str, str | None]:
    """The league of each member's union (None for a union with no league above it)."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    found: dict[str, str | None] = {}
    # In parts: an import's hundred thousand members would pass PostgreSQL's 65,535 parameters.
    for start in range(0, len(ids), 10_000):
        found.update(session.execute(select(models.Member.id, models.Union.league_id)
                                     .join(models.Union, models.Union.id == models.Member.union_id)
                                     .where(models.Member.id.in_(ids[start:start + 10_000]))).all())
    return found


def _pend_for_funds(line: Any) -> None:
    line.status = LineStatus.PENDED if isinstance(line, BenefitLine) else LineStatus.PENDED.value
    if FUND_EXHAUSTED not in line.reasons:
        line.reasons = [*line.reasons, FUND_EXHAUSTED]


def _paid_again(line: Any) -> None:
    if FUND_EXHAUSTED in line.reasons:
        line.reasons = [r for r in line.reasons if r != FUND_EXHAUSTED]


@dataclass
class NewCharges:
    """The charges of decisions about to be stored: ``store`` them once the lines have ids."""

    purse: Purse
    outcome: Outcome

    def store(self, ids: Mapping[tuple[int, int], tuple[int, int]]) -> None:
        """``ids``: (decision index, line position) → (line id, claim id)."""
        self.purse.apply(self.outcome, ids)


def fund_decisions(session: Session, items: Sequence[tuple[str, int, Decision, Funding]],
                   leagues: Mapping[str, str | None], *, read_only: bool = False) -> NewCharges:
    """Charge the approved lines of new decisions, in order; a line that cannot be paid is pended.

    ``items``: (member, admission year, decision, funding). A pended line keeps its
    amount and what it holds in the member's totals, like any pended line, and gains
    ``FUND_EXHAUSTED``; the decision's status follows its lines.
    """
    wants = [Want((i, position), member, line.benefit, year, leagues.get(member), funding, line.amount)
             for i, (member, year, decision, funding) in enumerate(items)
             for position, line in enumerate(decision.lines)
             if line.status is LineStatus.APPROVED and line.amount > 0]
    purse = Purse(session, read_only=read_only)
    outcome = purse.plan(wants)
    for i, position in outcome.unfunded:  # type: ignore[misc]
        decision = items[i][2]
        _pend_for_funds(decision.lines[position])
        decision.status = claim_status(decision.lines)
    return NewCharges(purse, outcome)


def settle_lines(session: Session, purse: Purse | None, claim: models.Claim, lines: Iterable[models.DecisionLine],
                 funding: Funding, league_id: str | None, gone: Iterable[models.DecisionLine] = (),
                 who: Principal | None = None) -> list[str]:
    """Bring stored lines' charges to what they now decide (review; re-adjudication of pended claims).

    An approved line is charged its amount, any other line nothing; an approved line
    whose increase cannot be paid is pended ``FUND_EXHAUSTED`` (giving back what it
    held). ``gone``: lines being deleted (a benefit the version in force no longer
    has), which give back all they hold. The claim's status is the caller's to set
    from the lines. Returns the benefits pended for funds.
    """
    lines, gone = list(lines), list(gone)
    held = held_by_line(session, [ln.id for ln in [*lines, *gone]])
    year = claim.settlement.begndate.year
    wants = [Want(ln.id, claim.member_id, ln.benefit, year, league_id, funding,
                  ln.amount if ln.status == LineStatus.APPROVED.value and ln not in gone else 0, held.get(ln.id, {}))
             for ln in [*lines, *gone]]
    purse = purse or Purse(session, who)
    outcome = purse.plan(wants)
    short = set(outcome.unfunded)
    for ln in lines:
        if ln.id in short:
            _pend_for_funds(ln)
        elif ln.status == LineStatus.APPROVED.value:
            _paid_again(ln)
    purse.apply(outcome, {ln.id: (ln.id, claim.id) for ln in [*lines, *gone]})
    return [ln.benefit for ln in lines if ln.id in short]


def release_claim(session: Session, who: Principal, claim: models.Claim) -> list[tuple[int, int, int]]:
    """Give back all a cancelled claim's lines hold: each pool gets its share back (negative line charges),
    the unpaid part comes off payable, the paid part becomes a recovery (``Purse.apply``).

    Lines are left as decided (the claim's status says it is cancelled). A line
    pended for funds holds nothing, so nothing moves; it is no longer waiting
    (``_waiting_lines`` skips cancelled claims). Returns the recoveries made:
    (claim, line, fen). The caller holds the member's lock; the pools are locked here.
    """
    line_ids = list(session.scalars(select(models.DecisionLine.id).where(models.DecisionLine.claim_id == claim.id)))
    held = held_by_line(session, line_ids)
    if not held:
        return []
    benefits = dict(session.execute(select(models.DecisionLine.id, models.DecisionLine.benefit)
                                    .where(models.DecisionLine.id.in_(list(held)))).all())
    year = session.scalar(select(models.Settlement.begndate).where(models.Settlement.id == claim.settlement_id)).year
    # Giving back needs no shares: the funding only orders the release (the fallback first).
    funding = DEFAULT_FUNDING
    wants = [Want(line_id, claim.member_id, benefits[line_id], year, None, funding, 0, sources)
             for line_id, sources in held.items()]
    purse = Purse(session, who)
    purse.apply(purse.plan(wants), {w.ref: (w.ref, claim.id) for w in wants})
    return purse.recovered


# ----------------------------------------------------------------------------- allocations


# Far beyond any source's year (the central fund gives tens of millions of yuan), and low
# enough that no pool, nor the sum of every pool in a ledger account, leaves a 64-bit
# integer (the database's BIGINT; SQLite cannot even be handed a larger one).
MAX_ALLOCATION = 100_000_000_000_00  # fen: 100 billion yuan
MAX_POOL = 10_000_000_000_000_00  # fen: 10 trillion yuan a source, year and league


def sees_every_fund(session: Session, who: Principal) -> bool:
    """Administrators, and finance officers of a region-level union: every fund is theirs, region-wide or per league."""
    if who.role is Role.ADMIN:
        return True
    if who.role is not Role.FINANCE or who.union_id is None:
        return False
    return session.scalar(select(models.Union.level).where(models.Union.id == who.union_id)) == "region"


def _league_for(session: Session, who: Principal, data: AllocationCreate) -> str | None:
    if data.source != LEAGUE:
        if data.league_id is not None:
            raise Invalid.at("league_id", f"only league money is kept per league; {data.source} money takes none")
        return None
    if not data.league_id:
        raise Invalid.at("league_id", "league money names the league or city union it was raised by")
    union = session.get(models.Union, data.league_id)
    if union is None or not who.sees_union(union.id):
        raise NotFound(f"no union {data.league_id}", [{"field": "league_id", "message": "no such union"}])
    if union.level != "league":
        raise Invalid.at("league_id", f"union {union.id} is a {union.level} union, not a league or city union")
    return union.id


def record_allocation(session: Session, who: Principal, plans: PlanBook,
                      data: AllocationCreate) -> tuple[models.ReliefAllocation, list[int]]:
    """Record money a relief source gave, and pay the lines that waited for it, oldest first.

    A finance officer of the region records any source; a league's finance officer only
    league money of their own league. The same reference twice for a source and year is
    refused (409): one bank transfer is one allocation. Locks: the members of the lines
    waiting for funds, then the pools (``Purse``), then the audit chain.
    """
    who.require(*FINANCE)
    region = sees_every_fund(session, who)
    if not region and data.source != LEAGUE:
        raise Forbidden(f"{data.source} money is recorded by the region's finance officers; "
                        "a league's finance officers record their league's own money")
    league = _league_for(session, who, data)
    try:
        amount = parse_yuan(data.amount)
    except AmountError as err:
        raise Invalid.at("amount", str(err)) from None
    if amount <= 0:
        raise Invalid.at("amount", "must be above 0.00")
    if amount > MAX_ALLOCATION:
        raise Invalid.at("amount", f"must be at most {format_fen(MAX_ALLOCATION)}")
    if data.received_on < FIRST_DAY:
        raise Invalid.at("received_on", f"is before {FIRST_DAY.isoformat()}")
    if data.received_on > china_today():
        raise Invalid.at("received_on", f"is in the future (today in China is {china_today().isoformat()})")
    reference = data.reference.strip()
    if not reference:
        raise Invalid.at("reference", "must not be blank")
    a = models.ReliefAllocation
    if session.scalar(select(a.id).where(a.source == data.source, a.fund_year == data.year,
                                         a.reference == reference)) is not None:
        raise Conflict(f"{data.source} money of {data.year} with reference {reference!r} is recorded already",
                       [{"field": "reference", "message": "recorded already for this source and year"}])

    waiting = _waiting_lines(session, data.year, data.source, league)
    locked = lock_members(session, {member for _, _, member in waiting})  # lock order: members before pools
    row = models.ReliefAllocation(source=data.source, fund_year=data.year, league_id=league, amount=amount,
                                  reference=reference, received_on=data.received_on, recorded_by=who.key_id)
    session.add(row)
    session.flush()
    purse = Purse(session)
    key = pool_key(data.source, data.year, league)
    leagues = leagues_of(session, locked)
    purse.lock_all({(data.year, leagues.get(m)) for m in locked}, also=[key])
    pool = purse.pools[key]
    if pool[1] + amount > MAX_POOL:
        raise Invalid.at("amount", f"the {data.source} pool of {data.year} would hold more than "
                         f"{format_fen(MAX_POOL)}; nothing was recorded")
    pool[1] += amount
    session.execute(update(models.FundPool), [{"id": pool[0], "allocated": pool[1]}])
    ledger.post(session, "allocation.received", [
        ledger.Leg(ledger.BANK_RELIEF, amount, data.source, data.year, league),
        ledger.Leg(ledger.allocation_account(data.source, league), -amount, data.source, data.year, league),
    ], ref=f"allocation:{row.id}", memo=reference, booked_on=data.received_on)
    entries = _pay_waiting(session, plans, purse, [w for w in waiting if w[2] in locked])
    audit.record(session, who, "funds.allocation_recorded", "allocation", row.id, source=data.source, year=data.year,
                 league_id=league, amount=format_fen(amount), reference=reference,
                 received_on=data.received_on.isoformat(), redecided_claims=[claim_id for claim_id, _ in entries])
    audit.record_many(session, who, "claim.funded", "claim", entries)
    return row, [claim_id for claim_id, _ in entries]


def _waiting_lines(session: Session, year: int, source: str, league: str | None) -> list[tuple[int, int, str]]:
    """Lines pended for funds whose admission falls in ``year`` (and, for league money, of
    that league's members): (line id, claim id, member), in the order the claims were received."""
    line, claim, settlement = models.DecisionLine, models.Claim, models.Settlement
    query = (select(line.id, claim.id, claim.member_id)
             .join(claim, claim.id == line.claim_id)
             .join(settlement, settlement.id == claim.settlement_id)
             .where(line.status == LineStatus.PENDED.value, claim.status != CLAIM_CANCELLED,
                    cast(line.reasons, String).like(f'%"{FUND_EXHAUSTED}"%'),
                    settlement.begndate >= dt.date(year, 1, 1), settlement.begndate <= dt.date(year, 12, 31))
             .order_by(claim.submitted_on, claim.id, line.position))
    if source == LEAGUE:
        query = (query.join(models.Member, models.Member.id == claim.member_id)
                 .join(models.Union, models.Union.id == models.Member.union_id)
                 .where(models.Union.league_id == league))
    return [(line_id, claim_id, member) for line_id, claim_id, member in session.execute(query)]


def _pay_waiting(session: Session, plans: PlanBook, purse: Purse,
                 waiting: list[tuple[int, int, str]]) -> list[tuple[int, dict]]:
    """Decide the waiting lines again in order, as far as the money goes: each paid becomes approved.

    A line the money cannot cover stays pended and the next is tried (a smaller later
    line may fit what is left). Returns the audit entries of the claims that changed.
    """
    if not waiting:
        return []
    line_ids = [line_id for line_id, _, _ in waiting]
    lines = {ln.id: ln for ln in session.scalars(select(models.DecisionLine).where(models.DecisionLine.id.in_(line_ids)))}
    claims = {c.id: c for c in session.scalars(select(models.Claim).where(
        models.Claim.id.in_({claim_id for _, claim_id, _ in waiting})))}
    bills = dict(session.execute(select(models.Settlement.id, models.Settlement.begndate).where(
        models.Settlement.id.in_({c.settlement_id for c in claims.values()}))).all())
    leagues = leagues_of(session, {member for _, _, member in waiting})
    held = held_by_line(session, line_ids)
    fundings: dict[str, Funding] = {}
    paid: dict[int, list[str]] = defaultdict(list)
    for line_id, claim_id, member in waiting:
        ln, claim = lines[line_id], claims[claim_id]
        # Re-read under the locks: still waiting for funds (a reviewer may have decided it since).
        if ln.status != LineStatus.PENDED.value or FUND_EXHAUSTED not in ln.reasons:
            continue
        if claim.plan_version not in fundings:
            fundings[claim.plan_version] = funding_of_version(session, plans, claim.plan_version)
        want = Want(line_id, member, ln.benefit, bills[claim.settlement_id].year, leagues.get(member),
                    fundings[claim.plan_version], ln.amount, held.get(line_id, {}), if_short="hold")
        outcome = purse.plan([want])
        if outcome.unfunded:
            continue
        purse.apply(outcome, {line_id: (line_id, claim_id)})
        ln.status = LineStatus.APPROVED.value
        _paid_again(ln)
        paid[claim_id].append(ln.benefit)
    if not paid:
        return []
    session.flush()
    all_lines: dict[int, list[models.DecisionLine]] = defaultdict(list)
    for ln in session.scalars(select(models.DecisionLine).where(models.DecisionLine.claim_id.in_(list(paid)))):
        all_lines[ln.claim_id].append(ln)
    entries = []
    for claim_id in paid:  # in the order they were paid: oldest first
        claim, stored = claims[claim_id], all_lines[claim_id]
        domain = [BenefitLine(ln.benefit, LineStatus(ln.status), ln.amount) for ln in stored]
        claim.status = claim_status(domain).value
        entries.append((claim_id, {"status": claim.status, "total": format_fen(claim.total), "paid": paid[claim_id],
                                   "decision": audit.decision_digest(stored)}))
    session.flush()
    return entries


def funding_of_version(session: Session, plans: PlanBook, version: str) -> Funding:
    """The funding rules of the version that decided a claim (the default for a version no longer stored)."""
    try:
        return funding_of(plans.engine_by_version(session, version).plan)
    except Conflict:
        return DEFAULT_FUNDING


def get_allocation(session: Session, who: Principal, allocation_id: int) -> models.ReliefAllocation:
    """One allocation, to those who see it in a list (another league's is 404, as if none)."""
    who.require(*FINANCE)
    row = session.get(models.ReliefAllocation, allocation_id)
    if row is None or not (sees_every_fund(session, who) or (row.league_id and who.sees_union(row.league_id))):
        raise NotFound(f"no allocation {allocation_id}")
    return row


def list_allocations(session: Session, who: Principal, *, year: int | None, source: str | None,
                     league_id: str | None, page: int, page_size: int) -> tuple[list[models.ReliefAllocation], int]:
    """Allocations, newest first: all to the region's finance officers, a league's own to its finance officers."""
    who.require(*FINANCE)
    a = models.ReliefAllocation
    query = select(a)
    if not sees_every_fund(session, who):
        query = query.where(a.league_id.is_not(None), who.union_scope(a.league_id))
    if year is not None:
        query = query.where(a.fund_year == year)
    if source:
        query = query.where(a.source == source)
    if league_id:
        query = query.where(a.league_id == league_id)
    return paginate(session, query, a.id.desc(), page, page_size)


def allocation_read(row: models.ReliefAllocation) -> dict[str, Any]:
    return {"id": row.id, "source": row.source, "year": row.fund_year, "league_id": row.league_id,
            "amount": format_fen(row.amount), "reference": row.reference, "received_on": row.received_on,
            "recorded_by": row.recorded_by, "created_at": row.created_at}


def pools(session: Session, who: Principal, *, year: int | None, page: int, page_size: int) -> tuple[list[dict], int]:
    """Each relief pool (source, year, league): allocated, charged, available; and the mutual-aid pool's charges.

    The mutual-aid pool's ``allocated`` is what the ledger credits to contributions for
    the year (postings with that ``fund_year``): its ``available`` may be negative, a
    deficit, which never blocks a claim.
    """
    who.require(*FINANCE)
    region = sees_every_fund(session, who)
    p = models.FundPool
    query = select(p.source, p.fund_year, p.league_id, p.allocated, p.charged).where(or_(p.allocated != 0, p.charged != 0))
    if year is not None:
        query = query.where(p.fund_year == year)
    if not region:
        query = query.where(p.source == LEAGUE, who.union_scope(p.league_id))
    rows = [{"fund": RELIEF, "source": s, "year": y, "league_id": league or None, "allocated": al, "charged": ch}
            for s, y, league, al, ch in session.execute(query)]
    if region:
        rows += _mutual_aid_rows(session, year)
    _sort_pools(rows)
    total = len(rows)
    return [_pool_read(r) for r in rows[(page - 1) * page_size: page * page_size]], total


def _mutual_aid_rows(session: Session, year: int | None) -> list[dict]:
    """The mutual-aid pool of each year (or of ``year``): contributions credited for it, and its charges."""
    c = models.LineCharge
    charged = select(c.fund_year, func.sum(c.amount)).where(c.fund == MUTUAL_AID).group_by(c.fund_year)
    if year is not None:
        charged = charged.where(c.fund_year == year)
    income = select(models.Posting.fund_year, func.sum(models.Posting.amount)).where(
        models.Posting.account.in_((ledger.CONTRIBUTIONS_MEMBERS, ledger.CONTRIBUTIONS_UNION_SUBSIDY)),
        models.Posting.fund_year.is_not(None)).group_by(models.Posting.fund_year)
    if year is not None:
        income = income.where(models.Posting.fund_year == year)
    allocated = {y: -int(fen) for y, fen in session.execute(income)}
    spent = {y: int(fen) for y, fen in session.execute(charged)}
    return [{"fund": MUTUAL_AID, "source": None, "year": y, "league_id": None,
             "allocated": allocated.get(y, 0), "charged": spent.get(y, 0)} for y in sorted(allocated.keys() | spent.keys())]


def _sort_pools(rows: list[dict]) -> None:
    order = {s: i for i, s in enumerate(RELIEF_SOURCES)}
    rows.sort(key=lambda r: (r["year"], r["fund"] != MUTUAL_AID, order.get(r["source"], -1), r["league_id"] or ""))


def _pool_read(row: dict) -> dict:
    return {**row, "available": format_fen(row["allocated"] - row["charged"]), "allocated": format_fen(row["allocated"]),
            "charged": format_fen(row["charged"]), "short": row["allocated"] - row["charged"] <= 0}


def funds_left(session: Session, who: Principal, year: int) -> list[dict]:
    """What is left in ``year`` of the money that pays the claims of the caller's unions (an officer's dashboard).

    Every relief source that pays them, each shown even before money came (0.00):
    central, region and charity money (one pool each for the whole tree), the league
    money of each league above or within the caller's subtree; and the mutual-aid pool
    (one for the whole tree; its ``available`` may be negative, a deficit that blocks
    no claim). Read-only: the pools are read as they stand, never made or locked.
    """
    who.require(Role.OFFICER, *FINANCE)
    u = models.Union
    leagues_query = select(u.league_id).where(u.league_id.is_not(None)).distinct()
    if who.role is not Role.ADMIN:
        leagues_query = leagues_query.where(who.union_scope(u.id))
    leagues = sorted(session.scalars(leagues_query))
    keys = [pool_key(s, year, None) for s in RELIEF_SOURCES if s != LEAGUE] + [pool_key(LEAGUE, year, lg) for lg in leagues]
    p = models.FundPool
    found = {(s, y, lg): (al, ch) for s, y, lg, al, ch in session.execute(
        select(p.source, p.fund_year, p.league_id, p.allocated, p.charged)
        .where(tuple_(p.source, p.fund_year, p.league_id).in_(keys)))}
    rows = [{"fund": RELIEF, "source": s, "year": y, "league_id": lg or None,
             "allocated": found.get((s, y, lg), (0, 0))[0], "charged": found.get((s, y, lg), (0, 0))[1]}
            for s, y, lg in keys]
    rows += _mutual_aid_rows(session, year) or [{"fund": MUTUAL_AID, "source": None, "year": year, "league_id": None,
                                                 "allocated": 0, "charged": 0}]
    _sort_pools(rows)
    return [_pool_read(r) for r in rows]


# ----------------------------------------------------------------------------- claims check


def check(session: Session) -> list[str]:
    """The funds rules of ``claims check`` (``funds.md`` §2, §4), one problem a line.

    - each line holds charged exactly its amount when approved, nothing otherwise
      (its amount as it stands: the decision, then every adjustment; a line of a
      cancelled claim nothing);
    - each relief pool's ``charged`` is the sum of its line charges, ``allocated`` the
      sum of its allocations, and charged never exceeds allocated;
    - each source's charges equal the ledger's ``Expenses:Benefits`` legs of that source
      (year and league), and each line's charges its ledger legs.
    """
    from service import claim_aggregate as aggregate

    problems: list[str] = []
    c = models.LineCharge
    held: dict[int, int] = defaultdict(int)
    claim_of: dict[int, int] = {}
    for line_id, claim_id, fen in session.execute(select(c.line_id, c.claim_id, func.sum(c.amount)).group_by(c.line_id, c.claim_id)):
        held[line_id] += int(fen)
        claim_of[line_id] = claim_id
    lines = list(session.scalars(select(models.DecisionLine)))
    adjustments = aggregate.adjustments_of(session, {ln.claim_id for ln in lines})
    by_claim: dict[int, list[models.DecisionLine]] = defaultdict(list)
    for ln in lines:
        by_claim[ln.claim_id].append(ln)
    seen: set[int] = set()
    cancelled = set(session.scalars(select(models.Claim.id).where(models.Claim.status == CLAIM_CANCELLED)))
    for claim_id, stored in by_claim.items():
        now = aggregate.lines_now(stored, adjustments.get(claim_id, []))
        for ln in stored:
            seen.add(ln.id)
            standing = now[ln.benefit].line
            want = approved_for(standing.status, standing.amount, cancelled=claim_id in cancelled)
            if held.get(ln.id, 0) != want:
                problems.append(f"line {ln.id} (claim {claim_id} {ln.benefit}, {standing.status.value} "
                                f"{format_fen(standing.amount)}): charged {format_fen(held.get(ln.id, 0))}, "
                                f"should be {format_fen(want)}")
    for line_id, fen in held.items():
        if line_id not in seen and fen:
            problems.append(f"line {line_id} of claim {claim_of[line_id]} is gone, yet holds {format_fen(fen)} charged")

    by_pool: dict[PoolKey, int] = defaultdict(int)
    for source, year, league, fen in session.execute(
            select(c.source, c.fund_year, c.league_id, func.sum(c.amount)).where(c.source.is_not(None))
            .group_by(c.source, c.fund_year, c.league_id)):
        by_pool[pool_key(source, year, league)] += int(fen)
    a = models.ReliefAllocation
    allocated: dict[PoolKey, int] = defaultdict(int)
    for source, year, league, fen in session.execute(
            select(a.source, a.fund_year, a.league_id, func.sum(a.amount)).group_by(a.source, a.fund_year, a.league_id)):
        allocated[pool_key(source, year, league)] += int(fen)
    stored_pools = {(p.source, p.fund_year, p.league_id): p for p in session.scalars(select(models.FundPool))}
    for key in sorted(set(stored_pools) | set(by_pool) | set(allocated)):
        pool = stored_pools.get(key)
        name = f"{key[0]} {key[1]}" + (f" {key[2]}" if key[2] else "")
        if pool is None:
            problems.append(f"pool {name}: charges or allocations but no pool row")
            continue
        if pool.charged != by_pool.get(key, 0):
            problems.append(f"pool {name}: charged {format_fen(pool.charged)}, its line charges add up to "
                            f"{format_fen(by_pool.get(key, 0))}")
        if pool.allocated != allocated.get(key, 0):
            problems.append(f"pool {name}: allocated {format_fen(pool.allocated)}, its allocations add up to "
                            f"{format_fen(allocated.get(key, 0))}")
        if pool.charged > pool.allocated:
            problems.append(f"pool {name}: charged {format_fen(pool.charged)}, past its allocations "
                            f"{format_fen(pool.allocated)}")

    p = models.Posting
    expense = p.account.like("Expenses:Benefits:%")
    by_source = lambda rows: {(s, y, league): int(fen) for s, y, league, fen in rows if fen}  # noqa: E731
    charges = by_source(session.execute(select(c.source, c.fund_year, c.league_id, func.sum(c.amount))
                                         .group_by(c.source, c.fund_year, c.league_id)))
    legs = by_source(session.execute(select(p.fund_source, p.fund_year, p.league_id, func.sum(p.amount))
                                      .where(expense, p.line_id.is_not(None))
                                      .group_by(p.fund_source, p.fund_year, p.league_id)))
    for key in sorted(set(charges) | set(legs), key=lambda k: tuple(str(x) for x in k)):
        if charges.get(key, 0) != legs.get(key, 0):
            source, year, league = key
            problems.append(f"{source or 'mutual aid'} {year}{' ' + league if league else ''}: line charges "
                            f"{format_fen(charges.get(key, 0))}, ledger expenses {format_fen(legs.get(key, 0))}")
    line_legs = {line_id: int(fen) for line_id, fen in session.execute(
        select(p.line_id, func.sum(p.amount)).where(expense, p.line_id.is_not(None)).group_by(p.line_id)) if fen}
    for line_id in sorted(set(line_legs) | {k for k, v in held.items() if v}):
        if line_legs.get(line_id, 0) != held.get(line_id, 0):
            problems.append(f"line {line_id}: charged {format_fen(held.get(line_id, 0))}, ledger expenses "
                            f"{format_fen(line_legs.get(line_id, 0))}")
    return problems

