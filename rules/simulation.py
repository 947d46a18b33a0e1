"""Simulation: a draft plan beside the version in force, over a case file, on every core.

Both plans decide every case (each with its own accumulators, in file order per
member), and the report says what the draft would change: claims whose outcome
changed, the payout difference in total and by benefit line, hardship category,
hospital grade and admission month, members affected, and the largest changes.

Work is split by member across child processes (``spawn``, so each child registers
its own rulesets and exits, freeing them: durable_rules never frees a ruleset). A
member's cases stay in one process, in file order, so totals and caps run exactly
as in a single pass. The one thing that crosses members is a bill claimed twice;
the parent indexes repeated (hospital, setl_id) pairs first and each child checks
the earlier occurrences that live in other processes.
"""

from __future__ import annotations

import datetime as dt
import gc
import heapq
import json
import multiprocessing as mp
import os
import re
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from claims.accumulators import Ledger
from claims.cases import Claim, parse_claim
from claims.decision import Decision, LineStatus
from claims.funding import MUTUAL_AID, funding_of
from claims.errors import BillInconsistent, InvalidCase
from claims.money import format_fen

_MEMBER = re.compile(r'"member"\s*:\s*\{[^{}]*?"id"\s*:\s*"((?:[^"\\]|\\.)*)"')
_CODE = re.compile(r'"fixmedins_code"\s*:\s*"((?:[^"\\]|\\.)*)"')
_SETL = re.compile(r'"setl_id"\s*:\s*"((?:[^"\\]|\\.)*)"')
TOP = 20

# (effective_from, document) in publication order (None: in force on every day); which
# one decides a claim is rules/schedule.py's answer, the same as for the service.
Baseline = list[tuple[dt.date | None, dict[str, Any]]]


def _member_of(text: str) -> str | None:
    m = _MEMBER.search(text)
    if m is not None:
        return m.group(1)
    try:
        raw = json.loads(text)
        return str(raw["member"]["id"])
    except Exception:  # noqa: BLE001 - an unreadable case goes wherever its line number sends it
        return None


def _partition(text: str, line_no: int, workers: int) -> int:
    member = _member_of(text)
    key = member.encode() if member is not None else str(line_no).encode()
    return zlib.crc32(key) % workers


def index_repeated_bills(path: str) -> dict[int, list[int]]:
    """For each line whose (hospital, setl_id) appeared on earlier lines: those lines."""
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line_no, text in enumerate(f, start=1):
            code, setl = _CODE.search(text), _SETL.search(text)
            if code and setl:
                seen[(code.group(1).strip(), setl.group(1).strip())].append(line_no)
    return {n: lines[:i] for lines in seen.values() if len(lines) > 1 for i, n in enumerate(lines) if i > 0}


def _read_claim(text: str) -> Claim | None:
    try:
        return parse_claim(json.loads(text, parse_float=Decimal))
    except (InvalidCase, BillInconsistent, json.JSONDecodeError):
        return None


class _Totals:
    """Baseline and draft payouts, in fen, under one heading."""

    def __init__(self) -> None:
        self.values: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # baseline, draft, claims changed

    def add(self, key: str, baseline: int, draft: int, changed: bool) -> None:
        v = self.values[key]
        v[0] += baseline
        v[1] += draft
        v[2] += changed

    def merge(self, other: dict[str, list[int]]) -> None:
        for key, (b, d, c) in other.items():
            v = self.values[key]
            v[0] += b
            v[1] += d
            v[2] += c


TOTALS = ("benefit", "hardship_category", "hospital_grade", "month", "source")


def _charges(engine: Any, decision: Decision) -> dict[str, int]:
    """What a decision's approved lines charge each source, as if every source could pay
    its share (the service's pools decide what is actually left); ``mutual_aid`` for the pool."""
    funding = funding_of(engine.plan)
    out: dict[str, int] = defaultdict(int)
    for line in decision.lines:
        if line.status is LineStatus.APPROVED and line.amount:
            for source, fen in funding.shares_of(line.benefit, line.amount):
                out[source or MUTUAL_AID] += fen
    return out


def _outcome(decision: Decision) -> tuple:
    return decision.status, tuple((ln.benefit, ln.status, ln.amount) for ln in decision.lines)


