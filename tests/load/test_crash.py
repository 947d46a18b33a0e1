"""A server killed in the middle of a load of claims (SIGKILL to every process), on SQLite and PostgreSQL.

Four clients post settlements and claim them for three members (so claims of one
member queue on the member's lock) until the server has answered enough claims; then
the whole process group of ``claims serve --workers 2`` is SIGKILLed, with requests in
flight. A new server on the same database must then give back every claim that was
answered 201 exactly as it was answered, and nothing may be half-written: every
stored claim has all its lines and its audit entry, ``claims check`` finds every
accumulator equal to the decisions behind it, and ``claims audit verify`` finds the
chain intact.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from store import models
from store.db import make_engine, session_factory

from .live import RECEIVED, YEAR, Server, auth, bill, client, run_cli, seed, send

MEMBERS = ["K1", "K2", "K3"]
CLIENTS = 4
PER_CLIENT = 60  # settlement + claim pairs at most, per client
KILL_AFTER = 16  # claims answered before the kill
DEADLINE = 90  # seconds of load at most
BENEFITS = 4  # MA_IP, MA_DA, MA_CI, CIR: every claim decides every line


@dataclass
class Client:
    """What one load client saw."""

    answered: list[dict] = field(default_factory=list)  # claims answered 201
    unexpected: list[str] = field(default_factory=list)  # answers that should not have come
    cut_off: bool = False  # a request of its failed because the server was gone


def _load(number: int, base_url: str, keys, stop: threading.Event, deadline: float, seen: Client) -> None:
    with client(base_url, timeout=30) as http:
        for i in range(PER_CLIENT):
            if stop.is_set() or time.monotonic() > deadline:
                return
            b = f"{1000 + 37 * (number * PER_CLIENT + i)}.00"
            member = MEMBERS[(number + i) % len(MEMBERS)]
            settlement = bill(f"CRASH-{number}-{i}", b, patient=member, begndate=f"{YEAR}-05-{1 + i % 20:02d}",
                              enddate=f"{YEAR}-05-{6 + i % 20:02d}")
            posted = send(http, "POST", "/v1/settlements", json=settlement, headers=auth(keys.hospital))
            if posted.status is None:
                seen.cut_off = True
                return
            if posted.status != 201:
                seen.unexpected.append(f"settlement {posted.status}: {posted.body}")
                return
            claimed = send(http, "POST", "/v1/claims", headers=auth(keys.officer),
                           json={"member_id": member, "settlement_id": posted.body["id"], **RECEIVED})
            if claimed.status is None:
                seen.cut_off = True
                return
            if claimed.status != 201:
                seen.unexpected.append(f"claim {claimed.status}: {claimed.body}")
                return
            seen.answered.append(claimed.body)


def _decision(claim: dict) -> tuple:
    return (claim["id"], claim["member_id"], claim["settlement_id"], claim["status"], claim["total"],
            [(ln["benefit"], ln["status"], ln["amount"], [r["code"] for r in ln["reasons"]]) for ln in claim["lines"]])


def test_a_server_killed_mid_load_keeps_every_answered_claim_and_half_writes_none(database_url: str, tmp_path: Path):
    keys = seed(database_url, MEMBERS, hardship_registered_on=f"{YEAR - 1}-06-01")
    server = Server(database_url, tmp_path, workers=2).start()
    stop = threading.Event()
    deadline = time.monotonic() + DEADLINE
    clients = [Client() for _ in range(CLIENTS)]
    threads = [threading.Thread(target=_load, args=(n, server.base_url, keys, stop, deadline, clients[n]), daemon=True)
               for n in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        while sum(len(c.answered) for c in clients) < KILL_AFTER and time.monotonic() < deadline \
                and any(t.is_alive() for t in threads):
            time.sleep(0.02)
        server.kill()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        server.stop()

    answered = [claim for c in clients for claim in c.answered]
    assert not [u for c in clients for u in c.unexpected]
    assert len(answered) >= KILL_AFTER, f"only {len(answered)} claims were answered before the deadline"
    assert any(c.cut_off for c in clients), "the server was killed after the load had ended"

    with Server(database_url, tmp_path, workers=2) as restarted, client(restarted.base_url) as http:
        for claim in answered:
            stored = send(http, "GET", f"/v1/claims/{claim['id']}", headers=auth(keys.admin))
            assert stored.status == 200, f"claim {claim['id']} was answered 201, then lost: {stored.body}"
            assert _decision(stored.body) == _decision(claim)

    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            lines = dict(s.execute(select(models.DecisionLine.claim_id, func.count())
                                   .group_by(models.DecisionLine.claim_id)).all())
            claim_ids = list(s.scalars(select(models.Claim.id)))
            audited = set(s.scalars(select(models.AuditEntry.entity_id)
                                    .where(models.AuditEntry.action == "claim.adjudicated")))
    finally:
        engine.dispose()
    assert len(claim_ids) >= len(answered)
    assert {i: lines.get(i, 0) for i in claim_ids} == {i: BENEFITS for i in claim_ids}
    assert {str(i) for i in claim_ids} == audited

    check = run_cli("check", "--db", database_url)
    assert check.returncode == 0, check.stdout + check.stderr
    verify = run_cli("audit", "verify", "--db", database_url)
    assert verify.returncode == 0, verify.stdout + verify.stderr
