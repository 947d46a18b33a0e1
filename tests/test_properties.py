"""Properties of the plan that must hold for any claims, not just the worked examples.

Claims go in as case-format dicts through ``rules.batch.adjudicate_lines``, the path of
the batch CLI; what was paid is summed here from the decisions' output, never read
from the engine's own accumulators. Cases come from hypothesis strategies (which go
looking for the edges: caps, B of 0, funds above the policy scope) and from
``claims.synthetic`` (a realistic population, whose own promises are checked first).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims.synthetic import generate_cases, write_case_file
from rules.batch import adjudicate_lines
from rules.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
ENGINE = Engine()  # one engine serves every test: it stores nothing between claims
ANOTHER_ENGINE = Engine()  # built from its own copy of the plan
CATALOG = ENGINE.plan.catalogs["critical_illness_21"]

# Hypothesis profiles: small examples, no per-example deadline (CPU steal here is noisy).
settings.register_profile("claims-properties", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("claims-populations", max_examples=12, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROPERTIES = settings.get_profile("claims-properties")
POPULATIONS = settings.get_profile("claims-populations")

# The plan's caps (default-plan.md sections 4-7), written out here on purpose.
MA_IP_CAP = 500_000_00
MA_DA_MAX_DAYS = 180
MA_DA_DAILY = {1: 10_00, 2: 20_00, 3: 30_00}
CIR_CAP = {"dibao": 60_000_00, "dibao_unenrolled": 60_000_00, "near_dibao": 40_000_00, "accident": 0}
COUNTING = ("approved", "pended")
AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
           "hifp_pay", "hifob_pay", "hifmi_pay", "cvlserv_pay", "hifes_pay", "maf_pay", "oth_pay",
           "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay")
FUNDS = AMOUNTS[5:12]


# ------------------------------------------------------------------ helpers


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def fen(amount: str) -> int:
    return int(Decimal(amount) * 100)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


def decide(cases: Iterable[dict[str, Any]], engine: Engine = ENGINE) -> list[dict[str, Any]]:
    """Decisions as the CLI writes them (to_json), for cases in file order, fresh ledger."""
    return [d.to_json() for d in adjudicate_lines(engine, [json.dumps(c, ensure_ascii=False) for c in cases])]


def in_policy_self_pay(bill: dict[str, Any]) -> int:
    """B, from the bill itself: max(0, inscp_scp_amt - fund_pay_sumamt)."""
    return max(0, fen(bill["inscp_scp_amt"]) - fen(bill["fund_pay_sumamt"]))


def renewing_enrollments() -> list[dict[str, str]]:
    return [{"period_start": f"{y}-01-01", "period_end": f"{y}-12-31", "enrolled_on": f"{y - 1}-12-01"}
            for y in (2025, 2026)]


def bill_with_base(setl_id: str, admitted: dt.date, base: int, *, los: int = 3, med_type: str = "21",
                   diag: str = "J18.900", fund: int = 3_000_00, outside: int = 800_00) -> dict[str, Any]:
    """A consistent bill whose B is exactly ``base`` fen."""
    total = base + fund + outside
    return bill_from(setl_id, admitted, los, med_type, diag, total=total, own=outside, over=0, pre=0,
                     funds={"hifp_pay": fund}, account=0)


def bill_from(setl_id: str, admitted: dt.date, los: int, med_type: str, diag: str, *, total: int, own: int,
              over: int, pre: int, funds: dict[str, int], account: int) -> dict[str, Any]:
    fund_total = sum(funds.values())
    personal = total - fund_total
    assert personal >= 0 and 0 <= account <= personal
    amounts = {"medfee_sumamt": total, "fulamt_ownpay_amt": own, "overlmt_selfpay": over, "preselfpay_amt": pre,
               "inscp_scp_amt": total - own - over - pre, **{f: funds.get(f, 0) for f in FUNDS},
               "fund_pay_sumamt": fund_total, "psn_part_amt": personal, "acct_pay": account,
               "psn_cash_pay": personal - account}
    return {
        "fixmedins_code": "H15010002", "fixmedins_name": "内蒙古自治区人民医院", "hosp_lv": "02",
        "setl_id": setl_id, "insutype": "310", "med_type": med_type,
        "begndate": admitted.isoformat(), "enddate": (admitted + dt.timedelta(days=los)).isoformat(),
        **{k: yuan(v) for k, v in amounts.items()},
        "diagnoses": [{"diag_code": diag, "diag_name": "", "maindiag_flag": "1"}],
    }


def case(case_id: str, member_id: str, bill: dict[str, Any], *, enrollments=None, hardship=None,
         submitted_on: dt.date | None = None) -> dict[str, Any]:
    submitted = submitted_on or day(bill["enddate"]) + dt.timedelta(days=7)
    return {"case_id": case_id, "submitted_on": submitted.isoformat(),
            "member": {"id": member_id, "gender": "F", "birth_date": "1975-06-01"},
            "enrollments": renewing_enrollments() if enrollments is None else enrollments,
            "hardship": hardship, "bill": bill}


def lines_of(decision: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["benefit"]: line for line in decision["lines"]}


def paid(line: dict[str, Any]) -> int:
    return fen(line["amount"]) if line["status"] in COUNTING else 0


def period_of(enrollments: list[dict[str, str]], admitted: dt.date) -> tuple[str, int] | None:
    """The enrollment period containing the admission, and the membership year (section 3)."""
    periods = {(day(e["period_start"]), day(e["period_end"])) for e in enrollments}
    current = next(((s, e) for s, e in periods if s <= admitted <= e), None)
    if current is None:
        return None
    ends = {e: s for s, e in periods}
    year, start = 1, current[0]
    while start - dt.timedelta(days=1) in ends:
        year, start = year + 1, ends[start - dt.timedelta(days=1)]
    return f"{current[0]}..{current[1]}", year


class CapCheck:
    """Sums each member's payouts from decisions and checks every cap of the plan.

    Also: a line cut by a cap (CAP_APPLIED) brings the total exactly to the cap, and a
    line denied for a reached cap comes only once the total is exactly at it.
    """

    def __init__(self) -> None:
        self.ma_ip: collections.Counter = collections.Counter()  # (member, period) -> fen
        self.ma_da_days: collections.Counter = collections.Counter()  # (member, period) -> days
        self.ma_ci: collections.Counter = collections.Counter()  # (member, period, disease) -> grants
        self.cir: collections.Counter = collections.Counter()  # (member, calendar year) -> fen
        self.cir_cap: dict[tuple[str, int], int] = {}

    def add(self, c: dict[str, Any], decision: dict[str, Any]) -> None:
        if decision["status"] in ("rejected", "invalid"):
            return
        bill, member = c["bill"], c["member"]["id"]
        admitted = day(bill["begndate"])
        lines = lines_of(decision)
        found = period_of(c["enrollments"], admitted)
        ip, da, ci, cir = lines["MA_IP"], lines["MA_DA"], lines["MA_CI"], lines["CIR"]
        if found is None:
            assert not any(line["status"] in COUNTING for line in (ip, da, ci)), decision
        else:
            period, year = found
            key = (member, period)
            if ip["status"] == "denied" and ip["reasons"] == ["ANNUAL_CAP_REACHED"]:
                assert self.ma_ip[key] == MA_IP_CAP, (c["case_id"], self.ma_ip[key])
            self.ma_ip[key] += paid(ip)
            assert self.ma_ip[key] <= MA_IP_CAP, (c["case_id"], self.ma_ip[key])
            if ip["status"] in COUNTING and "CAP_APPLIED" in ip["reasons"]:
                assert self.ma_ip[key] == MA_IP_CAP, (c["case_id"], self.ma_ip[key])

            if da["status"] == "denied" and da["reasons"] == ["DAYS_CAP_REACHED"]:
                assert self.ma_da_days[key] == MA_DA_MAX_DAYS, (c["case_id"], self.ma_da_days[key])
            if da["status"] in COUNTING:
                daily = MA_DA_DAILY[min(year, 3)]
                if "WAITING_PERIOD_REDUCED" in da["reasons"]:
                    daily //= 2
                days, rest = divmod(fen(da["amount"]), daily)
                stay = max(1, (day(bill["enddate"]) - admitted).days)
                assert rest == 0 and 1 <= days <= stay, (c["case_id"], da, daily, stay)
                self.ma_da_days[key] += days
                assert self.ma_da_days[key] <= MA_DA_MAX_DAYS, (c["case_id"], self.ma_da_days[key])
                if "CAP_APPLIED" in da["reasons"]:
                    assert self.ma_da_days[key] == MA_DA_MAX_DAYS, (c["case_id"], self.ma_da_days[key])

            if ci["status"] in COUNTING:
                main = next(d["diag_code"] for d in bill["diagnoses"] if d["maindiag_flag"] == "1")
                disease = CATALOG.match(main)
                assert disease is not None, (c["case_id"], main)
                self.ma_ci[(member, period, disease.code)] += 1
                assert self.ma_ci[(member, period, disease.code)] == 1, (c["case_id"], disease.code)

        if cir["status"] in COUNTING:
            key = (member, admitted.year)
            cap = CIR_CAP[c["hardship"]["category"]]
            self.cir_cap[key] = cap
            self.cir[key] += paid(cir)
            assert self.cir[key] <= cap, (c["case_id"], self.cir[key], cap)
            if "CAP_APPLIED" in cir["reasons"]:
                assert self.cir[key] == cap, (c["case_id"], self.cir[key], cap)

    def reached(self) -> dict[str, int]:
        """How many members ended a period (or year) exactly at each cap."""
        return {
            "MA_IP": sum(1 for v in self.ma_ip.values() if v == MA_IP_CAP),
            "MA_DA": sum(1 for v in self.ma_da_days.values() if v == MA_DA_MAX_DAYS),
            "CIR": sum(1 for k, v in self.cir.items() if v == self.cir_cap[k]),
        }


def check_caps(cases: list[dict[str, Any]], decisions: list[dict[str, Any]]) -> CapCheck:
    check = CapCheck()
    for c, d in zip(cases, decisions, strict=True):
        assert d["case_id"] == c["case_id"]
        check.add(c, d)
    return check


def assert_relief_within_base(cases: list[dict[str, Any]], decisions: list[dict[str, Any]]) -> None:
    for c, d in zip(cases, decisions, strict=True):
        if d["status"] in ("rejected", "invalid"):
            continue
        lines = lines_of(d)
        assert paid(lines["MA_IP"]) + paid(lines["CIR"]) <= in_policy_self_pay(c["bill"]), (c["case_id"], d["lines"])


# ------------------------------------------------------------------ strategies

DISEASES = ["C34.900", "I63.900", "N18.500", "F20.900", "J18.900", "I25.103"]  # the last two: outside the catalog


@st.composite
def funds_for(draw, scope: int, own: int) -> dict[str, int]:
    """Seven component funds; now and then more than the policy scope (B is then 0)."""
    ceiling = draw(st.sampled_from([scope, scope, scope, scope + own]))
    total = draw(st.integers(0, ceiling // 10) | st.integers(0, ceiling) | st.just(ceiling) | st.just(0))
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=6, max_size=6)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, total])]
    return dict(zip(FUNDS, parts))


@st.composite
def member_claims(draw, max_claims: int = 10) -> list[dict[str, Any]]:
    """One member's claims: big and small bills, long stays, repeated diseases, a hardship
    category, admissions over two periods and two calendar years."""
    member = f"P{draw(st.integers(0, 10**6))}"
    enrollments = draw(st.sampled_from([
        renewing_enrollments(),
        [{"period_start": "2026-01-01", "period_end": "2026-12-31", "enrolled_on": "2025-12-01"}],
        [{"period_start": "2024-01-01", "period_end": "2024-12-31", "enrolled_on": "2023-12-01"},
         {"period_start": "2025-01-01", "period_end": "2025-12-31", "enrolled_on": "2024-12-01"},
         {"period_start": "2026-01-01", "period_end": "2026-12-31", "enrolled_on": "2025-12-01"}],
        [{"period_start": "2026-01-01", "period_end": "2026-12-31", "enrolled_on": "2026-02-10"}],
    ]))
    category = draw(st.sampled_from(["dibao", "dibao_unenrolled", "near_dibao", "accident", None]))
    hardship = None if category is None else {"category": category, "verified": draw(st.booleans()),
                                              "registered_on": "2020-01-01", "revoked_on": None}
    count = draw(st.integers(1, max_claims))
    admitted = dt.date(2025, 6, 1) + dt.timedelta(days=draw(st.integers(0, 400)))
    out = []
    for i in range(count):
        los = draw(st.integers(0, 150))
        scope = draw(st.integers(0, 900_000_00) | st.integers(0, 30_000_00))
        own = draw(st.integers(0, 50_000_00))
        over = draw(st.integers(0, 2_000_00))
        pre = draw(st.integers(0, 5_000_00))
        funds = draw(funds_for(scope, own))
        total = scope + own + over + pre
        account = draw(st.integers(0, max(0, total - sum(funds.values()))))
        bill = bill_from(f"{member}-{i}", admitted, los, draw(st.sampled_from(["21", "21", "14"])),
                         draw(st.sampled_from(DISEASES)), total=total, own=own, over=over, pre=pre,
                         funds=funds, account=min(account, 3_000_00))
        out.append(case(f"{member}-c{i}", member, bill, enrollments=enrollments, hardship=hardship))
        admitted = day(bill["enddate"]) + dt.timedelta(days=draw(st.integers(0, 60)))
    return out


# ------------------------------------------------------------------ the generator's own promises


@pytest.fixture(scope="module")
def population() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A realistic population of 6,000 generated cases, and their decisions."""
    cases = list(generate_cases(6000, seed=8))
    return cases, decide(cases)



