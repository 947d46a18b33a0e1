"""The desk's turns (api.deps.DeskTurn): a worker takes the hospital desk's requests two at a time.

No database here: the turns are taken before a request gets its unit of work, so they
are shown on an app of their own whose endpoint holds its turn until told to finish,
and the desk's routes are shown to take them before their unit of work.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import deps
from api.routers import desk as desk_routes
from store.db import make_engine

DESK_ROUTES = {("POST", "/v1/settlements/direct"), ("POST", "/v1/settlements/preview"),
               ("POST", "/v1/settlements/{settlement_id}/cancel"), ("GET", "/v1/settlements/{settlement_id}/decision")}


def test_four_requests_at_once_two_are_served_while_two_wait_their_turn() -> None:
    app = FastAPI()
    inside, most = [0], [0]
    counted, go = threading.Lock(), threading.Event()

    @app.post("/turn")
    def turn(_turn: deps.DeskTurn) -> dict:
        with counted:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            go.wait(10)
        finally:
            with counted:
                inside[0] -= 1
        return {}

    answers: list[int] = []
    with TestClient(app) as client:
        senders = [threading.Thread(target=lambda: answers.append(client.post("/turn").status_code), daemon=True)
                   for _ in range(4)]
        for sender in senders:
            sender.start()
        try:
            for _ in range(200):  # the first two are in
                if inside[0] >= 2:
                    break
                threading.Event().wait(0.05)
            threading.Event().wait(0.5)  # the other two have arrived by now, and wait outside
            waiting_outside = inside[0]
        finally:
            go.set()  # whatever was seen, every request ends
            for sender in senders:
                sender.join(30)
    assert waiting_outside == deps.DESK_TURNS == 2
    assert sorted(answers) == [200] * 4 and most[0] == 2


def test_the_desks_routes_take_a_turn_and_the_reconciliation_does_not() -> None:
    taking = {(method, route.path) for route in desk_routes.router.routes for method in route.methods
              if any(d.call is deps.desk_turn for d in route.dependant.dependencies)}
    assert taking == DESK_ROUTES
    assert {route.path for route in desk_routes.router.routes} - {path for _, path in DESK_ROUTES} == {"/v1/reconciliation"}
    for route in desk_routes.router.routes:
        calls = [d.call for d in route.dependant.dependencies]
        if deps.desk_turn in calls:
            # The turn first, and the unit of work the desk's own (key, work and commit in one
            # trip to a thread, api.deps.DeskWork): a request waiting for a turn holds no connection.
            assert calls.index(deps.desk_turn) < calls.index(deps.desk_work), route.path
            assert deps.get_session not in calls and deps.get_principal not in calls, route.path


def test_the_units_of_work_a_worker_runs_at_once_fit_each_connection_pool(tmp_path) -> None:
    """Ordinary units of work and desk units at once, each holding a connection: every one of them
    must find one in the pool, else a desk request waits (on SQLite 30 s, then 503) for an
    ordinary request's connection or the other way round."""
    for url in (f"sqlite:///{tmp_path / 'pool.db'}", "postgresql+psycopg://nobody@127.0.0.1:1/none"):
        engine = make_engine(url)  # no connection is made: only the pool's sizes are read
        try:
            room = engine.pool.size() + engine.pool._max_overflow
        finally:
            engine.dispose()
        assert deps.CONCURRENT_UNITS_OF_WORK + deps.DESK_TURNS <= room, url
