"""Request and response shapes of the service (pydantic), named XCreate / XRead.

Amounts leave the service as strings with two decimals, never as JSON numbers.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from claims.dates import DAY_FORM, as_utc, check_service_day, china_today, read_day
from claims.identity import CERTNO_PATTERN, InvalidIdentity, hidden_character, identifier_problem, normalise_id, parse_certno
from claims.members import HardshipCategory
from claims.money import format_fen
from store.row_ids import MAX_ROW_ID, row_id_spelled

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


def _written_day(value: Any) -> Any:
    # A request's day is the text YYYY-MM-DD (claims.dates.read_day); pydantic's lax dates
    # also take 1767225600, "0" and a datetime at midnight of any zone.
    if isinstance(value, dt.datetime):
        raise ValueError(f"is a day ({DAY_FORM}), not a time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return read_day(value)
    raise ValueError(f"is not a date ({DAY_FORM})")


def _whole_number(value: Any) -> Any:
    # A JSON integer, or the digits a path, a query or a form sends (store.row_ids'
    # spelling): pydantic's lax ints also read true, 2026.0, "+2026", " 2026" and "02026".
    if isinstance(value, str) and row_id_spelled(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("is a whole number written in the digits 0-9, without a leading zero")
    return value


# A day and a time (RFC 3339 and ISO 8601 forms: T, t or a space, any fraction, any offset
# spelling); the rest is pydantic's to read.
_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:.*", re.S)


def _written_time(value: Any) -> Any:
    # ISO 8601 text, as the description says: pydantic's lax datetimes also read
    # 1767225600 (and "1767225600") as a Unix time. None: the field's "never".
    if value is None or isinstance(value, dt.datetime) or (isinstance(value, str) and _ISO_TIME.fullmatch(value)):
        return value
    raise ValueError("is a time written YYYY-MM-DDTHH:MM:SS with its zone, e.g. 2027-01-01T00:00:00+08:00")


# A whole number (a row id, a year) written in digits, in a path, a body, a query or a
# form: put beside the field's Field/Path/Query in its Annotated, where its bounds stay
# in the OpenAPI document.
IN_DIGITS = BeforeValidator(_whole_number)


# A day a query names (a report's period, "benefits on"): written YYYY-MM-DD; reading
# any day is harmless, so no range here.
WrittenDay = Annotated[dt.date, BeforeValidator(_written_day)]

# A day a request records (enrollment, register, receipt, money received, a plan in force):
# within the service's days, or year 1 and 9999 would overflow the day after or before it.
Day = Annotated[WrittenDay, AfterValidator(check_service_day)]

OLDEST_BIRTH = dt.date(1900, 1, 1)


def check_birth_day(day: dt.date) -> dt.date:
    """A birth day the register takes (the API's and the import file's); ValueError otherwise."""
    if not OLDEST_BIRTH <= day <= china_today():
        raise ValueError(f"must be a day from {OLDEST_BIRTH.isoformat()} to today in China")
    return day


BirthDay = Annotated[WrittenDay, AfterValidator(check_birth_day)]

T = TypeVar("T")


UtcDatetime = Annotated[dt.datetime, AfterValidator(as_utc)]


def _visible(value: str) -> str:
    hidden = hidden_character(value)
    if hidden:
        raise ValueError(f"must not contain the control or invisible character {hidden}")
    return value


def _certno(value: str) -> str:
    try:
        return parse_certno(value)
    except InvalidIdentity as err:
        raise ValueError(err.message) from None


def _identifier(value: str | None) -> str | None:
    # As settlements store them (claims.settlement.parse_posted_settlement): a claim
    # naming ZW-1 in full-width characters names the same bill.
    if value is None:
        return None
    normal = normalise_id(_visible(value))
    problem = identifier_problem(normal)
    if problem:
        raise ValueError(problem)
    return normal


# Text a person reads: no control or invisible character that would hide what it says.
VisibleText = Annotated[str, AfterValidator(_visible)]
Certno = Annotated[str, Field(description="Resident identity number (居民身份证号码, GB 11643): 17 digits and a "
                                          "check digit, X for 10 (x is read as X; full-width digits as digits)",
                              json_schema_extra={"pattern": CERTNO_PATTERN}), AfterValidator(_certno)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_hidden_text(cls, value: Any) -> Any:
        # Every text a request carries, notes included: no control character (but a
        # note's newlines) and nothing that shows nothing. PostgreSQL cannot store a NUL
        # nor a lone surrogate, and an escape sequence or a bidi override in a note
        # would make the audit log say what it does not.
        if isinstance(value, str):
            hidden = hidden_character(value, multiline=True)
            if hidden:
                raise ValueError(f"must not contain the control or invisible character {hidden}")
        return value


UnionLevel = Literal["region", "league", "county", "grassroots"]


class UnionCreate(_In):
    id: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    region: Annotated[str, Field(max_length=100)] = ""
    parent_id: Annotated[str | None, Field(max_length=32, description="The union directly above; none for the regional federation")] = None
    level: Annotated[UnionLevel, Field(description="region (自治区总工会), league (盟市总工会), county (旗县总工会) or grassroots (基层工会)")] = "grassroots"


class UnionRead(UnionCreate):
    model_config = ConfigDict(from_attributes=True)
    league_id: str | None = None


class HospitalCreate(_In):
    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    grade: Literal["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"]
    region: Annotated[str, Field(max_length=100)] = ""


class HospitalRead(HospitalCreate):
    model_config = ConfigDict(from_attributes=True)


class MemberCreate(_In):
    id: Id
    union_id: Annotated[str | None, Field(description="Defaults to the officer's own union")] = None
    certno: Certno
    name: Annotated[VisibleText, Field(max_length=100)] = ""
    gender: Literal["F", "M"] | None = None
    birth_date: BirthDay | None = None


class EnrollmentCreate(_In):
    period_start: Day
    period_end: Day
    enrolled_on: Day

    @field_validator("period_end")
    @classmethod
    def _period_in_order(cls, end: dt.date, info: ValidationInfo) -> dt.date:
        # On the field, so the error names period_end (a model validator names the body).
        start = info.data.get("period_start")
        if start is not None and end < start:
            raise ValueError("is before period_start")
        return end


class ContributionRead(BaseModel):
    """What the member-period brought into the mutual-aid pool, booked when the enrollment was made."""

    model_config = ConfigDict(from_attributes=True)
    members: Annotated[str, Field(description="The members' contribution, yuan", examples=["90.00"])]
    union_subsidy: Annotated[str, Field(description="The regional union's subsidy, yuan", examples=["10.00"])]
    recorded_on: dt.date

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if hasattr(value, "members_amount"):  # a stored contribution (store.models.Contribution): fen to yuan
            return {"members": format_fen(value.members_amount), "union_subsidy": format_fen(value.union_subsidy_amount),
                    "recorded_on": value.recorded_on}
        return value


class EnrollmentRead(EnrollmentCreate):
    model_config = ConfigDict(from_attributes=True)
    # Plain days: what is stored is answered as it is, even a day stored before the
    # input range was checked (Day's validators are for what comes in).
    period_start: dt.date
    period_end: dt.date
    enrolled_on: dt.date
    id: int
    member_id: str
    # None for an enrollment made before contributions were recorded.
    contribution: ContributionRead | None = None


class HardshipCreate(_In):
    category: HardshipCategory
    registered_on: Day
    verified: bool = False
    verified_on: Day | None = None
    note: Annotated[str, Field(max_length=2000)] = ""


class HardshipVerify(_In):
    verified_on: Day
    note: Annotated[str, Field(max_length=2000)] = ""


class HardshipRevoke(_In):
    revoked_on: Day
    note: Annotated[str, Field(max_length=2000)] = ""


class HardshipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    member_id: str
    category: HardshipCategory
    registered_on: dt.date
    verified: bool
    verified_on: dt.date | None
    revoked_on: dt.date | None
    note: str


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    union_id: str
    certno: str | None  # None only for members registered before it was required
    name: str
    gender: str | None
    birth_date: dt.date | None


class MemberDetail(MemberRead):
    enrollments: list[EnrollmentRead]
    hardship_registrations: list[HardshipRead]


class ImportResult(BaseModel):
    members_created: int
    enrollments_created: int
    enrollments_unchanged: int


class SettlementRead(BaseModel):
    id: int
    fixmedins_code: str
    setl_id: str
    begndate: dt.date
    enddate: dt.date
    medfee_sumamt: str
    in_policy_self_pay: str
    record: dict[str, Any]
    posted_at: UtcDatetime


class ClaimCreate(_In):
    member_id: Id
    # A 32-bit row id, a JSON integer: pydantic's lax ints read true, 2.0, "01" and " 4" as ids too.
    settlement_id: Annotated[int | None, Field(ge=1, le=MAX_ROW_ID, strict=True)] = None
    fixmedins_code: Annotated[str | None, Field(max_length=32), AfterValidator(_identifier)] = None
    setl_id: Annotated[str | None, Field(max_length=64), AfterValidator(_identifier)] = None
    submitted_on: Annotated[Day | None, Field(description=(
        "The date the claim was received. The service sets it (today in China); only a union officer "
        "may give an earlier date, for a paper claim that reached the union office, with a note: "
        "never before the discharge date nor in the future. A member's key may not send it."))] = None
    note: Annotated[str | None, Field(min_length=1, max_length=2000, description=(
        "Why the claim was received on the earlier submitted_on (required with it)"))] = None

    @model_validator(mode="after")
    def _one_settlement_reference(self) -> "ClaimCreate":
        by_id = self.settlement_id is not None
        by_code = self.fixmedins_code is not None or self.setl_id is not None
        if by_id == by_code or (by_code and not (self.fixmedins_code and self.setl_id)):
            raise ValueError("reference the settlement by settlement_id, or by fixmedins_code and setl_id")
        return self


MAX_CLAIMS_PER_BATCH = 500  # one transaction holds the members' locks until it commits


class ClaimBatchCreate(_In):
    claims: Annotated[list[ClaimCreate], Field(
        min_length=1, max_length=MAX_CLAIMS_PER_BATCH,
        description="Decided in this order, all stored or none; a member's later claims see the earlier ones' totals")]


class ReasonRead(BaseModel):
    code: str
    zh: str
    en: str


class LineRead(BaseModel):
    benefit: str
    name_zh: Annotated[str, Field(description="The benefit's name in the plan that decided the claim")] = ""
    name_en: str = ""
    status: str
    amount: str
    reasons: list[ReasonRead]
    explanation_zh: Annotated[str, Field(description=(
        "Why the line came to this, for the member: the bands and shares paid, the reasons, when cover starts "
        "after a waiting period, the disease's name"))] = ""
    explanation_en: str = ""
    review_note: str = ""
    reviewed: bool = Field(False, description="A reviewer decided this line; re-adjudication keeps it")


class AdjustmentLineRead(BaseModel):
    benefit: str
    from_status: str | None
    to_status: str
    from_amount: str
    to_amount: str
    reasons: list[ReasonRead]


class AdjustmentRead(BaseModel):
    """What a later version would pay differently on a decided claim (the decision itself never changes)."""

    id: int
    claim_id: int
    member_id: str
    from_version: str
    to_version: str
    total_delta: str
    reason: str
    lines: list[AdjustmentLineRead]
    created_at: UtcDatetime


class ClaimRead(BaseModel):
    id: int
    member_id: str
    settlement_id: int
    fixmedins_code: str
    setl_id: str
    submitted_on: dt.date
    receipt_note: str = ""  # set when an officer recorded an earlier date for a paper claim
    status: str
    total: str
    plan_version: str
    lines: list[LineRead]
    adjustments: list[AdjustmentRead] = Field(
        [], description="Re-adjudications of this decided claim under later versions, oldest first")
    payment_status: Annotated[Literal["unpaid", "in_run", "paid", "partly_paid", "returned"], Field(description=(
        "unpaid; in_run (in a payment run not yet settled); paid (every approved fen); partly_paid; "
        "returned (the bank sent the payment back; payable again)"))] = "unpaid"
    trace: list[dict[str, Any]]


class ClaimBatchRead(BaseModel):
    claims: list[ClaimRead]


class LineReview(_In):
    benefit: Annotated[str, Field(min_length=1, max_length=32)]
    action: Literal["approve", "deny", "adjust"]
    amount: Annotated[str | None, Field(description="New amount in yuan, for adjust; not above the pended amount")] = None
    note: Annotated[str, Field(min_length=1, max_length=2000)]


class ClaimReview(_In):
    lines: Annotated[list[LineReview], Field(min_length=1)]


class KeyCreate(_In):
    role: Literal["admin", "officer", "finance", "hospital", "member"]
    hospital_code: str | None = None
    member_id: str | None = None
    union_id: str | None = None
    label: Annotated[str, Field(max_length=200)] = ""
    expires_at: Annotated[dt.datetime | None, Field(
        description="When the key stops working (with a time zone); none: it does not expire"),
        BeforeValidator(_written_time)] = None


class KeyCreated(BaseModel):
    id: int
    role: str
    key: Annotated[str, Field(description="Shown once; only its hash is stored")]
    expires_at: dt.datetime | None = None


class KeyRead(BaseModel):
    """A key as listed: never its secret nor its hash."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    prefix: Annotated[str, Field(description="The part after ck_ that names the key (not secret)")]
    role: str
    hospital_code: str | None
    member_id: str | None
    union_id: str | None
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    status: Literal["active", "revoked", "expired"]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


