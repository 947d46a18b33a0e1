"""Twenty relief claims at once through ``claims serve --workers 2`` never charge a source past its allocation.

Twenty hardship members (dibao, verified) of the workplace union U1 under the league L1
each send one lung-cancer bill of B = 1,000.00 at the same moment: MA_IP pays 400.00
and CIR 90% of the 600.00 left, 540.00, split central 270.00, region 162.00, league
108.00. Central money covers nine lines' shares and a half; nothing else is allocated
but charity, which takes what the region and the league (and central, once it runs
out) cannot: 7 x 270.00 + 2,000.00 of it. Whatever the order the claims are decided
in, every line is the same, so exactly as many are paid as the money covers:

- the first 9 take 270.00 from central and 270.00 from charity each (2,430.00);
- the 10th takes central's last 135.00 and 405.00 from charity (charity 2,835.00 used);
- the 11th and later need all 540.00 from charity, which has 1,055.00 left: one more
  line (charity 3,375.00 used, 515.00 left), then the other nine wait, FUND_EXHAUSTED.

So 11 lines are paid and 9 wait; central is charged 2,565.00 of 2,565.00 and charity
3,375.00 of 3,890.00, never more, and the pools' charges equal the lines' and the ledger's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from service import consistency, funds, registry, settlements
from service.auth import CLI, Role, create_key
from service.plans import PlanBook, ensure_published_default
from service.schemas import AllocationCreate, EnrollmentCreate, HardshipCreate, HospitalCreate, MemberCreate, UnionCreate
from store import models
from store.db import make_engine, session_factory
from tests.builders import certno_for

from .conftest import database
from .live import RECEIVED, YEAR, Server, all_at_once, auth, bill, send

LUNG_CANCER = "C34.900"
CLAIMS_AT_ONCE = 20
MEMBERS = [f"R{i:02d}" for i in range(CLAIMS_AT_ONCE)]


def _seed(url: str) -> tuple[str, list[int]]:
    """The tree R -> L1 -> U1, the members on the hardship register, their bills posted, the allocations."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            ensure_published_default(s)
            for union, parent, level in (("R", None, "region"), ("L1", "R", "league"), ("U1", "L1", "grassroots")):
                registry.create_union(s, CLI, UnionCreate(id=union, name=f"{union} 工会", parent_id=parent, level=level))
            registry.create_hospital(s, CLI, HospitalCreate(code="H1", name="内蒙古医科大学附属医院", grade="02"))
            ids = []
            for member in MEMBERS:
                registry.create_member(s, CLI, MemberCreate(id=member, union_id="U1", gender="F",
                                                            certno=certno_for(member), birth_date=dt.date(1979, 3, 14)))
                for year in (YEAR - 1, YEAR):
                    registry.add_enrollment(s, CLI, member, EnrollmentCreate(
                        period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31),
                        enrolled_on=dt.date(year - 1, 12, 1)))
                on = dt.date(YEAR - 1, 6, 1)
                registry.register_hardship(s, CLI, member, HardshipCreate(category="dibao", registered_on=on,
                                                                          verified=True, verified_on=on))
                row, _ = settlements.post_settlement(s, CLI, bill(f"RELIEF-{member}", "1000.00", patient=member,
                                                                  begndate=f"{YEAR}-05-02", enddate=f"{YEAR}-05-12",
                                                                  diag_code=LUNG_CANCER))
                ids.append(row.id)
            for source, amount in (("central", "2565.00"), ("charity", "3890.00")):
                funds.record_allocation(s, CLI, PlanBook(), AllocationCreate(
                    source=source, year=YEAR, amount=amount, reference=f"{source}-{YEAR}",
                    received_on=dt.date(YEAR, 1, 15)))
            key = create_key(s, Role.OFFICER, union_id="U1", label="load officer")[1]
            s.commit()
        return key, ids
    finally:
        engine.dispose()


def test_twenty_relief_claims_at_once_never_charge_a_source_past_its_allocation(backend: str, tmp_path: Path):
    with database(backend, tmp_path) as url:
        officer, settlement_ids = _seed(url)
        with Server(url, tmp_path, workers=2) as server:
            answers = all_at_once(server.base_url, [
                (lambda c, m=m, sid=sid: send(c, "POST", "/v1/claims", headers=auth(officer),
                                               json={"member_id": m, "settlement_id": sid, **RECEIVED}))
                for m, sid in zip(MEMBERS, settlement_ids)])
        assert [a.status for a in answers] == [201] * CLAIMS_AT_ONCE, [(a.status, a.body, a.error) for a in answers]
        relief = [next(ln for ln in a.body["lines"] if ln["benefit"] == "CIR") for a in answers]
        assert all(ln["amount"] == "540.00" for ln in relief)
        paid = [ln for ln in relief if ln["status"] == "approved"]
        waiting = [ln for ln in relief if ln["status"] == "pended"]
        assert (len(paid), len(waiting)) == (11, 9)
        assert all([r["code"] for r in ln["reasons"]] == ["FUND_EXHAUSTED"] for ln in waiting)

        engine = make_engine(url)
        try:
            with session_factory(engine)() as s:
                pools = {p.source: (p.allocated, p.charged) for p in s.scalars(select(models.FundPool))
                         if p.allocated or p.charged}
                assert pools == {"central": (256500, 256500), "charity": (389000, 337500)}
                c = models.LineCharge
                by_source = dict(s.execute(select(c.source, func.sum(c.amount)).where(c.fund == "relief")
                                           .group_by(c.source)).all())
                assert {k: int(v) for k, v in by_source.items()} == {"central": 256500, "charity": 337500}
                assert consistency.check(s) == []
        finally:
            engine.dispose()
