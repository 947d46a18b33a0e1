"""Synthetic case files: realistic, reproducible claims for tests, demos and simulations.

``generate_cases(n, seed)`` streams ``n`` cases in the batch case format
(spec/case-format.md) drawn from one seeded ``random.Random``: the same arguments give
the same cases, byte for byte, on the same Python. It holds only a small window of
members in memory, so a million-case simulation costs no more memory than a thousand.

What it imitates (figures in ../shared/spec/domain.md; where none is published, an
assumption said so below):

- hospitals of Inner Mongolia, coded ``H`` + area (1501 Hohhot ... 1529 Alxa) + number,
  mostly grades 01-05, a few pharmacies (grade 11) for outpatient drugs;
- members with 1-3 yearly enrollments, some with a gap, some joining mid-year (so
  waiting periods occur), a few never enrolled;
- about 7% of members on the hardship register, categories in the 2018 register's
  proportions (dibao 6.67%, dibao_unenrolled 3.24%, near_dibao 60.18%, accident
  29.91%), some unverified, some revoked;
- three kinds of claimant (assumption): ordinary (one or two stays), chronic (monthly
  special-outpatient bills, dialysis, chemotherapy) and catastrophic (repeated costly
  stays, which is what drives the caps);
- bills that add up exactly (default-plan.md section 2), built in integer fen from a
  cost, the policy scope, the funds (pooled fund with its deductible, rate and yearly
  cap, large-amount subsidy, resident serious-illness insurance, civil-servant and
  enterprise supplements, medical assistance for dibao households) and the personal
  account; the in-policy self-pay B runs from 0 to, rarely, several hundred thousand;
- about 35% of main diagnoses from the 21-disease catalog, and near misses that are
  not (C44 skin cancer, C79 secondaries, Z94.5 skin graft, N18.4);
- unique (fixmedins_code, setl_id), except about 0.4% deliberate re-posts of a bill;
  setl_id and member ids carry the seed, so files made with different seeds can be
  concatenated into one bigger file.

Only the standard library: it must run wherever the engine runs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claims.money import format_fen

# --------------------------------------------------------------------------- tables

# (code, name, grade, weight). Grade 11 are pharmacies (定点药店): outpatient only.
HOSPITALS: tuple[tuple[str, str, str, int], ...] = (
    ("H15010001", "内蒙古医科大学附属医院", "01", 40),
    ("H15010002", "内蒙古自治区人民医院", "02", 40),
    ("H15010003", "呼和浩特市第一医院", "02", 25),
    ("H15010004", "内蒙古医科大学第二附属医院", "03", 15),
    ("H15010005", "呼和浩特市蒙医中医医院", "03", 12),
    ("H15010006", "内蒙古自治区精神卫生中心", "03", 6),
    ("H15010007", "赛罕区人民医院", "05", 10),
    ("H15010008", "托克托县医院", "05", 6),
    ("H15010009", "武川县医院", "06", 3),
    ("H15010010", "新城区海东路社区卫生服务中心", "08", 2),
    ("H15020001", "包头医学院第一附属医院", "02", 25),
    ("H15020002", "包头市中心医院", "02", 20),
    ("H15020003", "内蒙古包钢医院", "02", 18),
    ("H15020004", "包头市第四医院", "04", 8),
    ("H15020005", "土默特右旗医院", "05", 5),
    ("H15030001", "乌海市人民医院", "03", 8),
    ("H15040001", "赤峰市医院", "02", 20),
    ("H15040002", "赤峰学院附属医院", "02", 12),
    ("H15040003", "宁城县中心医院", "05", 6),
    ("H15050001", "通辽市医院", "02", 12),
    ("H15050002", "内蒙古民族大学附属医院", "02", 10),
    ("H15060001", "鄂尔多斯市中心医院", "02", 15),
    ("H15060002", "准格尔旗人民医院", "05", 6),
    ("H15070001", "呼伦贝尔市人民医院", "02", 10),
    ("H15070002", "满洲里市人民医院", "05", 4),
    ("H15080001", "巴彦淖尔市医院", "02", 8),
    ("H15090001", "乌兰察布市中心医院", "02", 8),
    ("H15220001", "兴安盟人民医院", "02", 6),
    ("H15250001", "锡林郭勒盟医院", "02", 6),
    ("H15290001", "阿拉善盟中心医院", "03", 3),
)
PHARMACIES: tuple[tuple[str, str, str, int], ...] = (
    ("H15010101", "内蒙古国大药房呼和浩特中山路店", "11", 3),
    ("H15020101", "包头市九州通大药房青山店", "11", 2),
    ("H15040101", "赤峰市同仁堂药店", "11", 1),
)
PSYCHIATRIC_HOSPITAL = HOSPITALS[5]
REGIONAL_CENTRES = HOSPITALS[:3] + HOSPITALS[10:12]
HOSPITALS_BY_AREA = {
    area: tuple(h for h in HOSPITALS if h[0][1:5] == area) for area in sorted({h[0][1:5] for h in HOSPITALS})
}

# Main diagnoses in the 21-disease catalog (critical-illness-21.csv), with weights.
CATALOG_DIAGNOSES: tuple[tuple[str, str, int], ...] = (
    ("C34.900", "肺恶性肿瘤", 12),
    ("C16.900", "胃恶性肿瘤", 6),
    ("C18.900", "结肠恶性肿瘤", 5),
    ("C22.000", "肝细胞癌", 5),
    ("C50.900", "乳腺恶性肿瘤", 6),
    ("C53.900", "宫颈恶性肿瘤", 3),
    ("C15.900", "食管恶性肿瘤", 3),
    ("C61.x00", "前列腺恶性肿瘤", 2),
    ("C92.000", "急性髓样白血病", 2),
    ("I21.900", "急性心肌梗死", 8),
    ("I21.401", "急性非ST段抬高型心肌梗死", 3),
    ("I63.900", "脑梗死", 12),
    ("I61.900", "脑出血", 4),
    ("N18.500", "慢性肾脏病5期", 8),
    ("N18.001", "终末期肾病", 2),
    ("Z94.001", "肾移植状态", 1),
    ("Z94.400", "肝移植状态", 1),
    ("D61.900", "再生障碍性贫血", 1),
    ("D66.x00", "遗传性第VIII因子缺乏", 1),
    ("M32.100", "系统性红斑狼疮累及器官", 1),
    ("G70.000", "重症肌无力", 1),
    ("K72.000", "急性和亚急性肝衰竭", 1),
    ("K74.600", "肝硬化失代偿期", 2),
    ("D33.200", "脑良性肿瘤", 1),
    ("F20.900", "精神分裂症", 3),
    ("F31.900", "双相情感障碍", 1),
    ("Q21.100", "房间隔缺损", 1),
    ("T29.300", "多部位三度烧伤", 1),
    ("G20.x00", "帕金森病", 1),
    ("G12.200", "运动神经元病", 1),
    ("G30.900", "阿尔茨海默病", 1),
    ("B20.600", "HIV病导致的肺孢子菌肺炎", 1),
    ("I27.000", "原发性肺动脉高压", 1),
    ("I71.000", "主动脉夹层", 1),
)
# Common main diagnoses outside the catalog, near misses included.
OTHER_DIAGNOSES: tuple[tuple[str, str, int], ...] = (
    ("J18.900", "肺炎", 12),
    ("I10.x00", "原发性高血压", 6),
    ("E11.900", "2型糖尿病", 8),
    ("K80.100", "胆囊结石伴胆囊炎", 5),
    ("M51.202", "腰椎间盘突出", 6),
    ("S72.000", "股骨颈骨折", 3),
    ("K35.800", "急性阑尾炎", 4),
    ("I25.103", "冠状动脉粥样硬化性心脏病", 9),
    ("J44.100", "慢性阻塞性肺病伴急性加重", 6),
    ("N20.000", "肾结石", 3),
    ("H25.900", "老年性白内障", 4),
    ("I20.000", "不稳定型心绞痛", 5),
    ("K29.700", "胃炎", 3),
    ("G45.900", "短暂性脑缺血发作", 2),
    ("I50.900", "心力衰竭", 3),
    ("M17.900", "膝关节病", 3),
    ("N18.400", "慢性肾脏病4期", 1),  # not N18.5: outside the catalog
    ("C44.300", "面部皮肤恶性肿瘤", 1),  # C44 is excluded from CI01
    ("C79.500", "骨继发恶性肿瘤", 1),  # C77-C79 are excluded from CI01
    ("Z94.500", "皮肤移植状态", 1),  # Z94.5 is excluded from CI04
)
# Secondary diagnoses (maindiag_flag "0").
COMORBIDITIES: tuple[tuple[str, str], ...] = (
    ("I10.x00", "原发性高血压"),
    ("E11.900", "2型糖尿病"),
    ("E78.500", "高脂血症"),
    ("K76.000", "脂肪肝"),
    ("J44.900", "慢性阻塞性肺病"),
    ("D64.900", "贫血"),
)
PSYCHIATRIC = ("F20", "F25", "F31")
# Chronic special-outpatient (门诊特殊病, med_type 14) main diagnoses; catalog ones first.
CHRONIC_CATALOG = (("N18.500", "慢性肾脏病5期", 5), ("C50.900", "乳腺恶性肿瘤", 2), ("C34.900", "肺恶性肿瘤", 2),
                   ("F20.900", "精神分裂症", 3), ("Z94.001", "肾移植状态", 1), ("I63.900", "脑梗死", 1))
CHRONIC_OTHER = (("E11.900", "2型糖尿病", 5), ("I10.x00", "原发性高血压", 4), ("I25.103", "冠状动脉粥样硬化性心脏病", 2),
                 ("J44.100", "慢性阻塞性肺病伴急性加重", 1))

HARDSHIP_CATEGORIES = (("dibao", 667), ("dibao_unenrolled", 324), ("near_dibao", 6018), ("accident", 2991))

# Funds (assumptions in the spirit of Inner Mongolia's 2024 employee and resident schemes).
EMPLOYEE_POOLED_CAP = 150_000_00  # fen a year, basic pooled fund (hifp_pay)
EMPLOYEE_LARGE_CAP = 400_000_00  # fen a year, large-amount subsidy (hifob_pay), pays 90%
RESIDENT_POOLED_CAP = 100_000_00
RESIDENT_SERIOUS_THRESHOLD = 15_000_00  # resident serious-illness insurance (hifmi_pay) pays 60% above
RESIDENT_SERIOUS_CAP = 300_000_00
PLAN_YEARS = (2024, 2025, 2026)

_FIRST_DAY = dt.date(2016, 1, 1)


_CUMULATIVE: dict[int, tuple[tuple, list[int]]] = {}  # id(table) -> (table, cumulative weights)


def _weighted(rng: random.Random, table: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    """A row of a constant table, by the weight in its last column."""
    entry = _CUMULATIVE.get(id(table))
    if entry is None:  # the entry keeps the table alive, so its id cannot be reused
        entry = _CUMULATIVE[id(table)] = (table, list(itertools.accumulate(row[-1] for row in table)))
    return rng.choices(table, cum_weights=entry[1])[0]


# --------------------------------------------------------------------------- members


@dataclass(slots=True)
class _Stay:
    begndate: dt.date
    med_type: str
    catalog: bool
    repost: bool = False  # the hospital posts the member's previous bill again


@dataclass(slots=True)
class _Member:
    id: str
    gender: str
    birth_date: dt.date
    kind: str  # ordinary, chronic, catastrophic
    insutype: str
    enrollments: list[dict[str, str]]
    hardship: dict[str, Any] | None
    home: tuple[tuple[str, str, str, int], ...]  # hospitals of the member's area
    civil_servant: bool
    supplementary: bool
    stays: deque[_Stay] = field(default_factory=deque)
    pooled_used: dict[int, int] = field(default_factory=dict)  # fen of each fund used per calendar year
    large_used: dict[int, int] = field(default_factory=dict)
    chronic_code: tuple[str, str] | None = None
    last_case: dict[str, Any] | None = None


# Claimant kinds (assumption): share among members off and on the hardship register,
# and the mean number of claims each makes in the file.
KINDS = ("ordinary", "chronic", "catastrophic")
KIND_WEIGHTS = {False: (82, 14, 4), True: (55, 30, 15)}
CLAIMS_MEAN = {"ordinary": 1.8, "chronic": 4.5, "catastrophic": 6.0}
NATURAL_MEAN = 2.4  # about what the kinds above give per member
REPOST_SHARE = 0.004


def _enrollments(rng: random.Random) -> list[dict[str, str]]:
    """1-3 calendar-year periods; renewals enroll in the previous November or December."""
    if rng.random() < 0.03:
        return []
    last = 2026 if rng.random() < 0.85 else 2025
    count = rng.choices((1, 2, 3), weights=(35, 30, 35))[0]
    years = list(range(last - count + 1, last + 1))
    if count >= 2 and rng.random() < 0.12:  # a lapsed year: back after a gap
        years = [years[0] - 1, *years[1:]] if years[0] > PLAN_YEARS[0] else [years[0], *years[2:]]
    out = []
    previous = None
    for year in years:
        start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
        if previous == year - 1 or rng.random() < 0.65:
            enrolled_on = start - dt.timedelta(days=rng.randint(3, 60))
        else:  # joining mid-year: the waiting period runs from enrolling
            enrolled_on = start + dt.timedelta(days=rng.randint(5, 270))
        out.append({"period_start": start.isoformat(), "period_end": end.isoformat(),
                    "enrolled_on": enrolled_on.isoformat()})
        previous = year
    return out


def _hardship(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() >= 0.07:
        return None
    category = _weighted(rng, HARDSHIP_CATEGORIES)[0]
    registered = _FIRST_DAY + dt.timedelta(days=rng.randint(0, 3900))  # 2016 .. autumn 2026
    revoked = registered + dt.timedelta(days=rng.randint(90, 1500)) if rng.random() < 0.10 else None
    return {"category": category, "verified": rng.random() < 0.88, "registered_on": registered.isoformat(),
            "revoked_on": revoked.isoformat() if revoked else None}


def _claim_window(enrollments: list[dict[str, str]], rng: random.Random) -> tuple[dt.date, dt.date]:
    """Admissions fall in the membership, starting a little before it (not enrolled yet)."""
    if not enrollments:
        year = rng.choice(PLAN_YEARS)
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    first = enrollments[0]
    start = max(dt.date.fromisoformat(first["period_start"]), dt.date.fromisoformat(first["enrolled_on"]))
    return start - dt.timedelta(days=20), dt.date.fromisoformat(enrollments[-1]["period_end"])


def _count(rng: random.Random, mean: float) -> int:
    """A geometric number of claims (at least 1) with the given mean."""
    p = 1 / max(1.0, mean)
    k = 1
    while rng.random() > p and k < 400:
        k += 1
    return k


def _member(rng: random.Random, seed: int, index: int) -> _Member:
    hardship = _hardship(rng)
    # Hardship often follows illness: registered members are more often chronic or catastrophic.
    kind = rng.choices(KINDS, weights=KIND_WEIGHTS[hardship is not None])[0]
    area = _weighted(rng, HOSPITALS)[0][1:5]
    member = _Member(
        id=f"M{seed}-{index:07d}",
        gender="M" if rng.random() < 0.55 else "F",
        birth_date=dt.date(1960, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 45)),
        kind=kind,
        insutype="310" if rng.random() < 0.93 else "390",
        enrollments=_enrollments(rng),
        hardship=hardship,
        home=HOSPITALS_BY_AREA[area],
        civil_servant=rng.random() < 0.04,
        supplementary=rng.random() < 0.08,
    )
    if kind == "chronic":
        member.chronic_code = _weighted(rng, CHRONIC_CATALOG if rng.random() < 0.55 else CHRONIC_OTHER)[:2]
    return member


def _plan_stays(rng: random.Random, member: _Member, claims: int) -> None:
    """When the member's claims happen: spread over the membership or, for a
    catastrophic claimant, bunched into eight months, which is how caps are reached."""
    lo, hi = _claim_window(member.enrollments, rng)
    if member.kind == "catastrophic" and (hi - lo).days > 240:
        lo = lo + dt.timedelta(days=rng.randint(0, (hi - lo).days - 240))
        hi = lo + dt.timedelta(days=240)
    chronic_in_catalog = member.chronic_code is not None and member.chronic_code in [c[:2] for c in CHRONIC_CATALOG]
    # Long-stay psychiatric patients are mostly readmitted, rarely seen as outpatients.
    chronic_care = (35, 65, 0) if member.chronic_code and member.chronic_code[0].startswith(PSYCHIATRIC) else (60, 35, 5)
    for d in sorted(rng.randint(0, (hi - lo).days) for _ in range(claims)):
        begndate = lo + dt.timedelta(days=d)
        if member.stays and rng.random() < REPOST_SHARE:
            member.stays.append(_Stay(begndate, "", False, repost=True))
            continue
        if member.kind == "chronic":
            med_type = rng.choices(("14", "21", "11"), weights=chronic_care)[0]
            catalog = chronic_in_catalog and med_type != "11"
        elif member.kind == "catastrophic":
            med_type = rng.choices(("21", "14"), weights=(85, 15))[0]
            catalog = rng.random() < 0.85
        else:
            med_type = rng.choices(("21", "14", "11"), weights=(80, 12, 8))[0]
            catalog = med_type != "11" and rng.random() < 0.22
        member.stays.append(_Stay(begndate, med_type, catalog))


# --------------------------------------------------------------------------- bills


def _diagnoses(rng: random.Random, member: _Member, stay: _Stay) -> list[dict[str, str]]:
    if member.chronic_code and stay.med_type != "11" and (stay.med_type == "14" or rng.random() < 0.6):
        code, name = member.chronic_code
    elif stay.catalog:
        code, name, _ = _weighted(rng, CATALOG_DIAGNOSES)
    else:
        code, name, _ = _weighted(rng, OTHER_DIAGNOSES)
    r = rng.random()
    if r < 0.12 and "x" not in code:
        code = f"{code}x001"  # the national 医保版 extension, e.g. C34.900x001
    elif r < 0.15:
        code = code.replace(".", "").lower()  # some hospital systems drop the dot
    out = [{"diag_code": code, "diag_name": name, "maindiag_flag": "1"}]
    for extra_code, extra_name in rng.sample(COMORBIDITIES, rng.choices((0, 1, 2), weights=(50, 35, 15))[0]):
        out.append({"diag_code": extra_code, "diag_name": extra_name, "maindiag_flag": "0"})
    return out


def _cost_and_stay(rng: random.Random, member: _Member, stay: _Stay, main: str) -> tuple[int, int]:
    """Total cost in fen and length of stay in days."""

    def lognormal(median: float, sigma: float) -> float:
        return median * math.exp(rng.gauss(0.0, sigma))

    if stay.med_type == "11":
        return int(min(max(lognormal(250, 0.8), 20), 5_000) * 100), 0
    if stay.med_type == "14":
        if main.upper().startswith("N18"):
            yuan = lognormal(6_000, 0.3)  # a month of dialysis
        elif stay.catalog:
            yuan = lognormal(9_000, 0.8)  # chemotherapy, anti-rejection drugs
        else:
            yuan = lognormal(1_500, 0.9)
        return int(min(max(yuan, 50), 200_000) * 100), (29 if rng.random() < 0.4 else 0)
    if main.upper().startswith(PSYCHIATRIC):
        days = rng.randint(20, 120)
        return int(days * lognormal(320, 0.25) * 100), days
    if member.kind == "catastrophic":
        yuan, days = lognormal(100_000, 0.8), int(lognormal(20, 0.6))
    elif stay.catalog:
        yuan, days = lognormal(35_000, 0.8), int(lognormal(13, 0.6))
    else:
        yuan, days = lognormal(9_000, 0.75), int(lognormal(7, 0.6))
    return int(min(max(yuan, 300), 3_000_000) * 100), min(days, 150)


def _share(amount: int, permille: int) -> int:
    return amount * permille // 1000


def _hospital(rng: random.Random, member: _Member, med_type: str, main: str) -> tuple[str, str, str, int]:
    if med_type in ("11", "14") and rng.random() < (0.2 if med_type == "11" else 0.08):
        return _weighted(rng, PHARMACIES)
    if med_type == "21" and main.upper().startswith(PSYCHIATRIC) and rng.random() < 0.7:
        return PSYCHIATRIC_HOSPITAL
    if rng.random() < 0.75:
        return _weighted(rng, member.home)
    return _weighted(rng, REGIONAL_CENTRES)  # referred


def _bill(rng: random.Random, member: _Member, stay: _Stay, setl_no: str) -> dict[str, Any]:
    diagnoses = _diagnoses(rng, member, stay)
    main = diagnoses[0]["diag_code"]
    code, name, grade, _ = _hospital(rng, member, stay.med_type, main)
    total, los = _cost_and_stay(rng, member, stay, main)
    begndate = stay.begndate
    enddate = begndate + dt.timedelta(days=los)
    upcoming = next((s for s in member.stays if not s.repost), None)
    if upcoming is not None and enddate >= upcoming.begndate:  # stays do not overlap
        enddate = max(begndate, upcoming.begndate - dt.timedelta(days=1))

    # Outside the lists, over the price limit, class-B co-payment; the rest is in scope.
    own = _share(total, rng.randint(50, 250) if member.kind == "catastrophic" else rng.randint(0, 120))
    over = 0 if rng.random() < 0.8 else _share(total, rng.randint(1, 20))
    pre = _share(total, rng.randint(20, 100))
    scope = total - own - over - pre
    funds = dict.fromkeys(("hifp_pay", "hifob_pay", "hifmi_pay", "cvlserv_pay", "hifes_pay", "maf_pay", "oth_pay"), 0)
    year = begndate.year
    insutype = member.insutype
    if stay.med_type == "11":
        deductible = min(scope, 800_00)  # outpatient pooling barely pays
    elif stay.med_type == "14":
        deductible = 0
    else:
        deductible = {"01": 1200_00, "02": 1000_00, "03": 800_00, "04": 800_00}.get(grade, 500_00)
    eligible = max(0, scope - deductible)
    if insutype == "310":
        rate = {"01": 850, "02": 850, "03": 880, "04": 880}.get(grade, 900)
        if (begndate - member.birth_date).days >= 60 * 365:
            rate += 50  # retirees
        room = EMPLOYEE_POOLED_CAP - member.pooled_used.get(year, 0)
        covered = min(eligible, room * 1000 // rate)
        funds["hifp_pay"] = _share(covered, rate)
        large_room = EMPLOYEE_LARGE_CAP - member.large_used.get(year, 0)
        funds["hifob_pay"] = min(_share(eligible - covered, 900), large_room)
        member.large_used[year] = member.large_used.get(year, 0) + funds["hifob_pay"]
    else:
        rate = rng.randint(550, 750)
        room = RESIDENT_POOLED_CAP - member.pooled_used.get(year, 0)
        funds["hifp_pay"] = min(_share(eligible, rate), room)
        above = scope - funds["hifp_pay"] - RESIDENT_SERIOUS_THRESHOLD
        if above > 0 and stay.med_type == "21":
            funds["hifmi_pay"] = min(_share(above, 600), RESIDENT_SERIOUS_CAP)
    member.pooled_used[year] = member.pooled_used.get(year, 0) + funds["hifp_pay"]

    left = max(0, scope - sum(funds.values()))
    if member.civil_servant and insutype == "310":
        funds["cvlserv_pay"] = _share(left, 600)
    elif member.supplementary and insutype == "310":
        funds["hifes_pay"] = min(_share(left, 400), 20_000_00)
    left = max(0, scope - sum(funds.values()))
    hardship = member.hardship
    if hardship and hardship["category"] in ("dibao", "dibao_unenrolled") and rng.random() < 0.8:
        # Medical assistance for dibao households; now and then it covers everything, and
        # even some of what was outside the lists (so the funds exceed the policy scope).
        funds["maf_pay"] = left if rng.random() < 0.1 else _share(left, 500)
        if rng.random() < 0.05:
            funds["maf_pay"] += _share(own, 300)
    r = rng.random()
    if r < 0.01:
        funds["oth_pay"] = max(0, scope - sum(funds.values()))  # e.g. a third party paid it all
    elif r < 0.02:
        funds["oth_pay"] = _share(max(0, scope - sum(funds.values())), rng.randint(100, 900))

    fund_total = sum(funds.values())
    personal = total - fund_total
    account = 0
    if insutype == "310" and rng.random() < 0.45:
        account = min(personal, rng.randint(0, 3_000_00 if stay.med_type == "21" else 800_00))

    def when(day: dt.date, hour: int) -> str:
        if rng.random() < 0.25:  # some hospital systems send a time of day
            return f"{day.isoformat()} {hour:02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        return day.isoformat()

    bill: dict[str, Any] = {
        "fixmedins_code": code,
        "fixmedins_name": name,
        "hosp_lv": grade,
        "setl_id": f"{code[1:5]}{begndate:%Y%m%d}{setl_no}",
        "insutype": insutype,
        "med_type": stay.med_type,
        "begndate": when(begndate, rng.randint(7, 20)),
        "enddate": when(enddate, rng.randint(8, 17)),
        "medfee_sumamt": format_fen(total),
        "fulamt_ownpay_amt": format_fen(own),
        "overlmt_selfpay": format_fen(over),
        "preselfpay_amt": format_fen(pre),
        "inscp_scp_amt": format_fen(scope),
    }
    bill.update((k, format_fen(v)) for k, v in funds.items())
    bill.update(
        fund_pay_sumamt=format_fen(fund_total),
        psn_part_amt=format_fen(personal),
        acct_pay=format_fen(account),
        psn_cash_pay=format_fen(personal - account),
        diagnoses=diagnoses,
    )
    return bill


def _submitted_on(rng: random.Random, enddate: dt.date) -> dt.date:
    """Most claims come within a month of discharge; a few very late."""
    delay = rng.choices(((1, 30), (31, 120), (121, 400), (401, 700)), weights=(75, 20, 4, 1))[0]
    return enddate + dt.timedelta(days=rng.randint(*delay))


# --------------------------------------------------------------------------- the stream

_WINDOW = 48  # members claiming at the same time: interleaves them in the file


def generate_cases(n: int, seed: int = 0, members: int | None = None) -> Iterator[dict]:
    """Stream ``n`` cases; ``members`` (1..n) fixes how many distinct members claim.

    Each member's claims come in admission order, interleaved with other members'.
    Memory stays bounded by a window of members, whatever ``n`` is.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if members is not None and not (1 <= members <= max(n, 1)):
        raise ValueError("members must be between 1 and n: every member makes at least one claim")
    rng = random.Random(seed)
    active: list[_Member] = []
    opened = 0
    planned = 0  # claims given to the members opened so far; never more than n
    setl_no = 0
    for i in range(n):
        while len(active) < _WINDOW and planned < n and (members is None or opened < members):
            member = _member(rng, seed, opened + 1)
            mean = CLAIMS_MEAN[member.kind]
            if members is None:
                k = min(_count(rng, mean), n - planned)
            else:  # scale to the wanted claims per member; the last member takes the rest
                left = members - opened
                k = _count(rng, mean * (n - planned) / left / NATURAL_MEAN)
                k = n - planned if left == 1 else max(1, min(k, n - planned - (left - 1)))
            _plan_stays(rng, member, k)
            active.append(member)
            opened += 1
            planned += k
        slot = rng.randrange(len(active))
        member = active[slot]
        stay = member.stays.popleft()
        if not member.stays:
            active[slot] = active[-1]
            active.pop()
        case_id = f"syn{seed}-{i + 1:07d}"
        if stay.repost:
            case = member.last_case
            case["case_id"] = case_id
            later = dt.date.fromisoformat(case["submitted_on"]) + dt.timedelta(days=rng.randint(0, 20))
            case["submitted_on"] = later.isoformat()
            yield case
            continue
        setl_no += 1
        bill = _bill(rng, member, stay, f"{seed}{setl_no:09d}")
        case = {
            "case_id": case_id,
            "submitted_on": _submitted_on(rng, dt.date.fromisoformat(bill["enddate"][:10])).isoformat(),
            "member": {"id": member.id, "gender": member.gender, "birth_date": member.birth_date.isoformat()},
            "enrollments": [dict(e) for e in member.enrollments],
            "hardship": dict(member.hardship) if member.hardship else None,
            "bill": bill,
        }
        if member.stays and member.stays[0].repost:  # keep a copy the consumer cannot change
            member.last_case = json.loads(json.dumps(case))
        yield case


def write_case_file(path: str | Path, n: int, seed: int = 0, members: int | None = None) -> Path:
    """Write ``n`` generated cases to ``path``, one JSON object a line (UTF-8)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as out:
        for case in generate_cases(n, seed, members):
            out.write(json.dumps(case, ensure_ascii=False))
            out.write("\n")
    return path


if __name__ == "__main__":  # python -m claims.synthetic OUT.jsonl N [SEED]
    import sys

    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python -m claims.synthetic OUT.jsonl N [SEED]")
    write_case_file(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) == 4 else 0)
