"""The command line around the service: `claims keys create` and `claims demo --seed-only`."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from claims.identity import parse_certno
from store import models
from store.db import make_engine
from tests.api.builders import auth, create_union

KEY = re.compile(r"ck_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")


def claims(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("claims")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]
    env = {k: v for k, v in os.environ.items() if k != "CLAIMS_DATABASE_URL"}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=env)


def test_keys_create_prints_a_key_once_that_authenticates(client: TestClient, database_url: str, session) -> None:
    made = claims("keys", "create", "--role", "admin", "--label", "值班管理员", "--db", database_url)

    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert KEY.fullmatch(key), made.stdout
    assert key not in made.stderr
    assert client.get("/v1/unions", headers=auth(key)).status_code == 200
    stored = session.scalar(select(models.ApiKey).where(models.ApiKey.label == "值班管理员"))
    assert stored.role == "admin" and key.split("_", 2)[2] not in stored.key_hash


def test_keys_create_makes_an_officer_key_scoped_to_its_union(client: TestClient, database_url: str, cast) -> None:
    made = claims("keys", "create", "--role", "officer", "--union", "U2", "--db", database_url)

    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert [u["id"] for u in client.get("/v1/unions", headers=auth(key)).json()["items"]] == ["U2"]
    assert client.get("/v1/members/M1", headers=auth(key)).status_code == 404  # another union's member: as unknown


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "officer"], "--union"),
        (["--role", "hospital", "--union", "U1"], "--union"),
        (["--role", "member", "--member", "M404"], "M404"),
        (["--role", "king"], "--role"),
    ],
)
def test_keys_create_refuses_a_key_without_its_scope_and_prints_no_key(client, database_url: str, args, says) -> None:
    made = claims("keys", "create", *args, "--db", database_url)
    assert made.returncode == 2
    assert says in made.stderr
    assert not KEY.search(made.stdout + made.stderr)


def test_demo_seed_only_builds_a_demo_database_and_prints_a_key_per_role(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    made = claims("demo", "--seed-only", "--db", str(db))

    assert made.returncode == 0, made.stderr
    printed = re.findall(r"^\s+(admin|officer|finance|hospital|member)\b *(\S*)\s+(ck_\S+)$", made.stdout, re.M)
    assert {role for role, _, _ in printed} == {"admin", "officer", "finance", "hospital", "member"}, made.stdout
    assert all(KEY.fullmatch(key) for _, _, key in printed)
    admin = next(key for role, _, key in printed if role == "admin")
    officers = {scope: key for role, scope, key in printed if role == "officer"}
    # An officer at each level of the union tree: the region, a city, a county, a workplace.
    assert set(officers) == {"NMG", "HHHT", "HHHT-XC", "HHHT-XC-RD"}

    app = create_app(str(db), migrate=False)
    try:
        with TestClient(app) as client:
            everything = client.get("/v1/claims", headers=auth(admin)).json()
            assert everything["total"] > 10
            assert "approved" in {c["status"] for c in everything["items"]}
            members = {m["id"]: m["union_id"] for m in
                       client.get("/v1/members", params={"page_size": 200}, headers=auth(admin)).json()["items"]}
            # The region's officer sees every workplace's claims; the others only their part of the tree.
            seen = {}
            for union, officer in officers.items():
                own = client.get("/v1/claims", params={"page_size": 200}, headers=auth(officer)).json()
                assert own["total"] > 0
                seen[union] = {members[c["member_id"]] for c in own["items"]}
            assert seen["NMG"] == {"NMG-JG", "HHHT-XC-RD", "BT-KDL-GT", "CF-HS-YY"}
            assert seen["HHHT"] == seen["HHHT-XC"] == seen["HHHT-XC-RD"] == {"HHHT-XC-RD"}
            # The demo database is a working one: the admin can add to it.
            create_union(client, admin, "DEMO-NEW")
    finally:
        app.state.db.dispose()
    engine = make_engine(str(db))
    with engine.connect() as conn:
        assert conn.execute(select(models.Settlement.id).limit(1)).first() is not None
        # Every demo member has a valid number of their own, and every claimed bill is its claimant's.
        numbers = conn.execute(select(models.Member.certno)).scalars().all()
        assert len(set(numbers)) == len(numbers) > 40
        assert all(parse_certno(n) == n for n in numbers)
        claimed = conn.execute(select(models.Member.certno, models.Settlement.certno, models.Settlement.record)
                               .join(models.Claim, models.Claim.member_id == models.Member.id)
                               .join(models.Settlement, models.Settlement.id == models.Claim.settlement_id)).all()
        assert claimed and all(member == bill == record["certno"] for member, bill, record in claimed)
    engine.dispose()


def test_serve_refuses_a_provincial_med_type_that_is_not_a_code(tmp_path: Path) -> None:
    made = claims("serve", "--provincial-med-types", "9901,99 02", "--db", str(tmp_path / "claims.db"))
    assert made.returncode == 2
    assert "--provincial-med-types" in made.stderr and "99 02" in made.stderr
    assert not (tmp_path / "claims.db").exists()  # refused before anything was made


@pytest.mark.parametrize("today", ["2026-01-03", "2026-06-30", "2025-12-31"])
def test_the_demo_seeds_on_any_day_of_the_year_with_every_stay_ended(tmp_path: Path, today: str) -> None:
    """Early in January the demo year has no past yet; no demo bill may end after its day."""
    from service import demo
    from service.plans import PlanBook

    app = create_app(str(tmp_path / "demo.db"))
    try:
        with app.state.sessions() as session:
            demo.seed(session, PlanBook(), today=dt.date.fromisoformat(today))
            session.commit()
            assert max(session.scalars(select(models.Settlement.enddate))) <= dt.date.fromisoformat(today)
            assert session.scalar(select(func.count()).select_from(models.Claim)) > 10
    finally:
        app.state.db.dispose()


@pytest.mark.parametrize("command", [["check"], ["audit", "verify"], ["keys", "create", "--role", "admin"], ["serve"]])
def test_a_command_pointed_at_a_database_that_does_not_exist_says_so_and_makes_none(tmp_path: Path, command) -> None:
    missing = tmp_path / "typo.db"
    made = claims(*command, "--db", str(missing))
    assert made.returncode == 2, made.stdout + made.stderr
    assert f"no database at {missing}" in made.stderr
    assert not missing.exists()


def test_make_run_keeps_the_demo_database_and_fresh_makes_it_anew(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert claims("demo", "--seed-only", "--db", str(db)).returncode == 0
    engine = make_engine(str(db))
    with engine.begin() as conn:  # something tried in the demo
        conn.execute(models.Union.__table__.insert().values(id="TRIED", name="试过的工会", region=""))
        claims_made = conn.scalar(select(func.count()).select_from(models.Claim))

    again = claims("demo", "--seed-only", "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert "kept" in again.stdout
    (admin,) = re.findall(r"^\s+admin\s+(ck_\S+)$", again.stdout, re.M)
    with engine.connect() as conn:
        assert conn.scalar(select(models.Union.name).where(models.Union.id == "TRIED")) == "试过的工会"
    app = create_app(str(db), migrate=False)
    try:
        with TestClient(app) as client:
            assert client.get("/v1/claims", headers=auth(admin)).json()["total"] == claims_made
    finally:
        app.state.db.dispose()

    engine.dispose()  # its pooled connection still has the old file open
    fresh = claims("demo", "--seed-only", "--fresh", "--db", str(db))
    assert fresh.returncode == 0, fresh.stderr
    engine = make_engine(str(db))
    with engine.connect() as conn:
        assert conn.scalar(select(models.Union.id).where(models.Union.id == "TRIED")) is None
        assert conn.scalar(select(func.count()).select_from(models.Claim)) == claims_made
    engine.dispose()


def test_help_is_plain_text_that_reads_the_same_in_a_pipe() -> None:
    for command in ([], ["serve"], ["keys"], ["audit"], ["demo"]):
        shown = claims(*command, "--help")
        assert shown.returncode == 0, shown.stderr
        assert "Usage: claims" in shown.stdout
        assert not set("╭╰│─…") & set(shown.stdout), shown.stdout
