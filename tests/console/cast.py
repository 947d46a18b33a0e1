"""The people and data the console tests work with, made through the services.

Unions R → U1 (members M1, M2) and R → U2 (M3); hospitals H1 and H2 (grade 02); M1 has
an approved claim and a pended one (a bill of 150,000.00 in-policy self-pay pays above
the review threshold: MA_IP and MA_DA are pended); M3 has an approved claim; M2 has a
posted settlement not yet claimed; M1 and M3 have payee accounts (M2 none). One user per
role and scope (two finance officers of R: a payment run's maker and checker), each with
the password ``PASSWORD``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service import claims, payments, registry, settlements, users
from service.auth import CLI, Role
from service.plans import PlanBook, ensure_published_default
from service.schemas import (
    ClaimCreate,
    EnrollmentCreate,
    HospitalCreate,
    MemberCreate,
    PayeeAccountWrite,
    UnionCreate,
)
from store.db import make_engine, session_factory
from tests.builders import certno_for
from tests.load.live import PAPER_NOTE, YEAR, bill

PASSWORD = "correct-horse-battery"
PENDED_B = "150000.00"  # above the review threshold (tests/api/builders.py HIGH_B)

# username -> (role, scope)
USERS = {
    "admin": (Role.ADMIN, {}),
    "officer": (Role.OFFICER, {"union_id": "U1"}),
    "officer_other": (Role.OFFICER, {"union_id": "U2"}),
    "finance": (Role.FINANCE, {"union_id": "R"}),
    "finance_checker": (Role.FINANCE, {"union_id": "R"}),  # the second person who approves a payment run
    "hospital": (Role.HOSPITAL, {"hospital_code": "H1"}),
    "hospital_other": (Role.HOSPITAL, {"hospital_code": "H2"}),
    "member": (Role.MEMBER, {"member_id": "M1"}),
    "member_other": (Role.MEMBER, {"member_id": "M3"}),
}


@dataclass(frozen=True)
class Seeded:
    approved_claim: int  # M1's
    pended_claim: int  # M1's
    other_claim: int  # M3's (union U2)
    settlement: int  # M1's pended claim's, posted by H1
    other_settlement: int  # posted by H2
    unclaimed_setl_id: str  # M2's, posted by H1


def seed(db_url: str) -> Seeded:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            ensure_published_default(s)
            for union, parent, level in (("R", None, "region"), ("U1", "R", "grassroots"), ("U2", "R", "grassroots")):
                registry.create_union(s, CLI, UnionCreate(id=union, name=f"{union} 总工会", parent_id=parent,
                                                          level=level))
            for code in ("H1", "H2"):
                registry.create_hospital(s, CLI, HospitalCreate(code=code, name=f"{code} 医院", grade="02"))
            for member, union, name in (("M1", "U1", "王秀英"), ("M2", "U1", "李建国"), ("M3", "U2", "巴特尔")):
                registry.create_member(s, CLI, MemberCreate(id=member, union_id=union, name=name, gender="F",
                                                            certno=certno_for(member), birth_date=dt.date(1979, 3, 14)))
                for year in (YEAR - 1, YEAR):
                    registry.add_enrollment(s, CLI, member, EnrollmentCreate(
                        period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31),
                        enrolled_on=dt.date(year - 1, 12, 1)))
            # M2 is enrolled this year too, so the hospital desk settles a stay of this year for M2.
            registry.add_enrollment(s, CLI, "M2", EnrollmentCreate(
                period_start=dt.date(YEAR + 1, 1, 1), period_end=dt.date(YEAR + 1, 12, 31),
                enrolled_on=dt.date(YEAR, 12, 1)))
            plans = PlanBook()

            def claim(member: str, setl_id: str, b: str, hospital: str = "H1", start: str = "03-01"):
                row, _ = settlements.post_settlement(s, CLI, bill(
                    setl_id, b, patient=member, begndate=f"{YEAR}-{start}", enddate=f"{YEAR}-{start[:3]}10",
                    hospital=hospital))
                made = claims.submit_claim(s, CLI, plans, ClaimCreate(
                    member_id=member, settlement_id=row.id, submitted_on=dt.date(YEAR, 6, 30), note=PAPER_NOTE))
                return made, row

            approved, _ = claim("M1", "S-APPROVED", "12000.00", start="02-01")
            pended, pended_bill = claim("M1", "S-PENDED", PENDED_B, start="04-01")
            other, other_bill = claim("M3", "S-OTHER", "9000.00", hospital="H2", start="05-01")
            assert approved.status == "approved" and pended.status == "pended", (approved.status, pended.status)
            settlements.post_settlement(s, CLI, bill("S-UNCLAIMED", "8000.00", patient="M2",
                                                     begndate=f"{YEAR}-07-01", enddate=f"{YEAR}-07-05"))
            for member in ("M1", "M3"):  # M2 has none: a payment run leaves M2 out
                payments.set_payee_account(s, CLI, member, PayeeAccountWrite(
                    holder_name=member, bank_name="中国工商银行呼和浩特分行", account_no=f"62220200000000{member[1]}1234"))
            for username, (role, scope) in USERS.items():
                users.create_user(s, CLI, role, username, PASSWORD, **scope)
            s.commit()
            return Seeded(approved.id, pended.id, other.id, pended_bill.id, other_bill.id, "S-UNCLAIMED")
    finally:
        engine.dispose()
