"""The rule document: a benefit plan as data, validated by pydantic.

A plan is read from YAML or JSON (numbers are read as exact decimals, never floats),
its catalogs are inlined (``file:`` names a catalog shipped in ``rules/plans``, never a
path: a plan comes from administrators over HTTP too, and must not read the server's
files), and the result is validated for shape and for meaning: known facts and reason
codes, rules in step order, bands contiguous and ascending, rates between 0 and 1, caps
not negative, ICD tokens well-formed, and lines that pay out of the bill's in-policy
self-pay unable to pay more than it together. Every error carries its path in the
document.

A plan's identity is its name plus a hash of its canonical content, so two documents
that decide alike in every respect share a version, and any change makes a new one.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from importlib import resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from claims.catalog import Disease, DiseaseCatalog, IcdToken
from claims import funding as fund_rules
from claims.members import HardshipCategory
from claims.money import AmountError, parse_yuan
from claims.reasons import Reason
from rules.conditions import ConditionError, Node, parse_when

DEFAULT_PLAN = "default-2026.yaml"
STEPS = ("programme", "scope", "eligibility", "amount", "review")
DECIDING = ("not_applicable", "denied")


class PlanError(ValueError):
    """A rule document that cannot be used; ``errors`` lists (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("write decimals as strings or exact numbers, not binary floats")
    return value


def _money(value: Any) -> Decimal:
    try:
        fen = parse_yuan(value if isinstance(value, (str, Decimal)) else _no_float(value))
    except AmountError as err:
        raise ValueError(f"amount {err}") from None
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))  # stored and shown as yuan with two decimals


def _rate(value: Any) -> Decimal:
    _no_float(value)
    try:
        dec = Decimal(str(value).strip())
    except Exception:
        raise ValueError("a rate is a decimal like 0.40") from None
    if not dec.is_finite() or dec < 0 or dec > 1:
        raise ValueError("a rate is between 0 and 1")
    return dec


