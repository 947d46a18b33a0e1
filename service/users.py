"""People who sign in to the web console: users, passwords, sessions, lockout.

A user has the role and scope of an API key (``service.auth``: admin, officer and
finance of a union, hospital, member) and acts as the same ``Principal``, so every
service's scope checks apply to them unchanged; the audit log names them
``user:<id> (<role>)``.

Passwords are hashed with argon2id (pwdlib); a sign-in with an unknown name still
verifies against a dummy hash, so the time taken does not tell which names exist.

A session is kept on the server (``user_sessions``): the browser holds only a random
token whose SHA-256 finds the row. It ends at its absolute expiry, after an idle gap,
or when the user signs out (the row is ended, so a copied cookie is dead too).

Lockout: sign-ins are counted per username (every attempt, as it arrives, until one
with the right password) and failed ones per client address (``SignInLimiter``, the
``limits`` package, as API keys are); past either limit a sign-in is refused before
the password is looked at, even the right one, until the window has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.dates import as_utc
from service import audit
from service.auth import Principal, Role, SignInLimiter, check_scope, principal_for
from service.errors import Conflict, Invalid, TooManyRequests, Unauthorized
from store import models
from store.repositories import paginate

MIN_PASSWORD = 10
MAX_PASSWORD = 256  # argon2 would take any length; a megabyte "password" is only a way to spend our CPU
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}")

_hasher = PasswordHash((Argon2Hasher(),))  # argon2id, the library's default parameters
# Verified against when the username is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SessionPolicy:
    """How long a console session lasts: ``absolute`` from sign-in, ``idle`` since the last request."""

    absolute: dt.timedelta = dt.timedelta(hours=12)
    idle: dt.timedelta = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class Lockout:
    """Failed sign-ins allowed per username and per client address before sign-in is refused."""

    by_username: SignInLimiter
    by_address: SignInLimiter

    @classmethod
    def make(cls, username_limit: str = "5/15 minutes", address_limit: str = "30/15 minutes",
             storage_uri: str = "memory://") -> "Lockout":
        return cls(SignInLimiter(username_limit, storage_uri, key_prefix="claims-console-user"),
                   SignInLimiter(address_limit, storage_uri, key_prefix="claims-console-address"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if not password or not password.strip():
        raise Invalid.at("password", "is empty")
    if len(password) < MIN_PASSWORD:
        raise Invalid.at("password", f"is shorter than {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Invalid.at("password", f"is longer than {MAX_PASSWORD} characters")


# ----------------------------------------------------------------------------- users

USER_MANAGERS = (Role.ADMIN,)


def create_user(session: Session, who: Principal, role: Role, username: str, password: str, *,
                hospital_code: str | None = None, member_id: str | None = None,
                union_id: str | None = None) -> models.User:
    """A console user with a role and its scope (exactly as a key's: ``auth.check_scope``); administrators only."""
    who.require(*USER_MANAGERS)
    username = (username or "").strip()
    if not USERNAME.fullmatch(username):
        raise Invalid.at("username", "2 to 64 letters, digits or . _ @ -, starting with a letter or digit")
    check_password(password)
    check_scope(session, role, hospital_code=hospital_code, member_id=member_id, union_id=union_id, holder="user")
    if session.scalar(select(models.User.id).where(models.User.username == username)) is not None:
        raise Conflict(f"username {username} is taken", [{"field": "username", "message": "is taken"}])
    user = models.User(username=username, password_hash=_hasher.hash(password), role=role.value,
                       hospital_code=hospital_code, member_id=member_id, union_id=union_id)
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise Conflict(f"username {username} is taken", [{"field": "username", "message": "is taken"}]) from None
    audit.record(session, who, "user.created", "user", user.id, username=username, role=role.value,
                 hospital_code=hospital_code, member_id=member_id, union_id=union_id)
    return user


def list_users(session: Session, who: Principal, page: int = 1, page_size: int = 50) -> tuple[list[models.User], int]:
    who.require(*USER_MANAGERS)
    return paginate(session, select(models.User), models.User.username, page, page_size)


# ----------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SignedIn:
    """A session just started: the token for the cookie (shown once) and the session's CSRF token."""

    session_id: int
    token: str
    csrf_token: str
    user: models.User


def sign_in(session: Session, username: str, password: str, address: str, lockout: Lockout,
            policy: SessionPolicy = SessionPolicy(), now: dt.datetime | None = None) -> SignedIn:
    """Check a user's password and start a session; ``Unauthorized`` (one message for every
    wrong name or password) or ``TooManyRequests`` while the name or the address is locked out."""
    now = now or _now()
    username = (username or "").strip()[:64]
    for limiter, key in ((lockout.by_username, username.lower()), (lockout.by_address, address)):
        retry = limiter.locked(key)
        if retry is not None:
            raise TooManyRequests("too many failed sign-ins; try again later", retry_after=retry)
    # The name's attempt is counted before its slow password check, not after: guesses sent
    # at once then pass one by one (asked "locked?" first and counted after the check,
    # twenty sent together were twenty passwords tried). A right password forgets them.
    try:
        lockout.by_username.failed(username.lower())
    except TooManyRequests as exc:
        raise TooManyRequests("too many failed sign-ins; try again later", retry_after=exc.retry_after) from None
    user = session.scalar(select(models.User).where(models.User.username == username)) if username else None
    ok = _hasher.verify((password or "")[:MAX_PASSWORD], user.password_hash if user else _DUMMY_HASH)
    if user is None or not ok or user.disabled_at is not None:
        # The address counts failures only: an office's people behind one address sign in all day.
        try:
            lockout.by_address.failed(address)
        except TooManyRequests:
            pass  # counted; the next attempt is refused as locked
        raise Unauthorized("wrong username or password")
    lockout.by_username.forget(username.lower())
    token = secrets.token_urlsafe(32)
    row = models.UserSession(token_hash=_token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                             address=address[:64], created_at=now, last_seen_at=now,
                             expires_at=now + policy.absolute)
    session.add(row)
    session.flush()
    audit.record(session, principal_of(session, user), "user.signed_in", "user", user.id, session_id=row.id)
    return SignedIn(row.id, token, row.csrf_token, user)


@dataclass(frozen=True)
class Visit:
    """A live session found from its cookie: who it is, its CSRF token, whether its idle clock needs a touch."""

    session_id: int
    user: models.User
    principal: Principal
    csrf_token: str
    stale: bool


# A session's last_seen_at is written at most this often: a GET is then a pure read.
TOUCH_EVERY = dt.timedelta(seconds=30)


def find_session(session: Session, token: str | None, policy: SessionPolicy = SessionPolicy(),
                 now: dt.datetime | None = None) -> Visit | None:
    """The live session of a cookie's token, or None (unknown, ended, expired, idle too long, user disabled)."""
    if not token or len(token) > 100:
        return None
    now = now or _now()
    found = session.execute(
        select(models.UserSession, models.User).join(models.User, models.User.id == models.UserSession.user_id)
        .where(models.UserSession.token_hash == _token_hash(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if (row.ended_at is not None or user.disabled_at is not None or as_utc(row.expires_at) <= now
            or as_utc(row.last_seen_at) + policy.idle <= now):
        return None
    return Visit(row.id, user, principal_of(session, user), row.csrf_token,
                 stale=now - as_utc(row.last_seen_at) >= TOUCH_EVERY)


def touch(session: Session, session_id: int, now: dt.datetime | None = None) -> None:
    """Restart a session's idle clock."""
    session.execute(update(models.UserSession).where(models.UserSession.id == session_id)
                    .values(last_seen_at=now or _now()))


def sign_out(session: Session, token: str | None, now: dt.datetime | None = None) -> None:
    """End the session of this token on the server; a token of no live session is ignored."""
    if not token or len(token) > 100:
        return
    row = session.scalar(select(models.UserSession).where(models.UserSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return
    row.ended_at = now or _now()
    user = session.get(models.User, row.user_id)
    assert user is not None
    audit.record(session, principal_of(session, user), "user.signed_out", "user", user.id, session_id=row.id)
    session.flush()


def principal_of(session: Session, user: models.User) -> Principal:
    """The user as a caller of the services: the role and scope of a key of theirs."""
    return principal_for(session, None, Role(user.role), hospital_code=user.hospital_code, member_id=user.member_id,
                         union_id=user.union_id, user_id=user.id)