class HardshipCounts(BaseModel):
    registrations: int
    verified: int


class HardshipPage(Page[HardshipRead]):
    """A page of the hardship register, with counts by category over every page (the filters applied)."""

    counts: Annotated[dict[HardshipCategory, HardshipCounts], Field(
        description="Registrations and verified ones by category, over all the registrations the filters select")]


class MemberCorrection(_In):
    """What an officer may correct of a member: a typo in the name or the resident identity number.

    A field left out is kept. Neither takes null (the defaults only mean "not sent").
    """

    name: Annotated[VisibleText, Field(max_length=100)] = None  # type: ignore[assignment]
    certno: Certno = None  # type: ignore[assignment]


class EnrollmentCorrection(_In):
    period_end: Day


class ProblemField(BaseModel):
    field: Annotated[str, Field(description="The path of the field at fault: claims[3].member_id, body, row 4 certno")]
    message: str


class Problem(BaseModel):
    """Every error answer (RFC 9457 application/problem+json), as api/problems.py renders it."""

    type: Annotated[str, Field(description="What kind of problem: /problems/invalid, /problems/not-found..., "
                                           "or about:blank")]
    title: str
    status: int
    detail: str
    instance: Annotated[str | None, Field(description="The path of the request")] = None
    errors: Annotated[list[ProblemField] | None, Field(description="Each field at fault (invalid input)")] = None


