"""Request and response shapes of the service (pydantic), named XCreate / XRead.

Amounts leave the service as strings with two decimals, never as JSON numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from claims.identity import CERTNO_PATTERN, InvalidIdentity, hidden_character, identifier_problem, normalise_id, parse_certno
from claims.members import HardshipCategory

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
T = TypeVar("T")


def _as_utc(value: dt.datetime) -> dt.datetime:
    # SQLite gives DateTime(timezone=True) columns back without their zone (they are
    # stored in UTC); PostgreSQL gives them in the server's zone. Answer in UTC on both.
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


UtcDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]


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
    birth_date: dt.date | None = None


class EnrollmentCreate(_In):
    period_start: dt.date
    period_end: dt.date
    enrolled_on: dt.date

    @field_validator("period_end")
    @classmethod
    def _period_in_order(cls, end: dt.date, info: ValidationInfo) -> dt.date:
        # On the field, so the error names period_end (a model validator names the body).
        start = info.data.get("period_start")
        if start is not None and end < start:
            raise ValueError("is before period_start")
        return end


class EnrollmentRead(EnrollmentCreate):
    model_config = ConfigDict(from_attributes=True)
    id: int
    member_id: str


class HardshipCreate(_In):
    category: HardshipCategory
    registered_on: dt.date
    verified: bool = False
    verified_on: dt.date | None = None
    note: Annotated[str, Field(max_length=2000)] = ""


class HardshipVerify(_In):
    verified_on: dt.date
    note: Annotated[str, Field(max_length=2000)] = ""


class HardshipRevoke(_In):
    revoked_on: dt.date
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
    settlement_id: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None  # a 32-bit row id
    fixmedins_code: Annotated[str | None, Field(max_length=32), AfterValidator(_identifier)] = None
    setl_id: Annotated[str | None, Field(max_length=64), AfterValidator(_identifier)] = None
    submitted_on: Annotated[dt.date | None, Field(description=(
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
        description="When the key stops working (with a time zone); none: it does not expire")] = None


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
    period_end: dt.date


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


# ----------------------------------------------------------------------------- funds branch


class AllocationCreate(_In):
    """A relief allocation as finance records it (``funds.md`` §1)."""

    source: Literal["central", "region", "league", "charity"]
    year: Annotated[int, Field(ge=2000, le=2100, description="The fund year: admissions of this year are paid from it")]
    league_id: Annotated[str | None, Field(max_length=32, description="The league or city union; for league money only")] = None
    amount: Annotated[str, Field(max_length=20, description="Yuan, e.g. 500000.00; above 0")]
    reference: Annotated[VisibleText, Field(min_length=1, max_length=100,
                                            description="The bank's or the document's reference; once per source and year")]
    received_on: dt.date


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