def test_generated_bills_add_up_to_the_fen_and_carry_two_decimal_amounts():
    for c in generate_cases(2000, seed=11):
        b = c["bill"]
        assert all(isinstance(b[f], str) and len(b[f].rpartition(".")[2]) == 2 for f in AMOUNTS), b
        a = {f: fen(b[f]) for f in AMOUNTS}
        assert min(a.values()) >= 0
        assert a["fund_pay_sumamt"] == sum(a[f] for f in FUNDS)
        assert a["medfee_sumamt"] == a["fund_pay_sumamt"] + a["psn_part_amt"]
        assert a["inscp_scp_amt"] == a["medfee_sumamt"] - a["fulamt_ownpay_amt"] - a["overlmt_selfpay"] - a["preselfpay_amt"]
        assert a["psn_part_amt"] == a["acct_pay"] + a["psn_cash_pay"]
        assert day(b["enddate"]) >= day(b["begndate"])
        assert sum(1 for d in b["diagnoses"] if d["maindiag_flag"] == "1") == 1


def test_a_bill_is_posted_twice_only_as_a_deliberate_repost_of_the_same_bill(population):
    cases, _ = population
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    reposts = 0
    for c in cases:
        key = (c["bill"]["fixmedins_code"], c["bill"]["setl_id"])
        if key in seen:
            reposts += 1
            assert c["bill"] == seen[key]["bill"] and c["member"] == seen[key]["member"]
            assert c["case_id"] != seen[key]["case_id"]
        seen[key] = c
    assert 0.001 * len(cases) < reposts < 0.01 * len(cases)


