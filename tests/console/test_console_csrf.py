"""Every unsafe request carries the session's CSRF token, or it is refused (403 page) and changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from store import models
from store.db import make_engine, session_factory
from tests.console.conftest import csrf_of


def _users(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return s.scalar(select(func.count()).select_from(models.User)) or 0
    finally:
        engine.dispose()


def test_a_form_without_the_token_is_refused_and_nothing_is_stored(signed_in, seeded_db) -> None:
    client = signed_in("admin")
    before = _users(seeded_db[0])
    answer = client.post("/console/admin/users", data={"username": "mallory", "role": "admin",
                                                       "password": "a-long-password-1"})
    assert answer.status_code == 403 and "请求被拒绝" in answer.text
    assert _users(seeded_db[0]) == before


def test_another_sessions_token_is_refused(signed_in, seeded_db) -> None:
    mine, theirs = signed_in("admin"), signed_in("admin")
    token = csrf_of(theirs.get("/console/admin/users").text)
    before = _users(seeded_db[0])
    answer = mine.post("/console/admin/users", data={"username": "mallory2", "role": "admin",
                                                     "password": "a-long-password-1", "csrf_token": token})
    assert answer.status_code == 403
    assert _users(seeded_db[0]) == before


def test_the_right_token_is_accepted_in_the_form_or_the_htmx_header(signed_in, seeded_db) -> None:
    client = signed_in("admin")
    token = csrf_of(client.get("/console/admin/users").text)
    before = _users(seeded_db[0])
    answer = client.post("/console/admin/users", data={"username": "carol", "role": "admin",
                                                       "password": "a-long-password-1", "csrf_token": token})
    assert answer.status_code == 303
    answer = client.post("/console/admin/users", data={"username": "dave", "role": "admin",
                                                       "password": "a-long-password-1"},
                         headers={"X-CSRF-Token": token})
    assert answer.status_code == 303
    assert _users(seeded_db[0]) == before + 2


def test_the_sign_in_form_needs_its_own_token(console_app) -> None:
    from fastapi.testclient import TestClient

    with TestClient(console_app, follow_redirects=False) as client:
        answer = client.post("/console/sign-in", data={"username": "admin", "password": "correct-horse-battery"})
        assert answer.status_code == 403
        assert "claims_console" not in answer.cookies


def test_sign_out_without_the_token_keeps_the_session(signed_in) -> None:
    client = signed_in("officer")
    assert client.post("/console/sign-out").status_code == 403
    assert client.get("/console/officer").status_code == 200
