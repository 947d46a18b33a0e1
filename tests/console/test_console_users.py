"""Console users: argon2id passwords, sessions that end, lockout by username and by address, the CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import users
from service.auth import CLI, Role
from service.errors import Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from service.users import Lockout, SessionPolicy
from store import models
from store.db import make_engine, session_factory
from tests.console.cast import PASSWORD
from tests.load.live import claims_command, ROOT

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
POLICY = SessionPolicy(absolute=dt.timedelta(hours=8), idle=dt.timedelta(minutes=20))


@pytest.fixture
def s(seeded_db) -> Iterator[Session]:
    engine = make_engine(seeded_db[0])
    with session_factory(engine)() as session:
        yield session
        session.rollback()
    engine.dispose()


def lockout() -> Lockout:
    return Lockout.make("3/15 minutes", "5/15 minutes")


def test_a_password_is_kept_only_as_an_argon2id_hash(s: Session) -> None:
    user = users.create_user(s, CLI, Role.OFFICER, "zhang.wei", "a-long-password-1", union_id="U1")
    assert user.password_hash.startswith("$argon2id$")
    assert "a-long-password-1" not in user.password_hash


@pytest.mark.parametrize("password", ["", "   ", "short", "nine-char"])
def test_an_empty_or_short_password_is_refused_naming_it_and_nothing_is_stored(s: Session, password: str) -> None:
    before = s.scalar(select(func.count()).select_from(models.User))
    with pytest.raises(Invalid) as refused:
        users.create_user(s, CLI, Role.ADMIN, "newadmin", password)
    assert refused.value.errors[0]["field"] == "password"
    assert s.scalar(select(func.count()).select_from(models.User)) == before


@pytest.mark.parametrize("role, scope, field", [
    (Role.OFFICER, {}, "union"), (Role.HOSPITAL, {"union_id": "U1"}, "union"),
    (Role.MEMBER, {}, "member"), (Role.ADMIN, {"member_id": "M1"}, "member"),
])
def test_a_user_takes_exactly_the_scope_of_their_role(s: Session, role, scope, field) -> None:
    with pytest.raises(Invalid) as refused:
        users.create_user(s, CLI, role, "scoped", "a-long-password-1", **scope)
    assert refused.value.errors[0]["field"] == field


def test_a_scope_that_does_not_exist_is_refused(s: Session) -> None:
    with pytest.raises(NotFound):
        users.create_user(s, CLI, Role.OFFICER, "ghost", "a-long-password-1", union_id="NOPE")


def test_a_username_is_taken_once(s: Session) -> None:
    with pytest.raises(Exception) as refused:
        users.create_user(s, CLI, Role.ADMIN, "admin", "a-long-password-1")
    assert refused.value.errors[0]["field"] == "username"  # type: ignore[attr-defined]


def test_only_an_administrator_makes_users(s: Session) -> None:
    officer = users.principal_of(s, s.scalar(select(models.User).where(models.User.username == "officer")))
    with pytest.raises(Forbidden):
        users.create_user(s, officer, Role.ADMIN, "sneaky", "a-long-password-1")


def test_a_signed_in_user_acts_with_the_scope_and_name_of_their_role(s: Session) -> None:
    signed = users.sign_in(s, "officer", PASSWORD, "10.0.0.1", lockout(), POLICY, now=NOW)
    visit = users.find_session(s, signed.token, POLICY, now=NOW)
    assert visit is not None
    assert visit.principal.role is Role.OFFICER and visit.principal.unions == frozenset({"U1"})
    assert visit.principal.actor == f"user:{signed.user.id} (officer)"
    assert visit.csrf_token == signed.csrf_token


def test_the_session_token_is_stored_only_as_a_hash(s: Session) -> None:
    signed = users.sign_in(s, "member", PASSWORD, "10.0.0.1", lockout(), POLICY, now=NOW)
    row = s.get(models.UserSession, signed.session_id)
    assert row is not None and signed.token not in (row.token_hash, row.csrf_token)


def test_a_session_ends_after_its_idle_gap_and_a_request_restarts_the_clock(s: Session) -> None:
    signed = users.sign_in(s, "member", PASSWORD, "10.0.0.1", lockout(), POLICY, now=NOW)
    later = NOW + dt.timedelta(minutes=15)
    visit = users.find_session(s, signed.token, POLICY, now=later)
    assert visit is not None and visit.stale
    users.touch(s, visit.session_id, now=later)
    assert users.find_session(s, signed.token, POLICY, now=later + dt.timedelta(minutes=15)) is not None
    assert users.find_session(s, signed.token, POLICY, now=later + dt.timedelta(minutes=20)) is None


def test_a_session_ends_at_its_absolute_expiry_however_busy(s: Session) -> None:
    signed = users.sign_in(s, "member", PASSWORD, "10.0.0.1", lockout(), POLICY, now=NOW)
    moment = NOW
    while moment < NOW + POLICY.absolute - dt.timedelta(minutes=10):
        moment += dt.timedelta(minutes=10)
        users.touch(s, signed.session_id, now=moment)
        assert users.find_session(s, signed.token, POLICY, now=moment) is not None
    assert users.find_session(s, signed.token, POLICY, now=NOW + POLICY.absolute) is None


def test_sign_out_ends_the_session_on_the_server(s: Session) -> None:
    signed = users.sign_in(s, "member", PASSWORD, "10.0.0.1", lockout(), POLICY, now=NOW)
    users.sign_out(s, signed.token, now=NOW)
    assert users.find_session(s, signed.token, POLICY, now=NOW) is None
    users.sign_out(s, signed.token, now=NOW)  # twice: nothing more happens


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(s: Session) -> None:
    signed = users.sign_in(s, "member_other", PASSWORD, "10.0.0.1", lockout(), POLICY, now=NOW)
    signed.user.disabled_at = NOW
    s.flush()
    assert users.find_session(s, signed.token, POLICY, now=NOW) is None
    with pytest.raises(Unauthorized):
        users.sign_in(s, "member_other", PASSWORD, "10.0.0.2", lockout(), POLICY, now=NOW)


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(s: Session) -> None:
    guard = lockout()
    with pytest.raises(Unauthorized) as unknown:
        users.sign_in(s, "nobody", PASSWORD, "10.0.0.3", guard, POLICY)
    with pytest.raises(Unauthorized) as wrong:
        users.sign_in(s, "admin", "wrong-password", "10.0.0.4", guard, POLICY)
    assert unknown.value.detail == wrong.value.detail


def test_a_username_is_locked_after_repeated_failures_even_for_the_right_password(s: Session) -> None:
    guard = lockout()
    for n in range(3):
        with pytest.raises(Unauthorized):
            users.sign_in(s, "finance", f"wrong-{n}", f"10.1.0.{n}", guard, POLICY)
    with pytest.raises(TooManyRequests) as locked:
        users.sign_in(s, "finance", PASSWORD, "10.1.0.9", guard, POLICY)
    assert locked.value.retry_after > 0
    # Another user from the same addresses is not locked by it.
    assert users.sign_in(s, "member", PASSWORD, "10.1.0.0", guard, POLICY).user.username == "member"


def test_an_address_is_locked_after_repeated_failures_across_usernames(s: Session) -> None:
    guard = lockout()
    for n in range(5):
        with pytest.raises(Unauthorized):
            users.sign_in(s, f"guess{n}", "wrong-password", "10.2.0.1", guard, POLICY)
    with pytest.raises(TooManyRequests):
        users.sign_in(s, "admin", PASSWORD, "10.2.0.1", guard, POLICY)
    assert users.sign_in(s, "admin", PASSWORD, "10.2.0.2", guard, POLICY).user.username == "admin"


def test_a_cookie_that_is_not_a_session_finds_nothing(s: Session) -> None:
    for token in (None, "", "x" * 1000, "not-a-token"):
        assert users.find_session(s, token, POLICY) is None


def _cli(*args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([*claims_command(), "users", "create", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_the_cli_makes_a_user_with_the_password_from_standard_input(seeded_db, s: Session) -> None:
    done = _cli("--role", "officer", "--union", "U2", "--username", "cli-officer", "--db", seeded_db[0],
                stdin="a-long-password-1\n")
    assert done.returncode == 0, done.stderr
    user = s.scalar(select(models.User).where(models.User.username == "cli-officer"))
    assert user is not None and user.role == "officer" and user.union_id == "U2"
    assert users.sign_in(s, "cli-officer", "a-long-password-1", "10.3.0.1", lockout(), POLICY).user.id == user.id


@pytest.mark.parametrize("stdin", ["", "\n", "short\n"])
def test_the_cli_refuses_an_empty_or_short_password_and_stores_nothing(seeded_db, s: Session, stdin: str) -> None:
    done = _cli("--role", "admin", "--username", "cli-empty", "--db", seeded_db[0], stdin=stdin)
    assert done.returncode == 2 and "password" in done.stderr
    assert s.scalar(select(models.User).where(models.User.username == "cli-empty")) is None


def test_the_cli_refuses_a_role_without_its_scope(seeded_db) -> None:
    done = _cli("--role", "hospital", "--username", "cli-h", "--db", seeded_db[0], stdin="a-long-password-1\n")
    assert done.returncode == 2 and "--hospital" in done.stderr
