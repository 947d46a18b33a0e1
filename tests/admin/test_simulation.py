"""Simulating a draft beside the version in force, and re-adjudicating after publishing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.admin.conftest import post_bill

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "cases.jsonl"


def _draft_with_band_rate(tmp_path: Path, rate: str) -> Path:
    text = (ROOT / "rules" / "plans" / "default-2026.yaml").read_text(encoding="utf-8")
    changed = text.replace('{from: "10000", to: "30000", rate: "0.50"}', f'{{from: "10000", to: "30000", rate: "{rate}"}}')
    assert changed != text or rate == "0.50"
    path = tmp_path / "draft.yaml"
    path.write_text(changed, encoding="utf-8")
    return path


def test_simulating_a_case_file_reports_what_the_draft_changes(tmp_path):
    draft = _draft_with_band_rate(tmp_path, "0.60")
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "cli.main", "simulate", str(EXAMPLES), "--plan", str(draft),
                          "--workers", "2", "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["cases"] == 16 and report["rejected"] == 1
    # Band 2 (10,000-30,000) at 60% instead of 50%: ex-01's B of 14,000 has 4,000 in it (+400 MA_IP,
    # and CIR's 70% share of what MA_IP leaves falls by 280); ex-03 continues from 14,000 to 42,000:
    # 16,000 in band 2 (+1,600 MA_IP, CIR -1,120).
    changes = {c["case_id"]: c for c in report["largest_changes"]}
    assert changes["ex-01"]["change"] == "120.00"
    assert changes["ex-03"]["change"] == "480.00"
    assert report["by_benefit"]["MA_IP"]["change"] != "0.00"
    assert report["by_hardship_category"]["near_dibao"]["claims_changed"] >= 2
    assert report["claims_changed"] == len(report["largest_changes"]) or report["claims_changed"] > 20
    assert set(report["by_month"]) >= {"2026-05"}
    assert report["draft_version"] != report["baseline_versions"][0]


def test_a_draft_identical_to_the_version_in_force_changes_nothing(tmp_path):
    draft = _draft_with_band_rate(tmp_path, "0.50")
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "cli.main", "simulate", str(EXAMPLES), "--plan", str(draft),
                          "--workers", "2", "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["claims_changed"] == 0 and report["payout"]["change"] == "0.00"


def test_splitting_by_member_gives_the_same_report_as_one_process(tmp_path):
    from claims.synthetic import write_case_file
    from rules.document import load_plan
    from rules.simulation import simulate

    cases = tmp_path / "cases.jsonl"
    write_case_file(cases, 600, seed=7)
    draft = load_plan(_draft_with_band_rate(tmp_path, "0.55")).content
    baseline = [(None, load_plan().content)]
    one = simulate(str(cases), draft, baseline, workers=1)
    two = simulate(str(cases), draft, baseline, workers=2)
    for key in ("cases", "claims_changed", "members_affected", "payout", "by_benefit", "by_hardship_category",
                "by_hospital_grade", "by_month", "invalid", "rejected"):
        assert one[key] == two[key], key


def test_a_simulation_job_on_past_claims_is_followed_through_the_api(client, admin_app):
    for i, member in enumerate(("W1", "M1")):
        sid = post_bill(admin_app, setl_id=f"S-SIM{i}", begndate="2026-05-02", enddate="2026-05-06", diag="J18.900",
                        b_yuan=20_000, patient=member)
        assert client.post("/v1/claims", json={"member_id": member, "settlement_id": sid,
                                                "submitted_on": "2026-05-20", "note": "纸质申请"}).status_code == 201
    base = next(p for p in client.get("/v1/plans").json()["items"] if p["status"] == "published")
    draft = client.post(f"/v1/plans/{base['id']}/derive", json={"patch": [
        {"op": "replace", "path": "/benefits/0/amount/bands/1/rate", "value": "0.60"}]}).json()
    job = client.post(f"/v1/plans/{draft['id']}/simulate", json={}).json()
    assert job["status"] == "queued"
    deadline = time.time() + 90
    while time.time() < deadline:
        job = client.get(f"/v1/jobs/{job['id']}").json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.5)
    assert job["status"] == "done", job["error"]
    report = job["report"]
    # B of 20,000 each: band 2 holds 10,000 at 60% instead of 50%: +1,000 MA_IP a claim.
    assert report["cases"] == 2 and report["claims_changed"] == 2
    assert report["by_benefit"]["MA_IP"]["change"] == "2000.00"
    assert job["done"] == job["total"] == 2


def test_readjudication_replaces_pended_decisions_and_adjusts_decided_ones(client, admin_app):
    small = post_bill(admin_app, setl_id="S-RA1", begndate="2026-05-02", enddate="2026-05-06", diag="J18.900", b_yuan=20_000)
    big = post_bill(admin_app, patient="M1", setl_id="S-RA2", begndate="2026-05-02", enddate="2026-05-06", diag="J18.900", b_yuan=150_000)
    decided = client.post("/v1/claims", json={"member_id": "W1", "settlement_id": small, "submitted_on": "2026-05-20", "note": "纸质申请"}).json()
    pended = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": big, "submitted_on": "2026-05-20", "note": "纸质申请"}).json()
    assert decided["status"] == "approved" and decided["lines"][0]["amount"] == "9000.00"
    assert pended["status"] == "pended"  # MA_IP on 150,000 is above the 50,000 review threshold
    base = next(p for p in client.get("/v1/plans").json()["items"] if p["status"] == "published")
    draft = client.post(f"/v1/plans/{base['id']}/derive", json={"patch": [
        {"op": "replace", "path": "/benefits/0/amount/bands/1/rate", "value": "0.60"}]}).json()
    client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": "2026-01-01"})
    report = client.post("/v1/readjudications", json={"include_pended": True, "submitted_from": "2026-05-01"}).json()
    assert report["pended_redecided"] == 1 and report["adjustments"] == 1
    # The decided claim keeps its decision; the difference is an adjustment of +1,000.00.
    again = client.get(f"/v1/claims/{decided['id']}").json()
    assert again["lines"][0]["amount"] == "9000.00" and again["plan_version"] == decided["plan_version"]
    change = next(c for c in report["changes"] if c["claim_id"] == decided["id"])
    assert change["total_delta"] == "1000.00"
    # The pended claim is decided anew under the new version: its B of 150,000 fills band 2
    # (20,000 at 60% instead of 50%): +2,000.00, still pended for the high amount.
    redone = client.get(f"/v1/claims/{pended['id']}").json()
    assert redone["plan_version"] != pended["plan_version"] and redone["status"] == "pended"
    assert Decimal(redone["lines"][0]["amount"]) == Decimal(pended["lines"][0]["amount"]) + 2000


def test_the_baseline_is_the_version_in_force_by_the_same_rule_as_for_claims(tmp_path):
    from rules.document import load_plan
    from rules.simulation import simulate

    default, replacement = load_plan().content, load_plan(_draft_with_band_rate(tmp_path, "0.55")).content
    first_day = dt.date(2000, 1, 1)
    # Two versions from the same day, listed in publication order: the later one is in force.
    report = simulate(str(EXAMPLES), replacement, [(first_day, default), (first_day, replacement)], workers=1)
    assert report["claims_changed"] == 0
    assert report["baseline_versions"] == [report["draft_version"]]
    # A claim admitted before every version has no baseline, as it would have no plan in the service.
    with pytest.raises(RuntimeError, match="no baseline plan is in force on 2026-"):
        simulate(str(EXAMPLES), replacement, [(dt.date(2030, 1, 1), default)], workers=1)