# ----------------------------------------------------------------------------- benefits (branch benefits)


class PeriodRead(BaseModel):
    start: dt.date
    end: dt.date


class HardshipOnRead(BaseModel):
    category: HardshipCategory
    verified: bool
    registered_on: dt.date


class GrantRead(BaseModel):
    disease: Annotated[str, Field(description="The catalog disease's code")]
    name_zh: str
    name_en: str
    reserved: Annotated[bool, Field(description="Held by a pended line until a reviewer decides (else paid)")]


class BenefitStandingRead(BaseModel):
    """One benefit: what it has paid in its scope and what is left, under the plan in force on the day."""

    benefit: str
    name_zh: str
    name_en: str
    applies: Annotated[bool, Field(description="Whether a claim admitted on the day could be paid by this benefit "
                                               "as far as the day settles (enrollment, waiting, hardship register)")]
    reason: Annotated[ReasonRead | None, Field(description="Why it pays nothing on the day (NOT_ENROLLED...)")] = None
    scope: Annotated[Literal["period", "calendar_year"], Field(description="What its totals and cap run over")]
    scope_key: Annotated[str, Field(description="The period (2026-01-01..2026-12-31) or the year (2026)")]
    paid: Annotated[str, Field(description="Approved lines in the scope, yuan")]
    reserved: Annotated[str, Field(description="Pended lines in the scope, yuan: held until a reviewer decides")]
    cap: Annotated[str | None, Field(description="The cap in the scope, yuan (null: none)")] = None
    left: Annotated[str | None, Field(description="cap − paid − reserved, yuan (null: no cap)")] = None
    base_counted: Annotated[str | None, Field(description="Banded share: the cumulative base its bands have reached")] = None
    next_rate: Annotated[str | None, Field(description="Banded share: the rate of the band the next yuan falls in")] = None
    days_paid: int | None = None
    days_reserved: int | None = None
    max_days: int | None = None
    days_left: int | None = None
    grants: Annotated[list[GrantRead] | None, Field(description="One-off grants: the diseases used in the scope")] = None
    grants_left: Annotated[int | None, Field(description="One-off grants: catalog diseases still payable")] = None


