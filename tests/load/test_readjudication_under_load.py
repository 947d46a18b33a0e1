"""Re-adjudication while claims arrive, through the real server (``claims serve --workers 2``), both databases.

Before the lock order was one (members in id order, then settlements, then the audit
chain, see ``service.claim_aggregate``), a re-adjudication took each member's lock as
it came to their claim and the audit chain's lock after each claim, while claim
submission takes members first and the audit chain last: on PostgreSQL 26 of 51
requests ended in 503 (deadlock). Here ten members each have eight claims decided
(one of them pended);
thirty claims and two batches for them (in opposite member orders) and six re-adjudication runs
are released at once, just after a new version was published, so
the run that gets the lock first decides every claim anew (pended
ones replaced, decided ones adjusted). Every claim must be decided (201), every run must end 200 or,
on PostgreSQL, 409 while another run holds its lock, and afterwards ``claims check``
and ``claims audit verify`` find nothing wrong; a run started after the others adds
nothing, since each claim already stands as the versions in force decide it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from service import audit, consistency, plans
from service.auth import CLI
from service.plans import PlanBook
from service.simulation import readjudicate
from store.db import make_engine, session_factory
from store.repositories import lock_members

from .conftest import database
from .live import RECEIVED, YEAR, Server, all_at_once, auth, bill, claim_in_process, client, run_cli, seed, send

def _publish_band_five_at(url: str, rate: str) -> None:
    """A version paying band 5 (100,000..200,000) at ``rate``, in force from the first of last year (as an administrator would)."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            default = plans.list_versions(s, CLI)[0][0]
            draft, errors = plans.derive_draft(s, CLI, default.id, [
                {"op": "replace", "path": "/benefits/0/amount/bands/4/rate", "value": rate}])
            assert not errors
            plans.publish(s, CLI, draft.id, dt.date(YEAR, 1, 1))
            s.commit()
    finally:
        engine.dispose()


MEMBERS = [f"P{i:02d}" for i in range(10)]
DECIDED_EACH = 8  # claims per member a run decides again: a run long enough to meet the claims


def test_readjudication_runs_beside_claim_submission_without_deadlock_or_lost_totals(backend: str, tmp_path: Path):
    with database(backend, tmp_path) as url:
        keys = seed(url, MEMBERS, hardship_registered_on=f"{YEAR - 1}-01-10")
        for member in MEMBERS:
            # The first above 50,000.00 (pended for review), the others decided: runs decide both again.
            for k in range(DECIDED_EACH):
                earlier = bill(f"EARLY-{member}-{k}", "150000.00" if k == 0 else "20000.00", patient=member,
                               begndate=f"{YEAR}-02-{k + 1:02d}", enddate=f"{YEAR}-02-{k + 11:02d}",
                               diag_code="C34.900" if k == 0 else "J18.900")
                assert claim_in_process(url, member, earlier) == ("pended" if k == 0 else "approved")
        _publish_band_five_at(url, "0.90")  # so the first run has every claim to decide anew
        with Server(url, tmp_path, workers=2) as server, client(server.base_url) as http:
            settlement_ids: dict[str, list[int]] = {m: [] for m in MEMBERS}
            for n in range(5):
                for member in MEMBERS:
                    posted = send(http, "POST", "/v1/settlements", headers=auth(keys.hospital), json=bill(
                        f"S-{member}-{n}", "3000.00", patient=member, begndate=f"{YEAR}-03-{n + 1:02d}",
                        enddate=f"{YEAR}-03-{n + 6:02d}"))
                    assert posted.status == 201, posted.body
                    settlement_ids[member].append(posted.body["id"])

            def claim(member: str, sid: int):
                body = {"member_id": member, "settlement_id": sid, **RECEIVED}
                return lambda c: send(c, "POST", "/v1/claims", json=body, headers=auth(keys.officer))

            def batch(members: list[str], n: int):
                body = {"claims": [{"member_id": m, "settlement_id": settlement_ids[m][n], **RECEIVED} for m in members]}
                return lambda c: send(c, "POST", "/v1/claims/batch", json=body, headers=auth(keys.officer))

            def readjudicate(c):
                return send(c, "POST", "/v1/readjudications", headers=auth(keys.admin), json={
                    "include_pended": True, "submitted_from": f"{YEAR}-01-01", "submitted_to": f"{YEAR}-12-31"})

            calls = [claim(m, settlement_ids[m][n]) for n in range(3) for m in MEMBERS]
            calls += [batch(MEMBERS, 3), batch(list(reversed(MEMBERS)), 4)]
            runs = [readjudicate] * 6
            answers = all_at_once(server.base_url, calls + runs, timeout=120)

            claimed = answers[:len(calls)]
            refused = [(a.status, a.body or a.error) for a in claimed if a.status != 201]
            assert not refused, f"claims sent beside re-adjudication were not all decided: {refused}"
            outcomes = [a.status for a in answers[len(calls):]]
            allowed = {200, 409} if backend == "postgres" else {200}
            assert set(outcomes) <= allowed and 200 in outcomes, [(a.status, a.body or a.error)
                                                                   for a in answers[len(calls):]]
            if backend == "postgres":
                conflicts = [a.body for a in answers[len(calls):] if a.status == 409]
                assert all(c["type"] == "/problems/conflict" and "running" in c["detail"] for c in conflicts)

            last = readjudicate(http)
            assert last.status == 200 and (last.body["adjustments"], last.body["changes"]) == (0, []), last.body

        checked = run_cli("check", "--db", url)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        verified = run_cli("audit", "verify", "--db", url)
        assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.postgres
def test_a_run_waits_for_a_submission_holding_a_member_instead_of_deadlocking_with_it(tmp_path: Path):
    """The lock order, made to meet on purpose (PostgreSQL; SQLite has one writer at a time).

    A submission holds member Q1's row and will take the audit chain next, as a
    submission does. A run starting then must wait for Q1 before it takes anything the
    submission needs: it locks all its members first and the audit chain last. Taking
    the audit chain after its first claim (Q0) and Q1 after that would deadlock.
    """
    with database("postgres", tmp_path) as url:
        seed(url, ["Q0", "Q1"])
        for member in ("Q0", "Q1"):
            assert claim_in_process(url, member, bill(f"BIG-{member}", "150000.00", patient=member,
                                                      begndate=f"{YEAR}-02-01", enddate=f"{YEAR}-02-11")) == "pended"
        _publish_band_five_at(url, "0.90")
        engine = make_engine(url)
        sessions = session_factory(engine)
        holding, run_started = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def submission() -> None:
            try:
                with sessions() as s:
                    lock_members(s, ["Q1"])
                    holding.set()
                    run_started.wait(10)
                    time.sleep(1.0)  # the run is now waiting for Q1 (or, locking in the wrong order, holds the chain)
                    audit.record(s, CLI, "test.submission", "member", "Q1")
                    s.commit()
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        def run() -> None:
            try:
                with sessions() as s:
                    run_started.set()
                    report = readjudicate(s, CLI, PlanBook(), include_pended=True, submitted_from=None,
                                          submitted_to=None)
                    assert report["pended_redecided"] == 2
                    s.commit()
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=submission, daemon=True)]
        threads[0].start()
        assert holding.wait(10)
        threads.append(threading.Thread(target=run, daemon=True))
        threads[1].start()
        for t in threads:
            t.join(30)
        try:
            assert not any(t.is_alive() for t in threads), "a transaction never finished"
            assert not errors, errors
            with sessions() as s:
                assert consistency.check(s) == [] and audit.verify(s) == []
        finally:
            engine.dispose()