def test_the_same_seed_generates_the_same_cases_and_another_seed_other_cases():
    first = [json.dumps(c, ensure_ascii=False) for c in generate_cases(500, seed=5)]
    assert first == [json.dumps(c, ensure_ascii=False) for c in generate_cases(500, seed=5)]
    assert first != [json.dumps(c, ensure_ascii=False) for c in generate_cases(500, seed=6)]


def test_case_files_made_with_different_seeds_share_no_bill_and_no_member():
    def keys(seed: int) -> tuple[set, set]:
        cases = list(generate_cases(2000, seed=seed))
        return {(c["bill"]["fixmedins_code"], c["bill"]["setl_id"]) for c in cases}, {c["member"]["id"] for c in cases}

    (bills_1, members_1), (bills_2, members_2) = keys(1), keys(12)
    assert not bills_1 & bills_2 and not members_1 & members_2


def test_the_generator_streams_and_claims_come_from_as_many_members_as_asked():
    stream = generate_cases(1000, seed=2, members=120)
    assert iter(stream) is stream  # an iterator, not a list
    cases = list(stream)
    assert len(cases) == 1000
    assert len({c["member"]["id"] for c in cases}) == 120


def test_the_generated_population_looks_like_inner_mongolia(population):
    cases, _ = population
    n = len(cases)
    bills = [c["bill"] for c in cases]
    members = {c["member"]["id"]: c for c in cases}
    med = collections.Counter(b["med_type"] for b in bills)
    grades = collections.Counter(b["hosp_lv"] for b in bills)
    assert med["21"] > 0.55 * n and med["14"] > 0.1 * n and 0 < med["11"] < 0.1 * n
    assert collections.Counter(b["insutype"] for b in bills)["310"] > 0.85 * n
    assert sum(grades[g] for g in ("01", "02", "03", "04", "05")) > 0.9 * n and 0 < grades["11"] < 0.05 * n
    assert all(b["fixmedins_code"].startswith("H15") and len(b["fixmedins_code"]) == 9 for b in bills)
    in_catalog = sum(1 for b in bills if CATALOG.match(next(d["diag_code"] for d in b["diagnoses"] if d["maindiag_flag"] == "1")))
    assert 0.30 * n < in_catalog < 0.40 * n
    registered = [m["hardship"] for m in members.values() if m["hardship"]]
    assert 0.05 < len(registered) / len(members) < 0.10
    categories = collections.Counter(h["category"] for h in registered)
    assert categories.most_common(2)[0][0] == "near_dibao" and categories.most_common(2)[1][0] == "accident"
    assert any(not h["verified"] for h in registered) and any(h["revoked_on"] for h in registered)
    bases = sorted(in_policy_self_pay(b) for b in bills)
    assert bases[0] == 0 and bases[-1] > 300_000_00
    claims_per_member = collections.Counter(c["member"]["id"] for c in cases)
    assert max(claims_per_member.values()) >= 10