class MemberBenefitsRead(BaseModel):
    """Where a member stands on a day: each benefit's figures, from the member's stored totals."""

    member_id: str
    on: dt.date
    plan_version: Annotated[str, Field(description="The published plan in force on the day (name@hash)")]
    enrolled: Annotated[bool, Field(description="A mutual-aid enrollment period contains the day")]
    period: Annotated[PeriodRead | None, Field(description="That period (null: not enrolled)")] = None
    calendar_year: int
    hardship: Annotated[HardshipOnRead | None, Field(description="The hardship registration active on the day")] = None
    benefits: list[BenefitStandingRead]
# ----------------------------------------------------------------------------- the hospital desk (issue 12)


class DeskLineRead(BaseModel):
    """One benefit line as the hospital's cashier reads it: nothing about the member's other claims."""

    benefit: str
    name_zh: str = ""
    name_en: str = ""
    status: str
    amount: str
    reasons: list[ReasonRead]
    explanation_zh: Annotated[str, Field(description=(
        "Why the line came to this: its status, the reasons, the disease; never the member's totals from other "
        "claims (the bands a member reads are left out)"))] = ""
    explanation_en: str = ""


class CancellationRead(BaseModel):
    reason: str
    cancelled_at: UtcDatetime


class DeskDecisionRead(BaseModel):
    """The decision on one bill, as the hospital's desk needs it at discharge."""

    settlement_id: Annotated[int | None, Field(description="The stored settlement; null for a preview")] = None
    fixmedins_code: str
    setl_id: str
    claim_made: bool
    claim_id: int | None = None
    status: Annotated[str | None, Field(description=(
        "approved, denied, pended (held for a union officer's review) or cancelled; null when no claim was made"))] = None
    no_claim_reason: Annotated[ReasonRead | None, Field(description="Why no claim was made (claim_made false)")] = None
    lines: list[DeskLineRead] = []
    paid: Annotated[str, Field(description="What the plan pays now: the approved lines (yuan)")]
    pended: Annotated[str, Field(description="Held for review, not paid now (yuan)")]
    psn_cash_pay: Annotated[str, Field(description="The settlement's psn_cash_pay: the cash the patient bears")]
    patient_owes: Annotated[str, Field(description=(
        "What the patient still pays at the desk: psn_cash_pay minus paid, never below 0.00"))]
    cancelled: CancellationRead | None = None
    payment_status: Annotated[str | None, Field(description=(
        "Where the member's money for this claim is: unpaid, in_run (in a payment run, not settled by the bank), "
        "paid, partly_paid or returned (the bank sent it back; it is paid again by a later run); "
        "null when no claim was made"))] = None
    paid_out: Annotated[str, Field(description=(
        "What the bank has paid the member for this claim so far (yuan), recoveries netted from it included"))] = "0.00"


