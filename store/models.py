"""The database tables (SQLAlchemy 2.0 typed models).

Money is integer fen in ``BigInteger`` columns. Relationships are ``lazy="raise"`` so
an accidental N+1 query fails loudly instead of slowing down quietly. Alembic
migrations in ``store/migrations`` create exactly these tables; a test checks that
the two agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Union(Base):
    """A trade union (工会) in the union tree: region → league or city → county → grassroots.

    ``path`` is the ids from the root down, each followed by ``/`` (``NMG/HHHT/XC/``), so
    a union's subtree is every union whose path starts with its own: one indexed
    prefix scan, no recursive query. ``league_id`` is the league or city union above
    (or the union itself): league-raised relief money is kept per league.
    """

    __tablename__ = "unions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(100), default="")
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("unions.id"), index=True)
    level: Mapped[str] = mapped_column(String(16), default="grassroots", server_default="grassroots")
    path: Mapped[str] = mapped_column(String(700), index=True, default="")
    league_id: Mapped[str | None] = mapped_column(String(32))


class Hospital(Base):
    """A designated medical institution (定点医疗机构), by its national code."""

    __tablename__ = "hospitals"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)  # fixmedins_code
    name: Mapped[str] = mapped_column(String(200))
    grade: Mapped[str] = mapped_column(String(2))  # hosp_lv
    region: Mapped[str] = mapped_column(String(100), default="")


class Member(Base):
    __tablename__ = "members"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    union_id: Mapped[str] = mapped_column(ForeignKey("unions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # The resident identity number (居民身份证号码, GB 11643): who a bill belongs to.
    # Nullable only for rows made before it was required; the API always sets it.
    certno: Mapped[str | None] = mapped_column(String(18), unique=True)
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    enrollments: Mapped[list["Enrollment"]] = relationship(lazy="raise", order_by="Enrollment.period_start")
    hardship_registrations: Mapped[list["HardshipRegistration"]] = relationship(lazy="raise")


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("member_id", "period_start"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    enrolled_on: Mapped[dt.date] = mapped_column(Date)


class HardshipRegistration(Base):
    """An entry of the hardship register (困难职工档案), verified by a home visit."""

    __tablename__ = "hardship_registrations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    registered_on: Mapped[dt.date] = mapped_column(Date)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_on: Mapped[dt.date | None] = mapped_column(Date)
    revoked_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")


class Settlement(Base):
    """A posted hospital settlement; ``record`` is the national record as validated."""

    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("fixmedins_code", "setl_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(ForeignKey("hospitals.code"), index=True)
    setl_id: Mapped[str] = mapped_column(String(64))
    psn_no: Mapped[str] = mapped_column(String(64), default="")
    certno: Mapped[str | None] = mapped_column(String(18), index=True)  # the patient's; None only on old rows
    begndate: Mapped[dt.date] = mapped_column(Date)
    enddate: Mapped[dt.date] = mapped_column(Date)
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)
    in_policy_self_pay: Mapped[int] = mapped_column(BigInteger)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Claim(Base):
    """One settlement claimed for one member, with its decision."""

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_status_submitted", "status", "submitted_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), index=True)
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    # Set when an officer recorded an earlier receipt date for a paper claim: why.
    receipt_note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(BigInteger)
    plan_version: Mapped[str] = mapped_column(String(100))
    trace: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

    lines: Mapped[list["DecisionLine"]] = relationship(lazy="raise", order_by="DecisionLine.position")
    settlement: Mapped[Settlement] = relationship(lazy="raise")
    adjustments: Mapped[list["Adjustment"]] = relationship(lazy="raise", order_by="Adjustment.id")


class DecisionLine(Base):
    """One benefit line of a claim's decision, with the accumulator changes it made."""

    __tablename__ = "decision_lines"
    __table_args__ = (UniqueConstraint("claim_id", "benefit"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    benefit: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    changes: Mapped[list[Any]] = mapped_column(JSON)  # [{benefit, measure, scope, delta}]
    review_note: Mapped[str] = mapped_column(Text, default="")
    # A reviewer decided this line: re-adjudication keeps it as the reviewer left it.
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AdjudicatedBill(Base):
    """Each bill decided once: the primary key is what makes a second claim a duplicate.

    Inserted in the same transaction as the decision; two concurrent claims for one
    bill cannot both insert it, so a bill is never paid twice.
    """

    __tablename__ = "adjudicated_bills"
    fixmedins_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    setl_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))


