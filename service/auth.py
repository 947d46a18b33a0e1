"""API keys and what each role may do.

A key looks like ``ck_<prefix>_<secret>``. Only its SHA-256 is stored (a key is 32
random bytes, so a slow password hash would add nothing); the prefix finds the row.

Roles and scopes:
- ``admin``: everything;
- ``officer`` (工会经办) of one union: the members of that union and of every union beneath
  it in the union tree, their enrollments, hardship registrations and claims (submits on
  their behalf, reviews pended ones);
- ``finance`` (财务) of one union: the money of that union's subtree (relief allocations,
  payment runs, fund statements), read access to its members, their claims and what is
  left of their benefits (never submits, reviews or registers);
- ``hospital`` (定点医疗机构): posts and reads its own settlements;
- ``member`` (职工): submits and reads their own claims.

Keys may expire (``expires_at``) and be revoked; either is refused at once (401).
Administrators issue, list and revoke every key; an officer issues keys for their own
union's members and lists and revokes those (member keys of their union's members,
whoever issued them): a key or member outside that is answered as one that does not
exist. Failed sign-ins are counted per client address (``SignInLimiter``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.orm import Session

from claims.dates import LAST_DAY, as_utc, china_midnight
from claims.identity import hidden_character
from service.errors import Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from store import models
from store.repositories import paginate

log = logging.getLogger("claims.auth")


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    FINANCE = "finance"
    HOSPITAL = "hospital"
    MEMBER = "member"


def unions_beneath(path: str):
    """The ids of a union and every union beneath it (a SELECT): ``path`` is the union's own (``R/L1/``).

    One rule for a subtree, whether it is a caller's scope or the union a run or a report is for.
    """
    return select(models.Union.id).where(models.Union.path.startswith(path, autoescape=True))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's role and scope."""

    key_id: int | None
    role: Role
    hospital_code: str | None = None
    member_id: str | None = None
    union_id: str | None = None
    # Officers and finance officers: the ids of their union and every union beneath it
    # (read once when the key is checked), and their union's tree path.
    unions: frozenset[str] = frozenset()
    union_path: str = ""
    # A person signed in to the web console (service/users.py) rather than a key.
    user_id: int | None = None
    # A hospital key: its hospital's grade in the registry, read with the key (None: not read).
    hospital_grade: str | None = None

    @property
    def scoped_to_unions(self) -> bool:
        return self.role in UNION_SCOPED

    def sees_union(self, union_id: str | None) -> bool:
        """Is this union in the caller's scope: everything for an administrator, the subtree for officers."""
        if self.role is Role.ADMIN:
            return True
        return self.role in UNION_SCOPED and union_id is not None and union_id in self.unions

    def union_scope(self, column):
        """A SQL condition: ``column`` (a union id) lies in the caller's subtree."""
        return column.in_(unions_beneath(self.union_path))

    @property
    def actor(self) -> str:
        if self.user_id is not None:
            return f"user:{self.user_id} ({self.role.value})"
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
            return member.union_id in self.unions
        return self.role is Role.MEMBER and member.id == self.member_id

    def may_read(self, member: models.Member) -> bool:
        """May this caller read this member's record, claims and benefits?

        Whoever may act for them, and the finance officers of the member's union subtree:
        finance pays the member's claims, so it reads them, but never acts for the member.
        """
        return self.may_act_for(member) or (self.role is Role.FINANCE and self.sees_union(member.union_id))

    def require_member(self, member: models.Member, hidden_as: NotFound | None = None, *,
                       reading: bool = False) -> None:
        """Refuse a member this caller may not act for (``reading``: may not read) exactly as an unknown one.

        404, not 403: the answer must not tell a caller which members (or, through
        ``hidden_as``, which claims or registrations of them) exist outside their scope.
        ``hidden_as`` is the error the caller gets for an unknown id of what they asked
        for; by default that of an unknown member.
        """
        if not (self.may_read(member) if reading else self.may_act_for(member)):
            raise hidden_as or NotFound(f"no member {member.id}")


CLI = Principal(key_id=None, role=Role.ADMIN)
# Roles whose scope is a union and everything beneath it.
UNION_SCOPED = frozenset({Role.OFFICER, Role.FINANCE})
# Roles that read members and their claims (each within its scope: ``Principal.may_read``).
MEMBER_READERS = (Role.ADMIN, Role.OFFICER, Role.FINANCE, Role.MEMBER)


_PREFIX = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6), as create_key makes it


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scope(session: Session, role: Role, *, hospital_code: str | None, member_id: str | None,
                union_id: str | None, holder: str = "key") -> None:
    """The scope a role needs, and no other: a hospital, a member, a union (officers and
    finance officers), nothing for an administrator; what it names must exist. The same
    rule for keys and for console users (``holder`` names which in the message)."""
    scopes = {Role.HOSPITAL: hospital_code, Role.MEMBER: member_id, Role.OFFICER: union_id, Role.FINANCE: union_id}
    given = {"hospital": hospital_code, "member": member_id, "union": union_id}
    needed = {Role.HOSPITAL: "hospital", Role.MEMBER: "member", Role.OFFICER: "union", Role.FINANCE: "union"}.get(role)
    for name, value in given.items():
        if value is not None and name != needed:
            raise Invalid.at(name, f"a {role.value} {holder} takes no {name} scope")
    if needed and not scopes[role]:
        raise Invalid.at(needed, f"a {role.value} {holder} needs a {needed}")
    if hospital_code and session.get(models.Hospital, hospital_code) is None:
        raise NotFound(f"no hospital {hospital_code}")
    if member_id and session.get(models.Member, member_id) is None:
        raise NotFound(f"no member {member_id}")
    if union_id and session.get(models.Union, union_id) is None:
        raise NotFound(f"no union {union_id}")