class CancellationCreate(_In):
    reason: Annotated[VisibleText, Field(min_length=1, max_length=500, description="Why the settlement is cancelled")]


class DaySums(BaseModel):
    count: int
    medfee_sumamt: Annotated[str, Field(description="Total cost (yuan)")]
    in_policy_self_pay: Annotated[str, Field(description="In-policy self-pay, inscp_scp_amt - fund_pay_sumamt (yuan)")]


class ReconciliationRead(BaseModel):
    """A day's settlements and what was decided on them (the day: posting date in China)."""

    date: dt.date
    hospital: str | None
    day_starts: UtcDatetime
    day_ends: UtcDatetime
    settlements: Annotated[DaySums, Field(description="Posted that day and not cancelled")]
    cancelled: Annotated[DaySums, Field(description="Posted that day and cancelled since")]
    paid_by_benefit: Annotated[dict[str, str], Field(description="Approved amounts of the standing claims, by benefit")]
    paid_total: str
    pended_total: str


MAX_RECONCILIATION_ITEMS = 5000  # a large hospital's day; more is a client error, not a bigger request


class ReconciliationItem(_In):
    setl_id: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_identifier)]
    medfee_sumamt: Annotated[str, Field(max_length=20, description="Total cost as the hospital has it (yuan)")]
    psn_cash_pay: Annotated[str | None, Field(max_length=20, description="Cash the patient bore (yuan)")] = None
    union_paid: Annotated[str | None, Field(max_length=20, description=(
        "What the hospital deducted at the desk for the union's plan (yuan)"))] = None
    cancelled: bool = False


