"""Demo data: Inner Mongolia unions, hospitals, members, hardship households, claims.

Everything goes through the same services the API uses (so the demo database holds
nothing the API could not have made), as the command line's administrator.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from claims.identity import with_check_digit
from claims.dates import china_today
from claims.money import format_fen
from service import claims, funds, registry, settlements, users
from service.auth import CLI, Role, create_key
from service.plans import PlanBook, ensure_published_default
from service.schemas import (
    AllocationCreate,
    ClaimCreate,
    EnrollmentCreate,
    HardshipCreate,
    HospitalCreate,
    MemberCreate,
    UnionCreate,
)

# The union tree (domain.md, "The union structure"): the regional federation, its 12
# league and city unions, a few banner and county unions, and the workplace unions
# where members are enrolled. (id, name, region, parent, level)
REGION = ("NMG", "内蒙古自治区总工会", "内蒙古自治区", None, "region")
LEAGUES = [
    ("HHHT", "呼和浩特市总工会", "呼和浩特市"), ("BT", "包头市总工会", "包头市"),
    ("HLBE", "呼伦贝尔市总工会", "呼伦贝尔市"), ("XAM", "兴安盟总工会", "兴安盟"),
    ("TL", "通辽市总工会", "通辽市"), ("CF", "赤峰市总工会", "赤峰市"),
    ("XLGLM", "锡林郭勒盟总工会", "锡林郭勒盟"), ("WLCB", "乌兰察布市总工会", "乌兰察布市"),
    ("EEDS", "鄂尔多斯市总工会", "鄂尔多斯市"), ("BYNE", "巴彦淖尔市总工会", "巴彦淖尔市"),
    ("WH", "乌海市总工会", "乌海市"), ("ALSM", "阿拉善盟总工会", "阿拉善盟"),
]
COUNTIES = [
    ("HHHT-XC", "新城区总工会", "呼和浩特市新城区", "HHHT"),
    ("HHHT-SH", "赛罕区总工会", "呼和浩特市赛罕区", "HHHT"),
    ("BT-KDL", "昆都仑区总工会", "包头市昆都仑区", "BT"),
    ("CF-HS", "红山区总工会", "赤峰市红山区", "CF"),
]
WORKPLACES = [
    ("NMG-JG", "自治区直属机关工会", "内蒙古自治区", "NMG"),
    ("HHHT-XC-RD", "内蒙古电力公司新城供电分公司工会", "呼和浩特市新城区", "HHHT-XC"),
    ("BT-KDL-GT", "包钢集团炼铁厂工会", "包头市昆都仑区", "BT-KDL"),
    ("CF-HS-YY", "赤峰市红山区人民医院工会", "赤峰市红山区", "CF-HS"),
]
UNIONS = (
    [REGION]
    + [(uid, name, region, "NMG", "league") for uid, name, region in LEAGUES]
    + [(uid, name, region, parent, "county") for uid, name, region, parent in COUNTIES]
    + [(uid, name, region, parent, "grassroots") for uid, name, region, parent in WORKPLACES]
)
# Where each workplace's demo members were registered at birth (the first 6 digits of a
# resident identity number, GB/T 2260): 赛罕区, 新城区, 昆都仑区, 红山区.
BIRTH_REGIONS = {"NMG-JG": "150105", "HHHT-XC-RD": "150102", "BT-KDL-GT": "150203", "CF-HS-YY": "150402"}
HOSPITALS = [
    ("H15010001", "内蒙古医科大学附属医院", "02", "呼和浩特市"),
    ("H15010002", "内蒙古自治区人民医院", "02", "呼和浩特市"),
    ("H15010003", "呼和浩特市第一医院", "02", "呼和浩特市"),
    ("H15020001", "包头医学院第一附属医院", "02", "包头市"),
    ("H15020002", "包头市中心医院", "02", "包头市"),
    ("H15040001", "赤峰市医院", "02", "赤峰市"),
    ("H15040002", "赤峰学院附属医院", "03", "赤峰市"),
    ("H15010009", "呼和浩特市新城区社区卫生服务中心", "08", "呼和浩特市"),
    ("P15010001", "内蒙古大药房（中山路店）", "11", "呼和浩特市"),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗乌包敖其"
GIVEN = ["建国", "秀英", "桂英", "玉兰", "志强", "海军", "丽娟", "宝音", "其其格", "巴特尔", "娜仁", "金花", "永刚", "淑珍", "文斌"]
DIAGNOSES = [
    ("C34.900", "肺恶性肿瘤"), ("I63.900", "脑梗死"), ("I21.000", "急性前壁心肌梗死"), ("N18.500", "慢性肾脏病5期"),
    ("C50.900", "乳腺恶性肿瘤"), ("J18.900", "肺炎"), ("K35.800", "急性阑尾炎"), ("E11.900", "2型糖尿病"),
    ("S72.000", "股骨颈骨折"), ("I10.x00", "原发性高血压"), ("K80.200", "胆囊结石"), ("M17.900", "膝关节病"),
]
CATEGORIES = ["near_dibao"] * 6 + ["accident"] * 3 + ["dibao", "dibao_unenrolled"]


@dataclass
class DemoKeys:
    admin: str
    officers: dict[str, str]
    finance: dict[str, str]
    hospitals: dict[str, str]
    members: dict[str, str]
    # Console users, one per role (finance two): label -> (username, password), printed once like the keys.
    users: dict[str, tuple[str, str]] = field(default_factory=dict)


def demo_certno(union_id: str, n: int, birth_date: dt.date, gender: str) -> str:
    """A resident identity number for the ``n``-th demo member of a union (GB 11643).

    Region, birth date, then a 3-digit sequence whose last digit is odd for men and
    even for women, then the check digit. Regions differ by union and the sequence by
    ``n``, so every demo member's number is different.
    """
    sequence = 10 + 2 * n + (1 if gender == "M" else 0)
    if sequence > 999:
        raise ValueError(f"at most 494 demo members a union, not {n + 1}")
    return with_check_digit(f"{BIRTH_REGIONS[union_id]}{birth_date:%Y%m%d}{sequence:03d}")


def _bill(rng: random.Random, code: str, grade: str, setl_id: str, admitted: dt.date, patient: MemberCreate) -> dict:
    """A settlement of ``patient`` that adds up (default-plan.md section 2), amounts in fen then printed."""
    stay = rng.randint(1, 24)
    total = rng.randint(3_000, 160_000) * 100 + rng.randint(0, 99)
    own = total * rng.randint(2, 10) // 100
    over = total * rng.randint(0, 3) // 100
    pre = total * rng.randint(2, 8) // 100
    scope = total - own - over - pre
    hifp = scope * rng.randint(55, 80) // 100
    hifob = scope * rng.randint(0, 10) // 100 if total > 5_000_000 else 0
    funds = hifp + hifob
    person = total - funds
    acct = min(person, rng.randint(0, 200_000))
    diag = rng.choice(DIAGNOSES)
    med_type = "21" if rng.random() < 0.85 else "14"
    return {
        "fixmedins_code": code, "hosp_lv": grade, "setl_id": setl_id, "insutype": "310", "med_type": med_type,
        "certno": patient.certno, "psn_cert_type": "01", "psn_name": patient.name,
        "begndate": admitted.isoformat(), "enddate": (admitted + dt.timedelta(days=stay)).isoformat(),
        "medfee_sumamt": format_fen(total), "fulamt_ownpay_amt": format_fen(own), "overlmt_selfpay": format_fen(over),
        "preselfpay_amt": format_fen(pre), "inscp_scp_amt": format_fen(scope), "hifp_pay": format_fen(hifp),
        "hifob_pay": format_fen(hifob), "fund_pay_sumamt": format_fen(funds), "psn_part_amt": format_fen(person),
        "acct_pay": format_fen(acct), "psn_cash_pay": format_fen(person - acct),
        "diagnoses": [{"diag_code": diag[0], "diag_name": diag[1], "maindiag_flag": "1"}],
    }


def seed(session: Session, plans: PlanBook, today: dt.date | None = None, members_per_union: int = 12,
         seed_value: int = 2026) -> DemoKeys:
    """Fill an empty database with demo data and make one key per role; returns the keys."""
    rng = random.Random(seed_value)
    ensure_published_default(session)
    today = today or china_today()
    year = today.year
    for uid, name, region, parent, level in UNIONS:
        registry.create_union(session, CLI, UnionCreate(id=uid, name=name, region=region, parent_id=parent, level=level))
    for code, name, grade, region in HOSPITALS:
        registry.create_hospital(session, CLI, HospitalCreate(code=code, name=name, grade=grade, region=region))
    # The year's relief money (funds.md §1): central and regional funds, the charity
    # programme, and Hohhot's own; other leagues' shares fall to charity.
    for source, amount, league in (("central", "2000000.00", None), ("region", "1200000.00", None),
                                   ("charity", "300000.00", None), ("league", "200000.00", "HHHT")):
        funds.record_allocation(session, CLI, plans, AllocationCreate(
            source=source, year=year, league_id=league, amount=amount, reference=f"演示拨款-{source}-{year}",
            received_on=dt.date(year, 1, 2) if today >= dt.date(year, 1, 2) else today))

    members: list[str] = []
    people: dict[str, MemberCreate] = {}
    for uid, *_ in WORKPLACES:
        for i in range(members_per_union):
            mid = f"{uid}-{i + 1:04d}"
            gender = rng.choice("FM")
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            born = dt.date(rng.randint(1966, 2000), rng.randint(1, 12), rng.randint(1, 28))
            people[mid] = MemberCreate(id=mid, union_id=uid, name=name, gender=gender, birth_date=born,
                                       certno=demo_certno(uid, i, born, gender))
            registry.create_member(session, CLI, people[mid])
            first_year = year - rng.choice([0, 0, 1, 2, 3])
            for y in range(first_year, year + 1):
                enrolled_on = dt.date(y - 1, 12, rng.randint(1, 28)) if y > first_year or rng.random() < 0.7 \
                    else dt.date(y, rng.randint(1, 6), rng.randint(1, 28))
                registry.add_enrollment(session, CLI, mid, EnrollmentCreate(
                    period_start=dt.date(y, 1, 1), period_end=dt.date(y, 12, 31), enrolled_on=enrolled_on))
            if rng.random() < 0.3:
                verified = rng.random() < 0.7
                registry.register_hardship(session, CLI, mid, HardshipCreate(
                    category=rng.choice(CATEGORIES), registered_on=dt.date(year - 1, rng.randint(1, 12), 1),
                    verified=verified, verified_on=dt.date(year - 1, 12, 15) if verified else None,
                    note="入户核查" if verified else "待入户核查"))
            members.append(mid)

    # Settlements posted by hospitals and claims submitted on them, through the services.
    graded = [h for h in HOSPITALS if h[2] != "11"]
    n = 0
    horizon = max(1, (today - dt.date(year, 1, 1)).days - 30)
    for mid in members:
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            n += 1
            code, _, grade, _ = rng.choice(graded) if rng.random() < 0.95 else HOSPITALS[-1]
            admitted = dt.date(year, 1, 1) + dt.timedelta(days=rng.randint(0, horizon))
            # Early in January the year has no past yet: every stay must have ended by today.
            admitted = min(admitted, today - dt.timedelta(days=30))
            bill = _bill(rng, code, grade, f"S{year}{n:06d}", admitted, people[mid])
            row, _ = settlements.post_settlement(session, CLI, bill)
            submitted = min(today, dt.date.fromisoformat(bill["enddate"]) + dt.timedelta(days=rng.randint(1, 20)))
            # Past claims came in over the year: recorded as paper claims with the date they arrived.
            claims.submit_claim(session, CLI, plans, ClaimCreate(member_id=mid, settlement_id=row.id, submitted_on=submitted,
                                                                 note="演示数据：纸质申请，按工会收件日期登记"))
    # One settlement posted but not yet claimed, for trying POST /v1/claims by hand with
    # the first demo member's key (the bill is theirs).
    code, _, grade, _ = HOSPITALS[0]
    settlements.post_settlement(session, CLI, _bill(rng, code, grade, f"S{year}-UNCLAIMED",
                                                    min(dt.date(year, 1, 10), today - dt.timedelta(days=30)),
                                                    people[members[0]]))

    _, admin = create_key(session, Role.ADMIN, label="demo administrator")
    # An officer at each level of the tree: the region sees everything, a city its
    # counties and workplaces, a county its workplaces, a workplace its own members.
    officers = {uid: create_key(session, Role.OFFICER, union_id=uid, label=f"demo officer {uid}")[1]
                for uid in ("NMG", "HHHT", "HHHT-XC", "HHHT-XC-RD")}
    # Two finance officers of the region: a payment run is approved by another person.
    finance = {f"NMG#{n}": create_key(session, Role.FINANCE, union_id="NMG", label=f"demo finance NMG #{n}")[1]
               for n in (1, 2)}
    hospitals = {code: create_key(session, Role.HOSPITAL, hospital_code=code, label=f"demo hospital {code}")[1]
                 for code, *_ in HOSPITALS[:2]}
    member_keys = {mid: create_key(session, Role.MEMBER, member_id=mid, label=f"demo member {mid}")[1]
                   for mid in (members[0], members[1])}
    # label -> (role, username, scope); two finance officers, so a payment run is approved by another person.
    people_users = {
        "admin": (Role.ADMIN, "demo-admin", {}), "officer": (Role.OFFICER, "demo-officer", {"union_id": "HHHT"}),
        "finance": (Role.FINANCE, "demo-finance", {"union_id": "NMG"}),
        "finance#2": (Role.FINANCE, "demo-finance-2", {"union_id": "NMG"}),
        "hospital": (Role.HOSPITAL, "demo-hospital", {"hospital_code": HOSPITALS[0][0]}),
        "member": (Role.MEMBER, "demo-member", {"member_id": members[0]}),
    }
    console_users = {label: demo_user(session, role, username, **scope)
                     for label, (role, username, scope) in people_users.items()}
    session.flush()
    return DemoKeys(admin, officers, finance, hospitals, member_keys, console_users)


def demo_user(session: Session, role: Role, username: str, **scope: str) -> tuple[str, str]:
    """A console user with a generated password (the secrets module's, not the demo's seeded random)."""
    password = secrets.token_urlsafe(12)
    users.create_user(session, CLI, role, username, password, **scope)
    return username, password