def _worker(k: int, workers: int, path: str, draft: dict[str, Any], baseline: Baseline,
            repeated: dict[int, list[int]], counter: Any, result_queue: Any) -> None:
    from rules.document import validate_plan
    from rules.engine import Engine
    from rules.schedule import Schedule

    # Deciding a case allocates many small objects and keeps few: the collector's
    # default thresholds would run it every few cases for nothing.
    gc.set_threshold(200_000, 50, 100)
    try:
        draft_engine = Engine(validate_plan(draft))
        schedule = Schedule((eff or dt.date.min, Engine(validate_plan(doc))) for eff, doc in baseline)
        engines = schedule.items()
        ledger_b, ledger_d = Ledger(), Ledger()
        # Plans with the same catalogs derive the same facts from a claim: derive them once.
        same_catalogs = {e: e.plan.content.get("catalogs") == draft_engine.plan.content.get("catalogs") for e in engines}
        benefit_codes = list(dict.fromkeys(
            [b.code for e in engines for b in e.benefits] + [b.code for b in draft_engine.benefits]))
        lines_cache: dict[int, str] = {}
        needed = {j for earlier in repeated.values() for j in earlier}
        totals = {name: _Totals() for name in TOTALS}
        benefit_totals = totals["benefit"]
        for code in benefit_codes:  # every line of either plan is in the report, paid or not
            benefit_totals.add(code, 0, 0, False)
        cases = changed = invalid = rejected = 0
        baseline_total = draft_total = 0
        members_affected: set[str] = set()
        largest: list[tuple[int, int, dict[str, Any]]] = []
        examples: list[dict[str, Any]] = []
        with open(path, encoding="utf-8") as f:
            for line_no, text in enumerate(f, start=1):
                if line_no in needed:
                    lines_cache[line_no] = text
                if not text.strip() or _partition(text, line_no, workers) != k:
                    continue
                cases += 1
                if cases % 500 == 0:
                    with counter.get_lock():
                        counter.value += 500
                try:
                    claim = parse_claim(json.loads(text, parse_float=Decimal))
                except (InvalidCase, json.JSONDecodeError):
                    invalid += 1
                    continue
                except BillInconsistent:
                    rejected += 1
                    continue
                bill = claim.settlement
                key = bill.bill_key
                earlier = repeated.get(line_no)
                elsewhere = earlier is not None and any(
                    _partition(lines_cache[j], j, workers) != k and _read_claim(lines_cache[j]) is not None
                    for j in earlier
                )
                engine_b = schedule.in_force(bill.begndate)
                if engine_b is None:  # as for a claim submitted to the service: no plan, no decision
                    raise RuntimeError(f"no baseline plan is in force on {bill.begndate} (case on line {line_no})")
                derived = engine_b.derive(claim) if same_catalogs[engine_b] else None
                member_id = claim.member.id
                base = engine_b.adjudicate(claim, ledger_b.for_member(member_id), elsewhere or ledger_b.is_duplicate(key),
                                           explain=False, derived=derived)
                ledger_b.record(member_id, key, base)
                new = draft_engine.adjudicate(claim, ledger_d.for_member(member_id),
                                              elsewhere or ledger_d.is_duplicate(key), explain=False, derived=derived)
                ledger_d.record(member_id, key, new)
                # Only approved and pended lines carry an amount in a fresh decision.
                by_line_b = {ln.benefit: ln.amount for ln in base.lines if ln.amount}
                by_line_d = {ln.benefit: ln.amount for ln in new.lines if ln.amount}
                b_total, d_total = sum(by_line_b.values()), sum(by_line_d.values())
                is_changed = b_total != d_total or _outcome(base) != _outcome(new)
                baseline_total += b_total
                draft_total += d_total
                for code in by_line_b.keys() | by_line_d.keys():
                    b, d = by_line_b.get(code, 0), by_line_d.get(code, 0)
                    benefit_totals.add(code, b, d, b != d)
                category = claim.hardship.category.value if claim.hardship and claim.hardship.active_on(bill.begndate) else "none"
                totals["hardship_category"].add(category, b_total, d_total, is_changed)
                totals["hospital_grade"].add(bill.hosp_lv, b_total, d_total, is_changed)
                totals["month"].add(f"{bill.begndate.year}-{bill.begndate.month:02d}", b_total, d_total, is_changed)
                by_source_b, by_source_d = _charges(engine_b, base), _charges(draft_engine, new)
                for source in by_source_b.keys() | by_source_d.keys():
                    b, d = by_source_b.get(source, 0), by_source_d.get(source, 0)
                    totals["source"].add(source, b, d, b != d)
                if is_changed:
                    changed += 1
                    members_affected.add(claim.member.id)
                    item = {"case_id": claim.case_id, "member_id": claim.member.id, "line": line_no,
                            "baseline_status": base.status.value, "draft_status": new.status.value,
                            "baseline_total": b_total, "draft_total": d_total}
                    if len(examples) < TOP:
                        examples.append(item)
                    entry = (abs(d_total - b_total), -line_no, item)
                    if len(largest) < TOP:
                        heapq.heappush(largest, entry)
                    elif entry[:2] > largest[0][:2]:
                        heapq.heapreplace(largest, entry)
        with counter.get_lock():
            counter.value += cases % 500
        result_queue.put({
            "worker": k, "cases": cases, "changed": changed, "invalid": invalid, "rejected": rejected,
            "baseline_total": baseline_total, "draft_total": draft_total, "members_affected": len(members_affected),
            "totals": {name: dict(t.values) for name, t in totals.items()},
            "largest": [item for _, _, item in largest], "examples": examples,
            "draft_version": draft_engine.version,
            "baseline_versions": sorted({e.version for e in engines}),
        })
    except BaseException as err:  # noqa: BLE001 - the parent reports it, naming the worker
        result_queue.put({"worker": k, "error": f"{type(err).__name__}: {err}"})


