"""API keys and what each role may do.

A key looks like ``ck_<prefix>_<secret>``. Only its SHA-256 is stored (a key is 32
random bytes, so a slow password hash would add nothing); the prefix finds the row.

Roles and scopes:
- ``admin``: everything;
- ``officer`` (工会经办) of one union: that union's members, their enrollments, hardship
  registrations and claims (submits on their behalf, reviews pended ones);
- ``hospital`` (定点医疗机构): posts and reads its own settlements;
- ``member`` (职工): submits and reads their own claims.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import Forbidden, Invalid, NotFound, Unauthorized
from store import models


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    HOSPITAL = "hospital"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's role and scope."""

    key_id: int | None
    role: Role
    hospital_code: str | None = None
    member_id: str | None = None
    union_id: str | None = None

    @property
    def actor(self) -> str:
        return "cli" if self.key_id is None else f"key:{self.key_id} ({self.role.value})"

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this needs one of the roles {allowed}; the key's role is {self.role.value}")

    def require_hospital(self, code: str) -> None:
        if self.role is Role.ADMIN:
            return
        if self.role is not Role.HOSPITAL or self.hospital_code != code:
            raise Forbidden(f"this key cannot act for hospital {code}")

    def may_act_for(self, member: models.Member) -> bool:
        """May this caller act for (or see) this member: an officer their union's, a member themself?"""
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.OFFICER:
            return member.union_id == self.union_id
        return self.role is Role.MEMBER and member.id == self.member_id

    def require_member(self, member: models.Member, hidden_as: NotFound | None = None) -> None:
        """Refuse a member this caller may not act for exactly as an unknown one.

        404, not 403: the answer must not tell a caller which members (or, through
        ``hidden_as``, which claims or registrations of them) exist outside their scope.
        ``hidden_as`` is the error the caller gets for an unknown id of what they asked
        for; by default that of an unknown member.
        """
        if not self.may_act_for(member):
            raise hidden_as or NotFound(f"no member {member.id}")


CLI = Principal(key_id=None, role=Role.ADMIN)


_PREFIX = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6), as create_key makes it


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    session: Session,
    role: Role,
    *,
    hospital_code: str | None = None,
    member_id: str | None = None,
    union_id: str | None = None,
    label: str = "",
) -> tuple[models.ApiKey, str]:
    """Make a key; the plain key is returned once and never stored."""
    scopes = {Role.HOSPITAL: hospital_code, Role.MEMBER: member_id, Role.OFFICER: union_id}
    given = {"hospital": hospital_code, "member": member_id, "union": union_id}
    needed = {Role.HOSPITAL: "hospital", Role.MEMBER: "member", Role.OFFICER: "union"}.get(role)
    for name, value in given.items():
        if value is not None and name != needed:
            raise Invalid.at(name, f"a {role.value} key takes no {name} scope")
    if needed and not scopes[role]:
        raise Invalid.at(needed, f"a {role.value} key needs a {needed}")
    if hospital_code and session.get(models.Hospital, hospital_code) is None:
        raise NotFound(f"no hospital {hospital_code}")
    if member_id and session.get(models.Member, member_id) is None:
        raise NotFound(f"no member {member_id}")
    if union_id and session.get(models.Union, union_id) is None:
        raise NotFound(f"no union {union_id}")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = models.ApiKey(
        prefix=prefix, key_hash=_hash(secret), role=role.value, hospital_code=hospital_code,
        member_id=member_id, union_id=union_id, label=label,
    )
    session.add(row)
    session.flush()
    return row, f"ck_{prefix}_{secret}"


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal behind an ``Authorization: Bearer <key>`` header."""
    if not authorization:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    parts = token.strip().split("_", 2)
    # The prefix is checked before it reaches the database: any text there (a NUL
    # character, a megabyte) is an unknown key, not a database error.
    if len(parts) != 3 or parts[0] != "ck" or not _PREFIX.fullmatch(parts[1]):
        raise Unauthorized("unknown API key")
    row = session.scalar(select(models.ApiKey).where(models.ApiKey.prefix == parts[1]))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, _hash(parts[2])):
        raise Unauthorized("unknown or revoked API key")
    return Principal(row.id, Role(row.role), row.hospital_code, row.member_id, row.union_id)