class ReconciliationCreate(_In):
    date: Day
    hospital: Annotated[str | None, Field(max_length=32, description=(
        "The hospital (fixmedins_code): a hospital's key may leave it out; an administrator names it"))] = None
    settlements: Annotated[list[ReconciliationItem], Field(max_length=MAX_RECONCILIATION_ITEMS)]


class ReconciliationDifference(BaseModel):
    setl_id: str
    kind: Literal["missing_here", "missing_there", "amount_differs", "cancelled_here_only", "cancelled_there_only",
                  "posted_another_day"]
    field: str | None = None
    ours: str | None = None
    theirs: str | None = None


class ReconciliationResult(BaseModel):
    date: dt.date
    hospital: str
    matched: Annotated[int, Field(description="Settlements on both lists with nothing different")]
    differences: list[ReconciliationDifference]
# ============================================================================ payments (issue 11, item 5)

AccountNumber = Annotated[str, Field(pattern=r"^[0-9]{10,30}$", description="The bank account number: 10 to 30 digits")]


def _trimmed(value: str) -> str:
    # A name the bank reads: a blank one (' ', the ideographic space) pays no one, and a
    # leading space would hide a formula from the bank file's guard (payments._cell).
    value = value.strip()
    if not value:
        raise ValueError("is blank")
    return value


BankName = Annotated[VisibleText, AfterValidator(_trimmed)]


class PayeeAccountWrite(BaseModel):
    """The account a member is paid into; it replaces the active one (which is kept, deactivated)."""

    model_config = ConfigDict(extra="forbid")
    holder_name: Annotated[BankName, Field(min_length=1, max_length=100)]
    bank_name: Annotated[BankName, Field(min_length=1, max_length=100, description="Bank and branch (开户行)")]
    account_no: AccountNumber


class PayeeAccountRead(BaseModel):
    id: int
    member_id: str
    holder_name: str
    bank_name: str
    account_no: Annotated[str, Field(description="Masked: ****1234 (only the bank file holds it whole)")]
    active: bool
    created_at: UtcDatetime


class PaymentRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    union_id: Annotated[str | None, Field(max_length=32, description=(
        "The union whose subtree is paid; a finance officer's own union when left out (administrators name one)"))] = None
    decided_from: Annotated[Day | None, Field(description="Claims decided on or after this day (China time)")] = None
    decided_to: Annotated[Day | None, Field(description="Claims decided on or before this day (China time)")] = None


class ItemLineRead(BaseModel):
    claim_id: int
    line_id: int
    benefit: str
    amount: str


class PaymentItemRead(BaseModel):
    id: int
    run_id: int
    member_id: str
    holder_name: str
    bank_name: str
    account_no: Annotated[str, Field(description="Masked: ****1234")]
    gross: Annotated[str, Field(description="What the member's lines add up to")]
    netted: Annotated[str, Field(description="Recoveries the member owed, netted first")]
    amount: Annotated[str, Field(description="What the bank pays: gross less netted")]
    status: Literal["pending", "paid", "returned", "cancelled"]
    reason: str = ""
    bank_ref: str = ""
    settled_on: dt.date | None = None
    lines: list[ItemLineRead] = []


