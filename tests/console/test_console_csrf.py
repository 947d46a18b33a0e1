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
    mine, theirs = signed_in("admin"), signed_in("admin", fresh=True)
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
    client = signed_in("officer", fresh=True)
    assert client.post("/console/sign-out").status_code == 403
    assert client.get("/console/officer").status_code == 200


def _cookie_header(app, base_url: str = "http://testserver") -> str:
    from fastapi.testclient import TestClient

    from tests.console.conftest import sign_in

    with TestClient(app, follow_redirects=False, base_url=base_url) as client:
        answer = sign_in(client, "member")
        assert answer.status_code == 303
        return next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("claims_console="))


def test_the_session_cookie_is_http_only_same_site_and_secure_when_configured(console_app, seeded_db) -> None:
    from api.app import create_app
    from api.console.settings import ConsoleSettings

    plain = _cookie_header(console_app).lower()
    assert "httponly" in plain and "samesite=lax" in plain and "path=/console" in plain and "secure" not in plain
    # Secure cookies (the sign-in form's too) come back only over HTTPS.
    secure = _cookie_header(create_app(seeded_db[0], console_settings=ConsoleSettings(secure_cookie=True)),
                            "https://testserver").lower()
    assert "; secure" in secure


def test_the_settings_come_from_the_environment() -> None:
    import datetime as dt

    from api.console.settings import ConsoleSettings

    settings = ConsoleSettings.from_env({"CLAIMS_CONSOLE_SECURE_COOKIE": "1", "CLAIMS_CONSOLE_IDLE_SECONDS": "60",
                                         "CLAIMS_CONSOLE_SESSION_SECONDS": "3600"})
    assert settings.secure_cookie and settings.policy.idle == dt.timedelta(seconds=60)
    assert settings.policy.absolute == dt.timedelta(hours=1)
    default = ConsoleSettings.from_env({})
    assert not default.secure_cookie and default.policy.idle == dt.timedelta(minutes=30)
