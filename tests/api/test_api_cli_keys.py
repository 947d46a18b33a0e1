"""`claims keys create --expires`, `claims keys list` and `claims keys revoke` (both databases)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store import models
from tests.api.builders import auth
from tests.api.test_api_cli import KEY, claims


def test_keys_list_and_revoke(client: TestClient, database_url: str, session) -> None:
    made = claims("keys", "create", "--role", "admin", "--label", "夜班", "--expires", "2099-01-01", "--db", database_url)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert client.get("/v1/unions", headers=auth(key)).status_code == 200
    row = session.scalar(select(models.ApiKey).where(models.ApiKey.label == "夜班"))
    assert row.expires_at.isoformat().startswith("2098-12-31T16:00:00")  # the day's start in China, in UTC

    listed = claims("keys", "list", "--db", database_url)
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(f"{row.id}\t"))
    assert f"ck_{row.prefix}" in line and "\tadmin\t" in line and "\tactive\t" in line and "夜班" in line
    assert not KEY.search(listed.stdout) and row.key_hash not in listed.stdout

    revoked = claims("keys", "revoke", str(row.id), "--db", database_url)
    assert (revoked.returncode, revoked.stdout.strip()) == (0, f"key {row.id} revoked"), revoked.stderr
    assert client.get("/v1/unions", headers=auth(key)).status_code == 401
    assert f"{row.id}\t" not in claims("keys", "list", "--db", database_url).stdout
    assert "\trevoked\t" in claims("keys", "list", "--all", "--db", database_url).stdout
    assert session.scalar(select(func.count()).select_from(models.AuditEntry)
                          .where(models.AuditEntry.action == "key.revoked")) == 1

    unknown = claims("keys", "revoke", "999999", "--db", database_url)
    assert unknown.returncode == 2 and "no key 999999" in unknown.stderr


def test_keys_create_refuses_a_past_or_zoneless_expiry_and_stores_nothing(client: TestClient, database_url: str,
                                                                           session) -> None:
    before = session.scalar(select(func.count()).select_from(models.ApiKey))
    for expires, says in (("2020-01-01", "--expires: is not in the future"),
                          ("2999-01-01T00:00:00", "give the time's zone"), ("soon", "not a date"),
                          # past the service's days: year 1's midnight in China is before Python's first instant
                          ("0001-01-01", "must be a day from 2000-01-01 to 2100-12-31"),
                          ("9999-12-31T23:59:59-12:00", "--expires: must be at the latest the start of 2100-12-31")):
        made = claims("keys", "create", "--role", "admin", "--expires", expires, "--db", database_url)
        assert made.returncode == 2 and says in made.stderr, made.stderr
        assert not KEY.search(made.stdout + made.stderr)
    assert session.scalar(select(func.count()).select_from(models.ApiKey)) == before


def test_keys_create_refuses_a_label_with_a_control_character_as_the_api_does(database_url: str, session) -> None:
    before = session.scalar(select(func.count()).select_from(models.ApiKey))
    for label in ("夜班\x1b[31m", "\u202e班夜", "x" * 201):
        made = claims("keys", "create", "--role", "admin", "--label", label, "--db", database_url)
        assert made.returncode == 2 and "--label: " in made.stderr, made.stderr
        assert not KEY.search(made.stdout + made.stderr)
    assert session.scalar(select(func.count()).select_from(models.ApiKey)) == before


def test_keys_revoke_of_an_id_no_row_can_have_is_unknown_not_a_traceback(database_url: str) -> None:
    unknown = claims("keys", "revoke", "99999999999999999999", "--db", database_url)
    assert unknown.returncode == 2 and "no key 99999999999999999999" in unknown.stderr, unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_keys_list_revoke_and_audit_anchor_make_no_database_where_there_is_none(tmp_path) -> None:
    missing = tmp_path / "typo.db"
    for args in (("keys", "list"), ("keys", "revoke", "1"), ("audit", "anchor", "--anchors", str(tmp_path / "a.jsonl"))):
        run = claims(*args, "--db", f"sqlite:///{missing}")
        assert run.returncode == 2 and "no database at" in run.stderr, (args, run.stderr)
        assert not missing.exists(), args