def test_the_generated_population_reaches_every_outcome_the_plan_can_give(population):
    """So the properties below, run on it, have the caps, waits and denials to look at."""
    seen = collections.Counter()
    for d in population[1]:
        seen[d["status"]] += 1
        for line in d["lines"]:
            seen[line["status"]] += 1
            seen.update(f"{line['benefit']}:{r}" for r in line["reasons"])
    assert seen["rejected"] == 0 and seen["invalid"] == 0
    wanted = ["MA_IP:NOT_ENROLLED", "MA_IP:INSURANCE_TYPE_NOT_COVERED", "MA_IP:HOSPITAL_NOT_ELIGIBLE",
              "MA_IP:LATE_SUBMISSION", "MA_IP:WAITING_PERIOD", "MA_IP:WAITING_PERIOD_REDUCED",
              "MA_IP:DUPLICATE_BILL", "MA_IP:MED_TYPE_NOT_COVERED", "MA_IP:ZERO_BASE",
              "MA_IP:MINIMUM_PAYOUT_APPLIED", "MA_IP:ANNUAL_CAP_REACHED", "MA_IP:CAP_APPLIED",
              "MA_IP:HIGH_AMOUNT_REVIEW", "MA_DA:CAP_APPLIED", "MA_CI:DISEASE_NOT_IN_CATALOG",
              "MA_CI:ALREADY_PAID_FOR_DISEASE", "MA_CI:WAITING_PERIOD", "CIR:NOT_HARDSHIP_REGISTERED",
              "CIR:HARDSHIP_CATEGORY_NOT_ELIGIBLE", "CIR:HARDSHIP_UNVERIFIED", "CIR:ZERO_BASE",
              "CIR:ANNUAL_CAP_REACHED", "CIR:CAP_APPLIED", "CIR:MED_TYPE_NOT_COVERED"]
    assert [w for w in wanted if not seen[w]] == []