def _count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def simulate(path: str, draft: dict[str, Any], baseline: Baseline, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Decide every case of ``path`` under the baseline and the draft; the report of differences."""
    workers = max(1, workers or os.cpu_count() or 1)
    started = time.perf_counter()
    total = _count_lines(path)
    repeated = index_repeated_bills(path)
    ctx = mp.get_context("spawn")
    counter = ctx.Value("q", 0)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(k, workers, path, draft, baseline, repeated, counter, results), daemon=True)
             for k in range(workers)]
    for p in procs:
        p.start()
    parts: list[dict[str, Any]] = []
    while len(parts) < workers:
        try:
            parts.append(results.get(timeout=0.5))
        except Exception:  # noqa: BLE001 - queue.Empty: report progress and keep waiting
            if not any(p.is_alive() for p in procs) and results.empty():
                break
        if progress is not None:
            progress(min(counter.value, total), total)
    for p in procs:
        p.join()
    errors = [p["error"] for p in parts if "error" in p]
    if errors or len(parts) < workers:
        raise RuntimeError("simulation failed: " + ("; ".join(errors) or "a worker process died"))
    if progress is not None:
        progress(total, total)
    return _report(parts, time.perf_counter() - started, workers)


def _money_rows(values: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    return {
        key: {"baseline": format_fen(b), "draft": format_fen(d), "change": format_fen(d - b), "claims_changed": c}
        for key, (b, d, c) in sorted(values.items())
    }


def _report(parts: list[dict[str, Any]], seconds: float, workers: int) -> dict[str, Any]:
    totals = {name: _Totals() for name in TOTALS}
    for p in parts:
        for name, values in p["totals"].items():
            totals[name].merge(values)
    cases = sum(p["cases"] for p in parts)
    baseline = sum(p["baseline_total"] for p in parts)
    draft = sum(p["draft_total"] for p in parts)
    largest = sorted((i for p in parts for i in p["largest"]),
                     key=lambda i: (-abs(i["draft_total"] - i["baseline_total"]), i["line"]))[:TOP]
    examples = sorted((i for p in parts for i in p["examples"]), key=lambda i: i["line"])[:TOP]
    show = lambda i: {**i, "baseline_total": format_fen(i["baseline_total"]), "draft_total": format_fen(i["draft_total"]),  # noqa: E731
                      "change": format_fen(i["draft_total"] - i["baseline_total"])}
    return {
        "draft_version": parts[0]["draft_version"],
        "baseline_versions": sorted({v for p in parts for v in p["baseline_versions"]}),
        "cases": cases,
        "invalid": sum(p["invalid"] for p in parts),
        "rejected": sum(p["rejected"] for p in parts),
        "claims_changed": sum(p["changed"] for p in parts),
        "members_affected": sum(p["members_affected"] for p in parts),
        "payout": {"baseline": format_fen(baseline), "draft": format_fen(draft), "change": format_fen(draft - baseline)},
        "by_benefit": _money_rows(totals["benefit"].values),
        "by_hardship_category": _money_rows(totals["hardship_category"].values),
        "by_hospital_grade": _money_rows(totals["hospital_grade"].values),
        "by_month": _money_rows(totals["month"].values),
        # Charges of approved lines per source (relief by the plan's shares; mutual_aid the pool).
        "by_source": _money_rows(totals["source"].values),
        "largest_changes": [show(i) for i in largest],
        "first_changes": [show(i) for i in examples],
        "seconds": round(seconds, 2),
        "cases_per_second": round(cases / seconds) if seconds else None,
        "workers": workers,
    }

