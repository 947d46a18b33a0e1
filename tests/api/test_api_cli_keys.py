"""`claims keys create --expires`, `claims keys list` and `claims keys revoke` (both databases)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store import models
from tests.api.builders import auth
from tests.api.test_api_cli import KEY, claims


def test_keys_list_and_revoke(client: TestClient, database_url: str, session) -> None:
    made = claims("keys", "create", "--role", "admin", "--label", "夜班", "--expires", "2999-01-01", "--db", database_url)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert client.get("/v1/unions", headers=auth(key)).status_code == 200
    row = session.scalar(select(models.ApiKey).where(models.ApiKey.label == "夜班"))
    assert row.expires_at.isoformat().startswith("2998-12-31T16:00:00")  # the day's start in China, in UTC

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
                          ("2999-01-01T00:00:00", "give the time's zone"), ("soon", "not a date")):
        made = claims("keys", "create", "--role", "admin", "--expires", expires, "--db", database_url)
        assert made.returncode == 2 and says in made.stderr, made.stderr
        assert not KEY.search(made.stdout + made.stderr)
    assert session.scalar(select(func.count()).select_from(models.ApiKey)) == before