Money = Annotated[Decimal, BeforeValidator(_money)]
Rate = Annotated[Decimal, BeforeValidator(_rate)]
Code = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,31}$")]
RuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Scope = Literal["period", "calendar_year"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DiseaseEntry(_Strict):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    name_zh: str = ""
    name_en: str = ""
    include: list[str] = Field(min_length=1)
    exclude: list[str] = []
    disease_class: str = Field("", alias="class")

    @field_validator("include", "exclude")
    @classmethod
    def _tokens_well_formed(cls, tokens: list[str]) -> list[str]:
        return [IcdToken.parse(t).text for t in tokens]


class Catalog(_Strict):
    diseases: list[DiseaseEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_codes(self) -> "Catalog":
        seen = [d.code for d in self.diseases]
        dupes = sorted({c for c in seen if seen.count(c) > 1})
        if dupes:
            raise ValueError(f"disease codes repeat: {', '.join(dupes)}")
        return self

    def build(self) -> DiseaseCatalog:
        return DiseaseCatalog(
            tuple(
                Disease(
                    code=d.code,
                    name_zh=d.name_zh,
                    name_en=d.name_en,
                    include=tuple(IcdToken.parse(t) for t in d.include),
                    exclude=tuple(IcdToken.parse(t) for t in d.exclude),
                    disease_class=d.disease_class,
                )
                for d in self.diseases
            )
        )


class Rule(_Strict):
    id: RuleId
    step: Literal["programme", "scope", "eligibility", "amount", "review"]
    when: dict[str, Any]
    then: Literal["not_applicable", "denied", "reduce", "pend"]
    reason: Code  # a built-in Reason, or one the plan declares under `reasons:` (_reference_errors)
    factor: Rate | None = None

    @model_validator(mode="after")
    def _then_fits_step(self) -> "Rule":
        if self.then in DECIDING and self.step not in ("programme", "scope", "eligibility"):
            raise ValueError(f"a rule that decides ({self.then}) belongs to programme, scope or eligibility")
        if self.then == "reduce":
            if self.step != "amount":
                raise ValueError("a reduce rule belongs to the amount step")
            if self.factor is None:
                raise ValueError("a reduce rule needs a factor between 0 and 1")
        elif self.factor is not None:
            raise ValueError("only a reduce rule takes a factor")
        if self.then == "pend" and self.step != "review":
            raise ValueError("a pend rule belongs to the review step")
        return self


class Band(_Strict):
    start: Money = Field(alias="from")
    end: Money | None = Field(None, alias="to")
    rate: Rate


class BandedShare(_Strict):
    """A share of the base by bands of the member's cumulative base in the scope."""

    kind: Literal["banded_share"]
    base: Literal["in_policy_self_pay"] = "in_policy_self_pay"
    accumulate_over: Scope = "period"
    bands: list[Band] = Field(min_length=1)
    minimum_payout: Money = Decimal(0)
    cap: Money | None = None

    @model_validator(mode="after")
    def _bands_contiguous(self) -> "BandedShare":
        if self.bands[0].start != 0:
            raise ValueError("the first band starts at 0")
        for i, (a, b) in enumerate(zip(self.bands, self.bands[1:]), start=1):
            if a.end is None or a.end != b.start:
                raise ValueError(f"band {i} must start where band {i - 1} ends")
        for i, band in enumerate(self.bands):
            if band.end is not None and band.end <= band.start:
                raise ValueError(f"band {i} must end above where it starts")
        return self


class PerDay(_Strict):
    """A daily allowance by membership year, with a days cap in the scope."""

    kind: Literal["per_day"]
    accumulate_over: Scope = "period"
    rate_by_membership_year: dict[int, Money] = Field(min_length=1)
    max_days: Annotated[int, Field(ge=0)] | None = None

    @field_validator("rate_by_membership_year")
    @classmethod
    def _years_from_one(cls, rates: dict[int, Decimal]) -> dict[int, Decimal]:
        years = sorted(rates)
        if years != list(range(1, len(years) + 1)):
            raise ValueError("membership years are 1, 2, 3... with no gap; the last one applies to later years")
        return rates


class FixedPerDisease(_Strict):
    """A fixed grant once per catalog disease in the scope (optionally by disease class)."""

    kind: Literal["fixed_per_disease"]
    catalog: str
    accumulate_over: Scope = "period"
    amount: Money | None = None
    amount_by_class: dict[str, Money] | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> "FixedPerDisease":
        if (self.amount is None) == (self.amount_by_class is None):
            raise ValueError("give either amount or amount_by_class")
        return self


class CategoryShare(_Strict):
    rate: Rate
    cap: Money | None = None


class ResidualShare(_Strict):
    """A share of what is left of the base after other lines of the same claim."""

    kind: Literal["residual_share"]
    base: Literal["in_policy_self_pay"] = "in_policy_self_pay"
    after: list[Code] = []
    accumulate_over: Scope = "calendar_year"
    by_hardship_category: dict[HardshipCategory, CategoryShare] = Field(min_length=1)


Amount = Annotated[Union[BandedShare, PerDay, FixedPerDisease, ResidualShare], Field(discriminator="kind")]


def pays_out_of_base(amount: Any) -> bool:
    """A line that pays a share of the bill's in-policy self-pay B (with every other such line, at most B)."""
    return getattr(amount, "base", None) == "in_policy_self_pay"


class Benefit(_Strict):
    code: Code
    programme: str
    name_zh: str = ""
    name_en: str = ""
    rules: list[Rule] = []
    amount: Amount

    @model_validator(mode="after")
    def _steps_in_order(self) -> "Benefit":
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"rule ids repeat: {', '.join(dupes)}")
        order = [STEPS.index(r.step) for r in self.rules]
        for i, (a, b) in enumerate(zip(order, order[1:]), start=1):
            if b < a:
                raise ValueError(f"rule {self.rules[i].id!r} ({self.rules[i].step}) comes after a later step")
        return self


class HighAmountReview(_Strict):
    above: Money
    reason: Code = Reason.HIGH_AMOUNT_REVIEW.value


class Review(_Strict):
    high_amount: HighAmountReview | None = None


class ReasonDeclared(_Strict):
    """A reason code of the plan's own, with the texts a member reads."""

    zh: Annotated[str, Field(min_length=1, max_length=200)]
    en: Annotated[str, Field(min_length=1, max_length=300)]


class Contributions(_Strict):
    """Fen a member-period brings the mutual-aid pool (``funds.md`` §1), recorded with each enrollment."""

    members: Money
    union_subsidy: Money


class ReliefShare(_Strict):
    source: Literal["central", "region", "league", "charity"]
    rate: Rate


class FundingSection(_Strict):
    """Which fund pays each benefit and how relief is split by source (``funds.md`` §2)."""

    contributions: Contributions
    funds: dict[Code, Literal["mutual_aid", "relief"]] = Field(min_length=1)
    relief_shares: list[ReliefShare] = Field(min_length=1)
    fallback: Literal["central", "region", "league", "charity"]
    when_exhausted: Literal["pend"] = "pend"

    def build(self) -> fund_rules.Funding:
        return fund_rules.Funding(
            contribution=int(self.contributions.members * 100),
            union_subsidy=int(self.contributions.union_subsidy * 100),
            funds=MappingProxyType(dict(self.funds)),
            relief_shares=tuple((s.source, Fraction(s.rate)) for s in self.relief_shares),
            fallback=self.fallback,
            when_exhausted=self.when_exhausted,
        )


class PlanDocument(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    title_zh: str = ""
    title_en: str = ""
    # None when absent, so that a plan without it keeps its content hash (its version).
    reasons: dict[Code, ReasonDeclared] | None = None
    catalogs: dict[str, Catalog] = {}
    review: Review = Review()
    benefits: list[Benefit] = Field(min_length=1)
    # None when absent: a version stored before funding was rule data keeps its hash
    # and is funded as claims.funding.DEFAULT_FUNDING says.
    funding: FundingSection | None = None


def _reference_errors(document: PlanDocument) -> list[tuple[str, str]]:
    """References between parts of the document (benefit codes, catalogs, 'after').

    Checked here rather than in a model validator: pydantic reports a model
    validator's error at the document's root ('(document)'), and every error should
    carry the path of what is wrong.
    """
    errors: list[tuple[str, str]] = []
    codes = [b.code for b in document.benefits]
    for bi, b in enumerate(document.benefits):
        if b.code in codes[:bi]:
            errors.append((f"benefits[{bi}].code", f"benefit code {b.code!r} repeats"))
        amount = b.amount
        if isinstance(amount, FixedPerDisease) and amount.catalog not in document.catalogs:
            errors.append((f"benefits[{bi}].amount.catalog", f"benefit {b.code}: unknown catalog {amount.catalog!r}"))
        elif isinstance(amount, FixedPerDisease) and amount.amount_by_class is not None:
            classes = {d.disease_class for d in document.catalogs[amount.catalog].diseases}
            missing = sorted(classes - set(amount.amount_by_class))
            if missing:
                errors.append((f"benefits[{bi}].amount.amount_by_class",
                               f"benefit {b.code}: no amount for disease class(es) {', '.join(map(repr, missing))}"
                               f" of catalog {amount.catalog!r}"))
        if isinstance(amount, ResidualShare):
            for ai, other in enumerate(amount.after):
                if other not in codes[:bi]:
                    errors.append((
                        f"benefits[{bi}].amount.after[{ai}]",
                        f"benefit {b.code}: 'after' names {other!r}, which is not an earlier benefit line",
                    ))
    return errors + _funding_errors(document)


def _funding_errors(document: PlanDocument) -> list[tuple[str, str]]:
    """The funding section against the plan: benefits it names, shares adding up to exactly 1."""
    section = document.funding
    if section is None:
        return []
    errors: list[tuple[str, str]] = []
    codes = {b.code for b in document.benefits}
    for code in section.funds:
        if code not in codes:
            errors.append((f"funding.funds.{code}", f"{code} is not a benefit of the plan"))
    seen: set[str] = set()
    for i, share in enumerate(section.relief_shares):
        if share.source in seen:
            errors.append((f"funding.relief_shares[{i}].source", f"source {share.source!r} is listed twice"))
        seen.add(share.source)
        if share.rate == 0:
            errors.append((f"funding.relief_shares[{i}].rate", "a share is above 0 (leave the source out instead)"))
    total = sum((s.rate for s in section.relief_shares), Decimal(0))
    if total != 1:
        errors.append(("funding.relief_shares", f"the rates add up to {total}, not exactly 1"))
    return errors


def _reason_errors(raw: Any) -> list[tuple[str, str]]:
    """Reason codes: a plan's own (``reasons:``) never take a built-in name; each one used is known.

    Read from the raw document, so that an unknown code is named beside whatever
    else is wrong with the document's shape."""
    if not isinstance(raw, dict):
        return []
    declared = raw.get("reasons") if isinstance(raw.get("reasons"), dict) else {}
    errors = [(f"reasons.{code}", f"{code} is a built-in reason code; give the plan's own another name")
              for code in declared if code in Reason.__members__]
    known = set(Reason.__members__) | set(declared)

    def check(path: str, holder: Any) -> None:
        code = holder.get("reason") if isinstance(holder, dict) else None
        if isinstance(code, str) and code not in known:
            errors.append((path, f"unknown reason code {code!r}: a built-in one, or one declared under reasons"))

    review = raw.get("review")
    if isinstance(review, dict):
        check("review.high_amount.reason", review.get("high_amount"))
    benefits = raw.get("benefits")
    for bi, benefit in enumerate(benefits if isinstance(benefits, list) else []):
        rules = benefit.get("rules") if isinstance(benefit, dict) else None
        for ri, rule in enumerate(rules if isinstance(rules, list) else []):
            check(f"benefits[{bi}].rules[{ri}].reason", rule)
    return errors


def _overpay_errors(document: PlanDocument) -> list[tuple[str, str]]:
    """Lines paying out of B that could together pay more than B.

    A banded share pays at most B (rates at most 1, bands not overlapping, a minimum
    no more than B) but knows nothing of other lines, so it must be the first line
    paying out of B. A residual share pays at most what the lines in its ``after``
    left, so it must name every earlier line paying out of B. Then each line pays at
    most what the earlier ones left, and together they pay at most B. The engine cuts
    at B too (rules/formulas.py), whatever a document says; this refuses the document
    first, so an administrator learns of it at the path, not from cut decisions.
    """
    errors: list[tuple[str, str]] = []
    earlier: list[str] = []
    for bi, b in enumerate(document.benefits):
        amount = b.amount
        if isinstance(amount, BandedShare) and amount.cap is not None and amount.minimum_payout > amount.cap:
            errors.append((f"benefits[{bi}].amount.minimum_payout",
                           f"benefit {b.code}: the minimum payout {amount.minimum_payout} is above the cap {amount.cap}"))
        if not pays_out_of_base(amount):
            continue
        if earlier and isinstance(amount, BandedShare):
            errors.append((f"benefits[{bi}].amount.kind",
                           f"benefit {b.code}: a banded share pays out of the in-policy self-pay with no regard to "
                           f"{', '.join(earlier)}, which pay(s) out of it first; together they could pay more than it "
                           "(make it a residual_share with 'after', or put it first)"))
        elif isinstance(amount, ResidualShare):
            missing = [c for c in earlier if c not in amount.after]
            if missing:
                errors.append((f"benefits[{bi}].amount.after",
                               f"benefit {b.code}: 'after' must name every earlier line paying out of the in-policy "
                               f"self-pay, or together they could pay more than it; add {', '.join(missing)}"))
        earlier.append(b.code)
    return errors


# --------------------------------------------------------------------------- loading


class _DecimalLoader(yaml.SafeLoader):
    """YAML with every number that has a fraction read as an exact Decimal."""


def _exact_number(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node)
    try:
        number = Decimal(text)
    except ArithmeticError:  # '.nan', '.inf' and YAML's other spellings Decimal does not read
        number = None
    if number is None or not number.is_finite():
        raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not a finite number", node.start_mark)
    return number


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _exact_number)


MAX_DEPTH = 64  # a plan nests under 10 levels; anything deeper is an attack or an accident


class UnsafeYaml(yaml.YAMLError):
    """YAML a rule document never needs and an attacker uses: aliases, anchors, tags, deep nesting."""


def _refuse_unsafe_yaml(text: str) -> None:
    """Walk the YAML events before building anything: a 381-byte alias bomb expands to
    millions of nodes only when constructed, and a tag can name any constructor."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYaml(f"aliases (*{event.anchor}) are not allowed in a rule document")
        if getattr(event, "anchor", None):
            raise UnsafeYaml(f"anchors (&{event.anchor}) are not allowed in a rule document")
        if getattr(event, "tag", None) is not None and not isinstance(event, (yaml.DocumentStartEvent,)):
            raise UnsafeYaml(f"tags ({event.tag}) are not allowed in a rule document")
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise UnsafeYaml(f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def read_document_text(text: str, name: str) -> Any:
    if name.endswith(".json"):
        try:
            return json.loads(text, parse_float=Decimal)
        except RecursionError:
            raise json.JSONDecodeError(f"nested deeper than the parser can follow (at most {MAX_DEPTH} levels "
                                       "make sense)", text[:20], 0) from None
    _refuse_unsafe_yaml(text)
    return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass


def hidden_text_errors(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Texts of a document holding a control or invisible character (a lone surrogate
    cannot even be hashed or stored), each with its path."""
    from claims.identity import hidden_character

    if isinstance(value, str):
        hidden = hidden_character(value, multiline=True)
        return [(path or "(document)", f"contains the control or invisible character {hidden}")] if hidden else []
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            out += hidden_text_errors(key, here) if isinstance(key, str) else []
            out += hidden_text_errors(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += hidden_text_errors(item, f"{path}[{i}]")
    return out


def shipped_catalogs() -> list[str]:
    """The names of the catalog files shipped with the project (in ``rules/plans``)."""
    return sorted(p.name for p in resources.files("rules.plans").iterdir() if p.name.endswith(".csv"))


def _shipped_catalog_text(name: Any) -> tuple[str | None, str]:
    """The rows of a shipped catalog, or None and why a ``file:`` is refused.

    Only names listed in the package are read: no path (separator, '..', drive or
    absolute) ever reaches the filesystem, and the reasons never echo a file's
    contents or an OS error.
    """
    shipped = shipped_catalogs()
    if not isinstance(name, str) or not name:
        return None, f"name a catalog shipped with the project ({', '.join(shipped)}) or give its diseases inline"
    if name not in shipped:
        if "/" in name or "\\" in name or ".." in name or PurePosixPath(name).is_absolute() or PureWindowsPath(name).drive:
            return None, ("a catalog file is the name of a catalog shipped with the project "
                          f"({', '.join(shipped)}), not a path; give other catalogs' diseases inline")
        return None, (f"no catalog named {name[:64]!r} is shipped with the project ({', '.join(shipped)}); "
                      "give other catalogs' diseases inline")
    return resources.files("rules.plans").joinpath(name).read_text(encoding="utf-8"), ""


def inline_catalogs(raw: Any) -> list[tuple[str, str]]:
    """Replace each catalog's ``file:`` (a shipped catalog's name) by the rows it holds; returns errors found."""
    errors: list[tuple[str, str]] = []
    if not isinstance(raw, dict) or not isinstance(raw.get("catalogs"), dict):
        return errors
    for name, spec in raw["catalogs"].items():
        if not (isinstance(spec, dict) and "file" in spec):
            continue
        path = f"catalogs.{name}.file"
        if set(spec) != {"file"}:
            errors.append((f"catalogs.{name}", "a catalog is either {file: <a shipped catalog>} or {diseases: [...]}"))
            continue
        text, why = _shipped_catalog_text(spec["file"])
        if text is None:
            errors.append((path, why))
            continue
        catalog = DiseaseCatalog.from_csv(text)  # shipped catalogs are checked by the tests
        raw["catalogs"][name] = {
            "diseases": [
                {
                    "code": d.code,
                    "name_zh": d.name_zh,
                    "name_en": d.name_en,
                    "include": [t.text for t in d.include],
                    "exclude": [t.text for t in d.exclude],
                    **({"class": d.disease_class} if d.disease_class else {}),
                }
                for d in catalog.diseases
            ]
        }
    return errors


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("banded_share", "per_day", "fixed_per_disease", "residual_share"):
            continue  # pydantic names the union member; the document does not
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def validate_plan(raw: Any) -> "Plan":
    """Validate a plan document (catalogs already inline) into a usable ``Plan``."""
    reasons = _reason_errors(raw)
    try:
        document = PlanDocument.model_validate(raw)
    except ValidationError as err:
        raise PlanError([(_loc(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in err.errors()]
                        + reasons) from None
    if reasons:
        raise PlanError(reasons + _reference_errors(document))
    return Plan(document)


def parse_plan(text: str, name: str = "plan.yaml") -> "Plan":
    """Read a plan from YAML or JSON text (``name`` says which by its ending)."""
    try:
        raw = read_document_text(text, name)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise PlanError([("(document)", f"not valid YAML or JSON: {err}")]) from None
    errors = hidden_text_errors(raw) or inline_catalogs(raw)
    if errors:
        raise PlanError(errors)
    return validate_plan(raw)


def load_plan(path: str | Path | None = None) -> "Plan":
    """A plan from a file, or the shipped default (``default-2026``) when no path is given."""
    if path is None:
        text = resources.files("rules.plans").joinpath(DEFAULT_PLAN).read_text(encoding="utf-8")
        return parse_plan(text, DEFAULT_PLAN)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise PlanError([("(document)", f"cannot read {p}: {err.strerror}")]) from None
    # Its catalogs are shipped ones or inline: never files beside it (one rule for the
    # command line and for HTTP, where a path would read the server's files).
    return parse_plan(text, p.name)


class Plan:
    """A validated plan: the document, its identity and its conditions, parsed once."""

    def __init__(self, document: PlanDocument) -> None:
        self.document = document
        self.content = document.model_dump(mode="json", by_alias=True, exclude_none=True)
        canonical = json.dumps(self.content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        self.content_hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        self.version = f"{document.name}@{self.content_hash[:12]}"
        self.catalogs = {name: c.build() for name, c in document.catalogs.items()}
        self.funding = document.funding.build() if document.funding is not None else fund_rules.DEFAULT_FUNDING
        errors: list[tuple[str, str]] = _reference_errors(document) + _overpay_errors(document)
        self.conditions: dict[tuple[str, str], Node] = {}
        for bi, benefit in enumerate(document.benefits):
            for ri, rule in enumerate(benefit.rules):
                try:
                    self.conditions[(benefit.code, rule.id)] = parse_when(
                        rule.when, set(self.catalogs), f"benefits[{bi}].rules[{ri}].when"
                    )
                except ConditionError as err:
                    errors.append((err.path, str(err)))
        if errors:
            raise PlanError(errors)

    @property
    def name(self) -> str:
        return self.document.name