# ------------------------------------------------------------------ (a) bands follow cumulative B


@PROPERTIES
@given(parts=st.lists(st.integers(500_00, 150_000_00), min_size=2, max_size=6).filter(lambda p: sum(p) <= 500_000_00),
       med_types=st.lists(st.sampled_from(["21", "14"]), min_size=6, max_size=6),
       member=st.integers(0, 10**9))
def test_a_members_mutual_aid_for_the_period_does_not_depend_on_how_the_spending_is_split(parts, med_types, member):
    """Each part is at least 500.00 (40% of it reaches the 200.00 minimum) and the total
    stays under 500,000.00 of B (below the cap), for a renewing member: so no minimum
    payout, no waiting reduction and no cap, and the totals agree to a fen per claim."""
    start = dt.date(2026, 1, 5)

    def split(amounts: list[int], tag: str) -> int:
        cases = [case(f"{tag}{i}", f"A{member}{tag}",
                      bill_with_base(f"{tag}-{member}-{i}", start + dt.timedelta(days=20 * i), b, med_type=med_types[i]))
                 for i, b in enumerate(amounts)]
        total = 0
        for d in decide(cases):
            ip = lines_of(d)["MA_IP"]
            assert ip["status"] in COUNTING, d
            assert not {"MINIMUM_PAYOUT_APPLIED", "WAITING_PERIOD_REDUCED", "CAP_APPLIED"} & set(ip["reasons"]), d
            total += paid(ip)
        return total

    whole = split([sum(parts)], "one")
    assert abs(split(parts, "split") - whole) <= len(parts)
    assert abs(split(parts[::-1], "reversed") - whole) <= len(parts)