class Accumulator(Base):
    """A member's running total: MA_IP base and paid per period, MA_DA days, CIR paid per year..."""

    __tablename__ = "accumulators"
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), primary_key=True)
    benefit: Mapped[str] = mapped_column(String(32), primary_key=True)
    measure: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiKey(Base):
    """An API key, stored as a SHA-256 hash; ``prefix`` finds it without the secret."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # admin, officer, hospital, member
    hospital_code: Mapped[str | None] = mapped_column(ForeignKey("hospitals.code"))
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"))
    union_id: Mapped[str | None] = mapped_column(ForeignKey("unions.id"))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # None: the key does not expire. From this instant on the key is refused (401).
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """What was done, by whom, to what; each entry hashes the one before it."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The entry's place in the chain, 1, 2, 3... given under the chain's lock. Ids have
    # gaps (a PostgreSQL sequence skips the ids of rolled-back inserts); positions do not,
    # so a missing position is a deleted entry and never a rollback.
    position: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    actor: Mapped[str] = mapped_column(String(100))  # 'key:12 (officer)' or 'cli'
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))



class AuditHead(Base):
    """The audit chain's last position and hash: one row, taken (and locked) by each append.

    ``service.audit.record_entries`` moves ``position`` on with one UPDATE that returns
    the head as it stands, the row staying locked until the transaction ends, so appends
    follow one another; a trigger on ``audit_log`` sets ``entry_hash`` from the last
    entry written (migration 0012_audit_head).
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="ck_audit_head_one_row"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


class PlanVersion(Base):
    """A rule document: an editable draft, or a published version in force from a date.

    A published version never changes (its content hash is its identity); a new rule
    is a new draft, validated, simulated and then published.
    """

    __tablename__ = "plan_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # draft, published, retired
    document: Mapped[dict[str, Any]] = mapped_column(JSON)  # catalogs inline
    content_hash: Mapped[str | None] = mapped_column(String(64))  # set when valid
    version: Mapped[str | None] = mapped_column(String(100))  # name@hash, set when valid
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    based_on: Mapped[int | None] = mapped_column(ForeignKey("plan_versions.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Adjustment(Base):
    """A decided claim re-adjudicated under another version: the difference, on its own record.

    The claim's own decision is never rewritten; what the new version would pay more
    (or less) is recorded here, with the accumulator changes that difference makes.
    """

    __tablename__ = "adjustments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    from_version: Mapped[str] = mapped_column(String(100))
    to_version: Mapped[str] = mapped_column(String(100))
    total_delta: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[Any]] = mapped_column(JSON)  # [{benefit, from_status, to_status, from_amount, to_amount, reasons}]
    changes: Mapped[list[Any]] = mapped_column(JSON)  # accumulator changes applied with it
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Job(Base):
    """A long run (a simulation) done by a child process, followed through the API."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotentRequest(Base):
    """The first answer to a request sent with an ``Idempotency-Key`` (kept 24 hours).

    A client that retries (its connection dropped after the commit) gets this answer
    back instead of a second claim. Keys are per API key: one caller cannot read
    another's answers by guessing their keys.
    """

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # method, path and body
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class JournalEntry(Base):
    """One event of the ledger (``funds.md`` §4): its postings add up to zero.

    Append-only: a mistake is corrected by a reversing entry (``reverses_id``), never
    by an edit. ``ref`` names what the event was about (``line:12``, ``allocation:3``).
    """

    __tablename__ = "journal_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(48), index=True)
    ref: Mapped[str] = mapped_column(String(100), index=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    booked_on: Mapped[dt.date] = mapped_column(Date, index=True)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Posting(Base):
    """One leg of a journal entry: integer fen, debit positive, credit negative.

    The fund dimensions (source, year, league) and what it is about (member, claim,
    line) are columns, so fund statements and a member's payable are sums over an
    index, not parsed account names.
    """

    __tablename__ = "postings"
    __table_args__ = (Index("ix_postings_fund", "fund_source", "fund_year", "league_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account: Mapped[str] = mapped_column(String(120), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    fund_source: Mapped[str | None] = mapped_column(String(16))
    fund_year: Mapped[int | None] = mapped_column(Integer)
    league_id: Mapped[str | None] = mapped_column(String(32))
    member_id: Mapped[str | None] = mapped_column(String(64), index=True)
    claim_id: Mapped[int | None] = mapped_column(Integer, index=True)
    line_id: Mapped[int | None] = mapped_column(Integer, index=True)


# ----------------------------------------------------------------------------- branch desk (issue 12)


class SettlementCancellation(Base):
    """A hospital's cancellation of a settlement it posted (national transaction 2305), with why.

    Its claims become ``cancelled`` and hold nothing in their member's totals; the bill's
    key in ``adjudicated_bills`` is freed. One row per settlement: the primary key is
    what makes a second cancellation a conflict, even two at once.
    """

    __tablename__ = "settlement_cancellations"
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    cancelled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


# The day's reconciliation reads a hospital's settlements by posting time.
Index("ix_settlements_hospital_posted", Settlement.fixmedins_code, Settlement.posted_at)
# ============================================================================ branch payments (issue 11, item 5)


class PayeeAccount(Base):
    """The bank account a member is paid into (``funds.md`` §3); at most one active.

    A change deactivates the old row and adds a new one, never an edit: a payment item
    names the account it was approved for, and that row must still say what it said.
    """

    __tablename__ = "payee_accounts"
    __table_args__ = (
        # At most one active account a member, in the database (a partial unique index:
        # SQLite and PostgreSQL both have them).
        Index("uq_payee_accounts_active_member", "member_id", unique=True,
              sqlite_where=text("active"), postgresql_where=text("active")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    holder_name: Mapped[str] = mapped_column(String(100))
    bank_name: Mapped[str] = mapped_column(String(100))
    account_no: Mapped[str] = mapped_column(String(30))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentRun(Base):
    """A batch of payments to members: draft → approved → exported → closed, or cancelled.

    ``made_by_key`` and ``approved_by_key`` are the API keys of the maker and the checker
    (maker–checker: never the same; None is the command line).
    """

    __tablename__ = "payment_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    union_id: Mapped[str] = mapped_column(ForeignKey("unions.id"), index=True)
    decided_from: Mapped[dt.date | None] = mapped_column(Date)
    decided_to: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), index=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    made_by: Mapped[str] = mapped_column(String(100))
    made_by_key: Mapped[int | None] = mapped_column(Integer)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_by_key: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    exported_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentItem(Base):
    """What one run pays one member: ``gross`` of their lines, less ``netted`` recoveries, is ``amount``.

    Status ``pending`` until the bank's return file says ``paid`` or ``returned``.
    ``entry_id`` is the ledger entry of the payment, ``netting_entry_id`` that of the
    recoveries netted (both reversed when a paid item comes back returned).
    """

    __tablename__ = "payment_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payment_runs.id"), index=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    payee_account_id: Mapped[int] = mapped_column(ForeignKey("payee_accounts.id"))
    gross: Mapped[int] = mapped_column(BigInteger)
    netted: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    bank_ref: Mapped[str] = mapped_column(String(100), default="")
    settled_on: Mapped[dt.date | None] = mapped_column(Date)
    entry_id: Mapped[int | None] = mapped_column(Integer)
    netting_entry_id: Mapped[int | None] = mapped_column(Integer)


class PaymentItemLine(Base):
    """A decision line (or the part of it still payable) that an item pays."""

    __tablename__ = "payment_item_lines"
    item_id: Mapped[int] = mapped_column(ForeignKey("payment_items.id"), primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("decision_lines.id"), primary_key=True, index=True)
    claim_id: Mapped[int] = mapped_column(Integer, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class LiveLineClaim(Base):
    """A line held by an unsettled item of a run not cancelled: the primary key is the guard.

    Two runs built at once cannot both insert a line, so a line is never in two live
    runs. The row goes when the item is settled (paid or returned) or its run cancelled.
    """

    __tablename__ = "payment_line_claims"
    line_id: Mapped[int] = mapped_column(ForeignKey("decision_lines.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("payment_items.id"), index=True)
    run_id: Mapped[int] = mapped_column(Integer)


class Recovery(Base):
    """An amount a member owes back (a decision reduced after it was paid), netted first.

    ``item_id`` is the payment item that nets it; cleared again when that item is
    returned or its run cancelled, so the recovery is open once more.
    """

    __tablename__ = "recoveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(Integer)
    line_id: Mapped[int | None] = mapped_column(Integer)
    benefit: Mapped[str] = mapped_column(String(32), default="")
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    item_id: Mapped[int | None] = mapped_column(ForeignKey("payment_items.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
# ----------------------------------------------------------------------------- ledger branch: contributions


class Contribution(Base):
    """What a member-period brings into the mutual-aid pool (``funds.md`` §1), recorded with its enrollment.

    Amounts are the funding rules of the plan in force on the period's start: the
    members' contribution and the regional union's subsidy. ``entry_id`` is the journal
    entry that booked them (``service.contributions``).
    """

    __tablename__ = "contributions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"), unique=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    members_amount: Mapped[int] = mapped_column(BigInteger)
    union_subsidy_amount: Mapped[int] = mapped_column(BigInteger)
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    # None when the plan asks for nothing (both amounts 0.00): no entry to book.
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))


# Declared here rather than in Enrollment's body, to keep this branch's schema in one block.
Enrollment.contribution = relationship(Contribution, lazy="raise", uselist=False, viewonly=True)  # type: ignore[attr-defined]
# ----------------------------------------------------------------------------- branch console (issue 14)


class User(Base):
    """A person who signs in to the web console, with the role and scope of an API key.

    Only an argon2id hash of the password is kept (pwdlib). ``disabled_at``: refused
    from then on, and their sessions with them.
    """

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # admin, officer, finance, hospital, member
    hospital_code: Mapped[str | None] = mapped_column(ForeignKey("hospitals.code"))
    member_id: Mapped[str | None] = mapped_column(ForeignKey("members.id"))
    union_id: Mapped[str | None] = mapped_column(ForeignKey("unions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A signed-in console session, kept on the server; the cookie carries only a random token.

    The token's SHA-256 is stored (as for API keys), so a copy of the table signs no
    one in. A session ends at ``expires_at`` (absolute), after an idle gap longer than
    the console allows since ``last_seen_at``, or at sign-out (``ended_at``).
    ``csrf_token`` is the session's own token every form carries.
    """

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
# ----------------------------------------------------------------------------- branch reports (issue 13)


class ClaimFact(Base):
    """What a report groups a claim by, written once with its decision (``service.report_facts``).

    These are facts of the claim, not of its decision: the member's union when it
    arrived, the dates received and decided, the stay's admission, hospital grade and
    main diagnosis. A review or a re-adjudication changes none of them, so the row is
    never updated; the money of a claim is read from the ledger. They are kept beside
    the claim so a year of a region (a million claims) is grouped from one narrow,
    indexed table instead of parsing each settlement's record.
    """

    __tablename__ = "claim_facts"
    __table_args__ = (Index("ix_claim_facts_union_submitted", "union_id", "submitted_on"),)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64))
    union_id: Mapped[str] = mapped_column(String(32))
    submitted_on: Mapped[dt.date] = mapped_column(Date, index=True)
    decided_on: Mapped[dt.date] = mapped_column(Date)
    admitted_on: Mapped[dt.date] = mapped_column(Date)
    hosp_lv: Mapped[str] = mapped_column(String(2))
    main_diagnosis: Mapped[str] = mapped_column(String(32))  # ICD-10, normalised ('C34.9')


class ReportCharge(Base):
    """A benefit line charged (or uncharged, by a reversal) in the ledger, with what a report groups it by.

    One row per payable leg of an entry that charges a benefit, written by ``ledger.post``
    in the entry's transaction (``service.report_facts.record_entry``): the ledger's
    own amount, beside the claim's union, diagnosis and hospital grade, so a year's
    payouts are grouped from one narrow table instead of joining postings, entries and
    claims. ``report_facts.rebuild`` makes the same rows from the ledger.
    """

    __tablename__ = "report_charges"
    __table_args__ = (Index("ix_report_charges_union_booked", "union_id", "booked_on"),
                      Index("ix_report_charges_adjusts", "adjusts", "booked_on"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    booked_on: Mapped[dt.date] = mapped_column(Date, index=True)
    line_id: Mapped[int] = mapped_column(Integer, index=True)
    # A later charge of a line already charged (a reversal, a new amount): the report nets such lines
    # one by one and takes every other row as its line as it is.
    adjusts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    claim_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[str] = mapped_column(String(64))
    union_id: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(120))  # the entry's expense account: which benefit
    main_diagnosis: Mapped[str] = mapped_column(String(32))
    hosp_lv: Mapped[str] = mapped_column(String(2))
    amount: Mapped[int] = mapped_column(BigInteger)  # fen charged to the member's payable; a reversal negative


class ReportRelief(Base):
    """A relief source's share of a CIR line charged: one row per Expenses:Benefits:CIR:<Source> leg."""

    __tablename__ = "report_relief"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    booked_on: Mapped[dt.date] = mapped_column(Date, index=True)
    claim_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[str] = mapped_column(String(64))
    union_id: Mapped[str] = mapped_column(String(32))
    fund_source: Mapped[str] = mapped_column(String(16))
    league_id: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)


class ReportPayment(Base):
    """A claim paid (an ``item.paid`` entry naming it), with the claim's dates for processing times."""

    __tablename__ = "report_payments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    claim_id: Mapped[int] = mapped_column(Integer, index=True)
    union_id: Mapped[str] = mapped_column(String(32))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    submitted_on: Mapped[dt.date] = mapped_column(Date, index=True)
    decided_on: Mapped[dt.date] = mapped_column(Date)


class ReportMoney(Base):
    """Contributions and allocations received, summed per day, account, fund and union (member's; '' for none).

    Kept by ``INSERT ... ON CONFLICT DO UPDATE`` adding each leg, so two entries at once
    never collide; dimensions that a leg lacks are ''.
    """

    __tablename__ = "report_money"
    booked_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    account: Mapped[str] = mapped_column(String(120), primary_key=True)
    fund_source: Mapped[str] = mapped_column(String(16), primary_key=True)
    league_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    union_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # fen received (credits, as a positive amount)
# ----------------------------------------------------------------------------- funds branch:
# relief allocations, the fund pools they fill, and what each approved line is charged.


class ReliefAllocation(Base):
    """Money a relief source gave for a year (``funds.md`` §1), as a finance officer recorded it.

    ``league_id`` only for ``league`` money (kept per league). A reference is recorded
    once per source and year: the same bank transfer entered twice is refused.
    """

    __tablename__ = "relief_allocations"
    __table_args__ = (UniqueConstraint("source", "fund_year", "reference"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    fund_year: Mapped[int] = mapped_column(Integer, index=True)
    league_id: Mapped[str | None] = mapped_column(ForeignKey("unions.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(100))
    received_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class FundPool(Base):
    """What a relief source holds for a year (and league): allocated and charged, in fen.

    The row a claim locks before charging the source (lock order: after the accumulator
    rows, before the audit chain), so concurrent claims never charge past ``allocated``.
    ``league_id`` is ``''`` for sources not kept per league, so the unique key holds
    on every database (NULLs never collide).
    """

    __tablename__ = "fund_pools"
    __table_args__ = (UniqueConstraint("source", "fund_year", "league_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    fund_year: Mapped[int] = mapped_column(Integer)
    league_id: Mapped[str] = mapped_column(String(32), default="")
    allocated: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    charged: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class LineCharge(Base):
    """Part of an approved line charged to a fund (positive), or given back by a reduction (negative).

    Append-only like the ledger: a line's charge by source is the sum of its rows.
    ``source`` is None for the mutual-aid pool (one pool, never exhausted); ``league_id``
    is set for ``league`` money only. ``line_id`` is not a foreign key: a line of a
    benefit a later version dropped is deleted, its charges stay as history.
    """

    __tablename__ = "line_charges"
    __table_args__ = (Index("ix_line_charges_fund", "source", "fund_year", "league_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(Integer, index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    benefit: Mapped[str] = mapped_column(String(32))
    fund: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(16))
    fund_year: Mapped[int] = mapped_column(Integer)
    league_id: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
