"""Random sequences of what people do, and the books hold after every step (both databases).

Hypothesis draws a sequence of submissions, reviews, re-adjudications, publications
and retirements, and hardship registrations; after every step ``claims check`` (every
total equals the decisions and adjustments behind it, every claim's status and total
its lines') and ``claims audit verify`` (the hash chain is intact) find nothing. A step
the service refuses (a retirement that would leave a hole, a review of a line someone
already decided) must be refused with a 4xx and change nothing.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service import audit, consistency
from store import models
from tests.api import builders as b
from tests.api.conftest import _reset

MEMBERS = ("M1", "M2", "M3")
_bills = itertools.count(1)

submit = st.tuples(st.just("submit"), st.sampled_from(MEMBERS),
                   st.sampled_from(["800.00", "20000.00", "60000.00", b.HIGH_B]),
                   st.sampled_from([b.PNEUMONIA, b.LUNG_CANCER]), st.integers(2, 11))
review = st.tuples(st.just("review"), st.sampled_from(["approve", "deny", "adjust"]),
                   st.sampled_from(["MA_IP", "MA_DA", "MA_CI", "CIR"]))
readjudicate = st.tuples(st.just("readjudicate"), st.booleans())
publish = st.tuples(st.just("publish"), st.sampled_from(["0.45", "0.55", "0.60"]),
                    st.sampled_from([f"{b.YEAR}-01-01", f"{b.YEAR}-07-01", "2000-01-01"]))
retire = st.tuples(st.just("retire"), st.integers(0, 3))
hardship = st.tuples(st.just("hardship"), st.sampled_from(MEMBERS), st.booleans())
steps = st.lists(st.one_of(submit, submit, review, readjudicate, publish, retire, hardship), min_size=1, max_size=12)


def _snapshot(session) -> tuple:
    counts = tuple(session.scalar(select(func.count()).select_from(t)) for t in
                   (models.Claim, models.DecisionLine, models.Adjustment, models.AuditEntry, models.PlanVersion))
    totals = tuple(session.execute(select(models.Accumulator.member_id, models.Accumulator.benefit,
                                          models.Accumulator.measure, models.Accumulator.scope,
                                          models.Accumulator.value).order_by(models.Accumulator.member_id,
                                                                             models.Accumulator.benefit,
                                                                             models.Accumulator.measure,
                                                                             models.Accumulator.scope)))
    return counts, totals


def _step(client, cast, session, step) -> None:
    admin = b.auth(cast.admin)
    kind = step[0]
    if kind == "submit":
        _, member, amount, diagnosis, month = step
        posted = b.post_settlement(client, cast.admin, patient=member, b=amount, diag_code=diagnosis,
                                   begndate=f"{b.YEAR}-{month:02d}-02", enddate=f"{b.YEAR}-{month:02d}-12",
                                   setl_id=f"SEQ{next(_bills):07d}")
        # Received on paper after every stay of the year, in time for the plan's deadlines.
        b.submit_claim(client, cast.admin, member, posted["id"], submitted_on=f"{b.YEAR}-12-20")
    elif kind == "review":
        _, action, benefit = step
        queue = client.get("/v1/review-queue", headers=admin).json()["items"]
        pended = [(c, ln) for c in queue for ln in c["lines"] if ln["status"] == "pended" and ln["benefit"] == benefit]
        if not pended:
            return
        claim, line = pended[0]
        item = {"benefit": benefit, "action": action, "note": "随机复核"}
        if action == "adjust":
            half = (int(line["amount"].replace(".", "")) + 1) // 2
            item["amount"] = f"{half // 100}.{half % 100:02d}"
        b.review(client, cast.admin, claim["id"], item)
    elif kind == "readjudicate":
        window = {"include_pended": True}
        if step[1]:
            window.update(submitted_from=f"{b.YEAR - 1}-01-01", submitted_to=f"{b.YEAR + 2}-12-31")
        response = client.post("/v1/readjudications", json=window, headers=admin)
        assert response.status_code == 200, response.text
    elif kind == "publish":
        _, rate, effective_from = step
        default = client.get("/v1/plans", headers=admin).json()["items"][0]
        draft = client.post(f"/v1/plans/{default['id']}/derive", headers=admin, json={
            "patch": [{"op": "replace", "path": "/benefits/0/amount/bands/1/rate", "value": rate}]}).json()
        response = client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": effective_from}, headers=admin)
        assert response.status_code in (200, 409), response.text  # 409: a version is already in force from that date
    elif kind == "retire":
        published = [p for p in client.get("/v1/plans", headers=admin).json()["items"] if p["status"] == "published"]
        assert published, "the schedule was left with no published version"
        target = published[step[1] % len(published)]
        before = _snapshot(session)
        response = client.post(f"/v1/plans/{target['id']}/retire", headers=admin)
        assert response.status_code in (200, 409), response.text
        if response.status_code == 409:  # it would have left dates without a plan: nothing changed
            assert _snapshot(session) == before
    elif kind == "hardship":
        _, member, verified = step
        response = client.post(f"/v1/members/{member}/hardship", headers=admin, json={
            "category": "near_dibao", "registered_on": f"{b.YEAR - 1}-06-01", "verified": verified,
            **({"verified_on": f"{b.YEAR - 1}-06-01"} if verified else {})})
        assert response.status_code in (201, 409), response.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_claims_check_and_the_audit_chain_hold_after_every_step(_started, db, session, sequence):
    client, startup = _started
    _reset(db, startup)
    from tests.api.conftest import _make_cast  # the same cast as the ``cast`` fixture, made anew per example

    cast = _make_cast(db)
    for step in sequence:
        _step(client, cast, session, step)
        assert consistency.check(session) == [], step
        assert audit.verify(session) == [], step