class LeftOut(BaseModel):
    member_id: str
    payable: str
    why: Literal["no_payee_account", "recoveries_exceed_payable"]


class PaymentRunRead(BaseModel):
    id: int
    union_id: str
    status: Literal["draft", "approved", "exported", "closed", "cancelled"]
    decided_from: dt.date | None = None
    decided_to: dt.date | None = None
    total: str
    item_count: int
    made_by: str
    approved_by: str | None = None
    created_at: UtcDatetime
    approved_at: UtcDatetime | None = None
    exported_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None
    cancelled_at: UtcDatetime | None = None


class PaymentRunCreated(PaymentRunRead):
    left_out: Annotated[list[LeftOut], Field(description=(
        "Members with payable lines who got no item: no active payee account, or recoveries above what they are owed"))] = []


class PaymentRunDetail(PaymentRunRead):
    payment_items: Annotated[list[PaymentItemRead], Field(description="One a member, with the lines it pays")]


class ReturnsResult(BaseModel):
    paid: int
    returned: int
    unchanged: int
    run_status: str


class AdviceLine(BaseModel):
    line_id: int
    benefit: str
    name_zh: str = ""
    name_en: str = ""
    amount: str
    reasons: list["ReasonRead"]


class AdviceClaim(BaseModel):
    claim_id: int
    fixmedins_code: str
    setl_id: str
    admitted: dt.date
    discharged: dt.date
    lines: list[AdviceLine]


class RemittanceAdvice(BaseModel):
    """What a payment paid a member, line by line, with the reasons (Chinese and English)."""

    item_id: int
    run_id: int
    member_id: str
    member_name: str
    holder_name: str
    bank_name: str
    account_no: str
    status: str
    settled_on: dt.date | None = None
    bank_ref: str = ""
    gross: str
    netted: str
    amount: str
    claims: list[AdviceClaim]
# ----------------------------------------------------------------------------- ledger branch: fund statements


class StatementLineRead(BaseModel):
    """One fund's statement: closing = opening + allocations − charges, yuan."""

    source: Annotated[str, Field(description="mutual_aid (the pool: contributions and union subsidy in, MA_* out), "
                                             "central, region, league or charity")]
    year: Annotated[int, Field(description="The fund year (admission year of a charge, allocation year)")]
    league_id: Annotated[str | None, Field(description="The league whose money it is (source league only)")]
    opening: Annotated[str, Field(description="Money in less charges booked before the statement's start",
                                  examples=["1000.00"])]
    allocations: Annotated[str, Field(description="Money in during the period (for mutual_aid: contributions and "
                                                  "union subsidy)", examples=["500.00"])]
    charges: Annotated[str, Field(description="Charges of approved lines during the period, net of reversals",
                                  examples=["320.50"])]
    closing: Annotated[str, Field(description="opening + allocations - charges; below zero is a deficit",
                                  examples=["1179.50"])]
# ----------------------------------------------------------------------------- funds branch


class AllocationCreate(_In):
    """A relief allocation as finance records it (``funds.md`` §1)."""

    source: Literal["central", "region", "league", "charity"]
    year: Annotated[int, Field(ge=2000, le=2100, description="The fund year: admissions of this year are paid from it"),
                    IN_DIGITS]
    league_id: Annotated[str | None, Field(max_length=32, description="The league or city union; for league money only")] = None
    amount: Annotated[str, Field(max_length=20, description="Yuan, e.g. 500000.00; above 0")]
    reference: Annotated[VisibleText, Field(min_length=1, max_length=100,
                                            description="The bank's or the document's reference; once per source and year")]
    received_on: Day


class AllocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    year: int
    league_id: str | None
    amount: str
    reference: str
    received_on: dt.date
    recorded_by: int | None
    created_at: UtcDatetime


class AllocationCreated(AllocationRead):
    redecided_claims: Annotated[list[int], Field(
        description="Claims whose lines waiting for funds (FUND_EXHAUSTED) this allocation paid, oldest first")] = []


class PoolRead(BaseModel):
    fund: str
    source: str | None
    year: int
    league_id: str | None
    allocated: str
    charged: str
    available: str
