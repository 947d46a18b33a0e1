"""Fixtures of the console tests: an app on a fresh seeded database, clients signed in as each user."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.settings import ConsoleSettings
from service.users import Lockout
from tests.console.cast import PASSWORD, Seeded, seed
from tests.databases import fresh_database

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("console")) as url:
        yield url, seed(url)


@pytest.fixture(scope="module")
def console_app(seeded_db):
    # Generous lockout: these tests sign in many times from one address; the lockout has its own tests.
    return create_app(seeded_db[0], console_settings=ConsoleSettings(
        lockout=Lockout.make("1000/minute", "1000/minute")))


@pytest.fixture
def seeded(seeded_db) -> Seeded:
    return seeded_db[1]


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD):
    """Sign in through the form as a browser does; returns the answer to the POST."""
    page = client.get("/console/sign-in")
    return client.post("/console/sign-in", data={"username": username, "password": password,
                                                 "csrf_token": csrf_of(page.text), "next": "/console"},
                       follow_redirects=False)


@pytest.fixture(scope="module")
def _sessions(console_app) -> Iterator[dict[str, TestClient]]:
    clients: dict[str, TestClient] = {}
    yield clients
    for c in clients.values():
        c.close()


@pytest.fixture
def signed_in(console_app, _sessions: dict[str, TestClient]) -> Iterator[Callable[..., TestClient]]:
    """``signed_in("officer")``: a client with that user's session, kept for the module (an argon2id
    check per sign-in is slow on purpose); ``fresh=True``: a new session of its own."""
    own: list[TestClient] = []

    def make(username: str, fresh: bool = False) -> TestClient:
        if not fresh and username in _sessions:
            return _sessions[username]
        client = TestClient(console_app, follow_redirects=False)
        if username != "nobody":
            answer = sign_in(client, username)
            assert answer.status_code == 303, answer.text[:500]
        (own.append(client) if fresh else _sessions.__setitem__(username, client))
        return client

    yield make
    for c in own:
        c.close()


# ----------------------------------------------------------------------------- the browser

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (scripts/ensure-browser.sh); Playwright's download is unreachable


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium; a missing browser fails the browser tests (never skips them)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser.sh (make test does)")
    import os

    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses to run as root
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """A laptop's screen (1366×768) and a Chinese browser."""
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}, "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai"}
