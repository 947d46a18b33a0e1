"""A claim, and reading one from the batch case format (spec/case-format.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from claims.errors import InvalidCase
from claims.members import Enrollment, Gender, HardshipCategory, HardshipRegistration, Member, overlapping
from claims.settlement import Settlement, parse_date, parse_settlement


@dataclass(frozen=True, slots=True)
class Claim:
    """One hospital bill claimed for one member, with what the engine needs to know."""

    case_id: str
    submitted_on: dt.date
    member: Member
    enrollments: tuple[Enrollment, ...]
    hardship: HardshipRegistration | None
    settlement: Settlement


def _require(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise InvalidCase(path, f"{path} is required")
    return obj[key]


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCase(path, f"{path} must be a non-empty string")
    return value.strip()


def _optional_date(value: Any, path: str) -> dt.date | None:
    return None if value is None else parse_date(value, path)


def parse_member(raw: Any) -> Member:
    if not isinstance(raw, dict):
        raise InvalidCase("member", "member must be an object")
    member_id = _string(_require(raw, "id", "member.id"), "member.id")
    gender = raw.get("gender")
    if gender is not None:
        try:
            gender = Gender(gender)
        except ValueError:
            raise InvalidCase("member.gender", f"member.gender must be F or M, not {gender!r}") from None
    return Member(member_id, gender, _optional_date(raw.get("birth_date"), "member.birth_date"))


def parse_enrollments(raw: Any) -> tuple[Enrollment, ...]:
    if not isinstance(raw, list):
        raise InvalidCase("enrollments", "enrollments must be a list (it may be empty)")
    out = []
    for i, item in enumerate(raw):
        path = f"enrollments[{i}]"
        if not isinstance(item, dict):
            raise InvalidCase(path, f"{path} must be an object")
        start = parse_date(_require(item, "period_start", f"{path}.period_start"), f"{path}.period_start")
        end = parse_date(_require(item, "period_end", f"{path}.period_end"), f"{path}.period_end")
        enrolled_on = parse_date(_require(item, "enrolled_on", f"{path}.enrolled_on"), f"{path}.enrolled_on")
        if end < start:
            raise InvalidCase(f"{path}.period_end", f"{path}.period_end is before its period_start")
        out.append(Enrollment(start, end, enrolled_on))
    clash = overlapping(out)
    if clash is not None:
        a, b = clash
        raise InvalidCase("enrollments", f"enrollment periods {a.period_key} and {b.period_key} overlap")
    return tuple(out)


def parse_hardship(raw: Any) -> HardshipRegistration | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidCase("hardship", "hardship must be an object or null")
    category = _require(raw, "category", "hardship.category")
    try:
        category = HardshipCategory(category)
    except ValueError:
        codes = ", ".join(c.value for c in HardshipCategory)
        raise InvalidCase("hardship.category", f"hardship.category must be one of {codes}, not {category!r}") from None
    verified = _require(raw, "verified", "hardship.verified")
    if not isinstance(verified, bool):
        raise InvalidCase("hardship.verified", "hardship.verified must be true or false")
    registered_on = parse_date(_require(raw, "registered_on", "hardship.registered_on"), "hardship.registered_on")
    revoked_on = _optional_date(raw.get("revoked_on"), "hardship.revoked_on")
    return HardshipRegistration(category, verified, registered_on, revoked_on)


def parse_claim(raw: Any) -> Claim:
    """Read one case. Raises ``InvalidCase`` or ``BillInconsistent`` naming the field."""
    if not isinstance(raw, dict):
        raise InvalidCase("case", "a case must be a JSON object")
    case_id = _string(_require(raw, "case_id", "case_id"), "case_id")
    submitted_on = parse_date(_require(raw, "submitted_on", "submitted_on"), "submitted_on")
    member = parse_member(_require(raw, "member", "member"))
    enrollments = parse_enrollments(_require(raw, "enrollments", "enrollments"))
    hardship = parse_hardship(_require(raw, "hardship", "hardship"))
    settlement = parse_settlement(_require(raw, "bill", "bill"))
    return Claim(case_id, submitted_on, member, enrollments, hardship, settlement)