def create_key(
    session: Session,
    role: Role,
    *,
    hospital_code: str | None = None,
    member_id: str | None = None,
    union_id: str | None = None,
    label: str = "",
    expires_at: dt.datetime | None = None,
) -> tuple[models.ApiKey, str]:
    """Make a key; the plain key is returned once and never stored."""
    check_scope(session, role, hospital_code=hospital_code, member_id=member_id, union_id=union_id)
    # As the API's schema checks it, for the console's form and the command line too: a
    # label is shown in lists and the audit log, where an escape sequence or a bidi
    # override would make it say what it does not (and PostgreSQL stores no NUL).
    hidden = hidden_character(label, multiline=True)
    if hidden:
        raise Invalid.at("label", f"must not contain the control or invisible character {hidden}")
    if len(label) > 200:
        raise Invalid.at("label", "at most 200 characters")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise Invalid.at("expires_at", "give a time zone (e.g. 2027-01-01T00:00:00+08:00)")
        if expires_at <= _now():
            raise Invalid.at("expires_at", "is not in the future")
        # Within the service's days: a time in year 9999 west of UTC is past the last
        # instant Python can hold in UTC (a 500 when it was converted below).
        if expires_at > china_midnight(LAST_DAY):
            raise Invalid.at("expires_at", f"must be at the latest the start of {LAST_DAY.isoformat()} in China")
        # In UTC: SQLite keeps a time without its zone, so every stored time is UTC.
        expires_at = expires_at.astimezone(dt.timezone.utc)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = models.ApiKey(
        prefix=prefix, key_hash=_hash(secret), role=role.value, hospital_code=hospital_code,
        member_id=member_id, union_id=union_id, label=label, expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, f"ck_{prefix}_{secret}"


def key_parts(authorization: str | None) -> tuple[str, str]:
    """The (prefix, secret) of an ``Authorization: Bearer <key>`` header; ``Unauthorized`` when it
    cannot be a key at all. Reads nothing: the desk checks it before a request's input."""
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
    return parts[1], parts[2]


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal behind an ``Authorization: Bearer <key>`` header."""
    prefix, secret = key_parts(authorization)
    # The hospital's registered grade comes with its key (one statement, read as fresh as
    # the key): the one-stop settlement checks the bill's grade against it.
    found = session.execute(_KEY_BY_PREFIX, {"prefix": prefix}).first()
    row, grade = found if found is not None else (None, None)
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, _hash(secret)):
        raise Unauthorized("unknown or revoked API key")
    if row.expires_at is not None and as_utc(row.expires_at) <= _now():
        raise Unauthorized("this API key has expired")
    return principal_for(session, row.id, Role(row.role), hospital_code=row.hospital_code,
                         member_id=row.member_id, union_id=row.union_id, hospital_grade=grade)


# Built once: a statement built anew each request is walked anew for its cache key.
_KEY_BY_PREFIX = (select(models.ApiKey, models.Hospital.grade)
                  .outerjoin(models.Hospital, models.Hospital.code == models.ApiKey.hospital_code)
                  .where(models.ApiKey.prefix == bindparam("prefix")))


def principal_for(session: Session, key_id: int | None, role: Role, *, hospital_code: str | None = None,
                  member_id: str | None = None, union_id: str | None = None, user_id: int | None = None,
                  hospital_grade: str | None = None) -> Principal:
    """A principal with its union subtree read (officers and finance officers)."""
    if role not in UNION_SCOPED or union_id is None:
        return Principal(key_id, role, hospital_code, member_id, union_id, user_id=user_id,
                         hospital_grade=hospital_grade if role is Role.HOSPITAL else None)
    # One statement: the caller's union and every union whose path starts with its path
    # (compared as a prefix, not with LIKE, whose '_' would match any character of an id).
    me, below = aliased(models.Union), aliased(models.Union)
    rows = session.execute(
        select(below.id, me.path).join(below, func.substr(below.path, 1, func.length(me.path)) == me.path)
        .where(me.id == union_id)
    ).all()
    path = rows[0][1] if rows else ""
    return Principal(key_id, role, hospital_code, member_id, union_id, frozenset(r[0] for r in rows), path,
                     user_id=user_id)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# ----------------------------------------------------------------------------- key lifecycle

KEY_MANAGERS = (Role.ADMIN, Role.OFFICER)


def issue_key(session: Session, who: Principal, role: Role, *, hospital_code: str | None = None,
              member_id: str | None = None, union_id: str | None = None, label: str = "",
              expires_at: dt.datetime | None = None) -> tuple[models.ApiKey, str]:
    """A key made by a caller: an administrator any key, an officer member keys of their union's members.

    Another union's member is answered exactly as an unknown one (404), so an officer
    cannot learn which members other unions have.
    """
    who.require(*KEY_MANAGERS)
    if who.role is Role.OFFICER:
        if role is not Role.MEMBER:
            raise Forbidden("an officer issues member keys only")
        if member_id:
            member = session.get(models.Member, member_id)
            if member is None or not who.sees_union(member.union_id):
                raise NotFound(f"no member {member_id}")
    return create_key(session, role, hospital_code=hospital_code, member_id=member_id, union_id=union_id,
                      label=label, expires_at=expires_at)


def _keys_of(who: Principal):
    """The keys a caller manages, as a query."""
    who.require(*KEY_MANAGERS)
    query = select(models.ApiKey)
    if who.role is Role.OFFICER:
        query = query.join(models.Member, models.Member.id == models.ApiKey.member_id).where(
            models.ApiKey.role == Role.MEMBER.value, who.union_scope(models.Member.union_id))
    return query


def list_keys(session: Session, who: Principal, *, role: str | None, active: bool | None, page: int,
              page_size: int) -> tuple[list[models.ApiKey], int]:
    """Keys the caller manages, newest first; ``active``: only usable (or only revoked/expired) ones."""
    query = _keys_of(who)
    if role:
        query = query.where(models.ApiKey.role == role)
    if active is not None:
        now = _now()
        usable = (models.ApiKey.revoked_at.is_(None)
                  & (models.ApiKey.expires_at.is_(None) | (models.ApiKey.expires_at > now)))
        query = query.where(usable if active else ~usable)
    return paginate(session, query, models.ApiKey.id.desc(), page, page_size)


def revoke_key(session: Session, who: Principal, key_id: int) -> tuple[models.ApiKey, bool]:
    """Revoke a key the caller manages; (the key, True when this call revoked it, False if it was already)."""
    row = session.scalar(_keys_of(who).where(models.ApiKey.id == key_id))
    if row is None:
        raise NotFound(f"no key {key_id}")
    if row.revoked_at is not None:
        return row, False
    row.revoked_at = _now()
    session.flush()
    return row, True


def key_status(row: models.ApiKey) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and as_utc(row.expires_at) <= _now():
        return "expired"
    return "active"


# ----------------------------------------------------------------------------- sign-in attempts

DEFAULT_SIGN_IN_LIMIT = "20/minute"


class SignInLimiter:
    """Failed sign-ins counted per client address, in memory or in Redis (``limits``).

    Only a key that was sent and refused counts (a request without a key guesses
    nothing). Past the limit a refused key gets 429 with ``Retry-After`` instead of 401;
    a valid key from the same address is still served: it is checked before the limit,
    so an office behind one address is not locked out by someone guessing. A storage
    that fails (Redis down) lets the 401 through and logs it: sign-in never depends on
    the counter.
    """

    def __init__(self, limit: str = DEFAULT_SIGN_IN_LIMIT, storage_uri: str = "memory://",
                 key_prefix: str = "claims-sign-in") -> None:
        from limits import parse
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter

        self.prefix = key_prefix
        options = {} if storage_uri.startswith("memory") else {"key_prefix": key_prefix}
        self.item = parse(limit)
        self.storage = storage_from_string(storage_uri, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.description = f"{limit} per address ({storage_uri.split('://', 1)[0]})"

    def failed(self, address: str) -> None:
        """Count a refused key; raises ``TooManyRequests`` when the address is past the limit."""
        try:
            allowed = self.limiter.hit(self.item, address)
            if allowed:
                return
            reset_at = self.limiter.get_window_stats(self.item, address).reset_time
        except Exception:  # noqa: BLE001 - the counter is a guard, not a gate
            log.warning("sign-in limiter storage failed; not counting", exc_info=True)
            return
        retry = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests("too many refused API keys from this address; try again later", retry_after=retry)

    def locked(self, key: str) -> int | None:
        """Seconds until ``key`` (an address, a username) may try again, or None when it is not past the limit.

        The console's lockout (service/users.py) asks before it checks a password: a
        locked name is refused even with the right one, so guessing cannot go on."""
        try:
            if self.limiter.test(self.item, key):
                return None
            reset_at = self.limiter.get_window_stats(self.item, key).reset_time
        except Exception:  # noqa: BLE001 - the counter is a guard, not a gate
            log.warning("sign-in limiter storage failed; not counting", exc_info=True)
            return None
        return max(1, math.ceil(reset_at - time.time()))

    def forget(self, key: str) -> None:
        """Forget what ``key`` (a username) has counted: it signed in with the right password."""
        try:
            self.limiter.clear(self.item, key)
        except Exception:  # noqa: BLE001 - the counter is a guard, not a gate
            log.warning("sign-in limiter storage failed; not cleared", exc_info=True)

    def reset(self) -> None:
        self.storage.reset()