# ------------------------------------------------------------------ (b) never more than B


@PROPERTIES
@given(claims=member_claims())
def test_mutual_aid_and_relief_together_never_pay_more_than_the_in_policy_self_pay(claims):
    assert_relief_within_base(claims, decide(claims))


@POPULATIONS
@given(seed=st.integers(0, 2**32 - 1))
def test_no_generated_claim_gets_more_than_its_in_policy_self_pay(seed):
    cases = list(generate_cases(300, seed=seed, members=40))
    assert_relief_within_base(cases, decide(cases))


# ------------------------------------------------------------------ (c) caps


@PROPERTIES
@given(claims=member_claims(max_claims=14))
def test_no_sequence_of_claims_takes_a_member_past_any_cap(claims):
    check_caps(claims, decide(claims))


@POPULATIONS
@given(seed=st.integers(0, 2**32 - 1))
def test_no_generated_member_goes_past_any_cap(seed):
    cases = list(generate_cases(300, seed=seed, members=30))
    check_caps(cases, decide(cases))


def test_a_realistic_population_reaches_the_caps_and_never_passes_them(population):
    reached = check_caps(*population).reached()
    # The check above means something only if members do get to the caps.
    assert reached["MA_IP"] > 0 and reached["MA_DA"] > 0 and reached["CIR"] > 0, reached


# ------------------------------------------------------------------ (d) determinism


def _decision_bytes(lines: list[str], engine: Engine) -> bytes:
    return "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in adjudicate_lines(engine, lines)).encode()


def test_the_same_case_file_decides_byte_for_byte_the_same_in_two_fresh_engines(tmp_path):
    path = write_case_file(tmp_path / "cases.jsonl", 1500, seed=17)
    lines = path.read_text(encoding="utf-8").splitlines()
    first = _decision_bytes(lines, Engine())
    assert b'"trace"' in first
    assert first == _decision_bytes(lines, Engine())


def test_the_same_case_file_decides_byte_for_byte_the_same_in_other_processes(tmp_path):
    """Other hash seeds too: nothing in a decision or its trace may follow set order."""
    path = write_case_file(tmp_path / "cases.jsonl", 1000, seed=23)
    here = _decision_bytes(path.read_text(encoding="utf-8").splitlines(), ENGINE)
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"decisions-{hash_seed}.jsonl"
        run = subprocess.run([sys.executable, "-m", "cli.main", "adjudicate", str(path), "-o", str(out)],
                             cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert run.returncode == 0, run.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == here


def test_remembering_what_fired_per_situation_changes_no_decision_and_no_trace(population):
    """Engine() answers repeated situations from memory; Engine(memo=False) asserts every claim."""
    cases, decisions = population
    every_claim = decide(cases[:2500], Engine(memo=False))
    assert json.dumps(every_claim, ensure_ascii=False) == json.dumps(decisions[:2500], ensure_ascii=False)


@PROPERTIES
@given(claims=member_claims(max_claims=6))
def test_deciding_the_same_claims_again_gives_the_same_decisions_and_traces(claims):
    first = json.dumps(decide(claims, ENGINE), ensure_ascii=False)
    assert first == json.dumps(decide(claims, ANOTHER_ENGINE), ensure_ascii=False)
