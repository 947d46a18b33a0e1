"""Fixtures for rules administration: a migrated SQLite database and an API client."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from service import registry, settlements
from service.auth import CLI, Role, create_key
from service.schemas import EnrollmentCreate, HospitalCreate, MemberCreate, UnionCreate
from tests.builders import certno_for


@pytest.fixture()
def admin_app(tmp_path):
    app = create_app(str(tmp_path / "admin.db"))
    with app.state.sessions() as session:
        registry.create_union(session, CLI, UnionCreate(id="HHHT", name="呼和浩特市总工会"))
        registry.create_hospital(session, CLI, HospitalCreate(code="H15010001", name="内蒙古医科大学附属医院", grade="02"))
        for member_id, gender in (("W1", "F"), ("M1", "M")):
            registry.create_member(session, CLI, MemberCreate(id=member_id, union_id="HHHT", gender=gender,
                                                              birth_date=dt.date(1980, 5, 1),
                                                              certno=certno_for(member_id)))
            for year in (2025, 2026):
                registry.add_enrollment(session, CLI, member_id, EnrollmentCreate(
                    period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31), enrolled_on=dt.date(year - 1, 12, 1)))
        _, key = create_key(session, Role.ADMIN, label="test admin")
        session.commit()
    app.state.admin_key = key
    return app


@pytest.fixture()
def client(admin_app):
    with TestClient(admin_app) as c:
        c.headers["Authorization"] = f"Bearer {admin_app.state.admin_key}"
        yield c


def bill(setl_id: str, begndate: str, enddate: str, diag: str, b_yuan: int = 14_000, patient: str = "W1") -> dict:
    """An inpatient bill of member ``patient`` whose in-policy self-pay B is ``b_yuan`` (all checks of section 2 hold)."""
    scope = 40_000 + b_yuan
    return {
        "fixmedins_code": "H15010001", "hosp_lv": "02", "setl_id": setl_id, "insutype": "310", "med_type": "21",
        "certno": certno_for(patient),
        "begndate": begndate, "enddate": enddate,
        "medfee_sumamt": f"{scope + 5000}.00", "fulamt_ownpay_amt": "3000.00", "overlmt_selfpay": "0.00",
        "preselfpay_amt": "2000.00", "inscp_scp_amt": f"{scope}.00", "hifp_pay": "40000.00",
        "fund_pay_sumamt": "40000.00", "psn_part_amt": f"{scope + 5000 - 40000}.00", "acct_pay": "0.00",
        "psn_cash_pay": f"{scope + 5000 - 40000}.00",
        "diagnoses": [{"diag_code": diag, "diag_name": "", "maindiag_flag": "1"}],
    }


def post_bill(app, **kwargs) -> int:
    with app.state.sessions() as session:
        row, _ = settlements.post_settlement(session, CLI, bill(**kwargs))
        session.commit()
        return row.id
