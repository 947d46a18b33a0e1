"""Plan versions through the admin API: drafts, validation, differences, publishing by date."""

from __future__ import annotations

import datetime as dt
from importlib import resources

import pytest
from sqlalchemy import func, select

from claims.dates import china_today
from rules.document import DEFAULT_PLAN
from store import models
from claims.settlement import OLDEST_ADMISSION_YEARS, years_before
from tests.admin.conftest import post_bill


def _default_id(client) -> int:
    published = [p for p in client.get("/v1/plans").json()["items"] if p["status"] == "published"]
    assert len(published) == 1 and published[0]["effective_from"] == "2000-01-01"
    return published[0]["id"]


def test_a_new_database_has_the_shipped_default_published(client):
    plan = client.get(f"/v1/plans/{_default_id(client)}").json()
    assert plan["version"].startswith("default-2026@") and plan["valid"] is True
    assert [b["code"] for b in plan["document"]["benefits"]] == ["MA_IP", "MA_DA", "MA_CI", "CIR"]


def test_a_draft_derived_by_patch_differs_only_where_patched(client):
    base = _default_id(client)
    r = client.post(f"/v1/plans/{base}/derive", json={"patch": [
        {"op": "replace", "path": "/benefits/0/amount/cap", "value": "600000.00"}], "note": "raise the MA_IP cap"})
    assert r.status_code == 201
    draft = r.json()
    assert draft["status"] == "draft" and draft["valid"] and draft["based_on"] == base
    assert draft["version"] != client.get(f"/v1/plans/{base}").json()["version"]
    changes = client.get(f"/v1/plans/{base}/diff/{draft['id']}").json()["changes"]
    assert changes == [{"path": "benefits[0].amount.cap", "from": "500000.00", "to": "600000.00"}]


def test_validation_names_the_path_of_each_error_and_an_invalid_draft_cannot_be_published(client):
    base = _default_id(client)
    draft = client.post(f"/v1/plans/{base}/derive", json={"patch": [
        {"op": "replace", "path": "/benefits/0/amount/bands/1/rate", "value": "1.5"},
        {"op": "replace", "path": "/benefits/1/rules/0/reason", "value": "NO_SUCH_CODE"},
        {"op": "replace", "path": "/catalogs/critical_illness_21/diseases/0/include/0", "value": "C3.4"},
    ]}).json()
    assert draft["valid"] is False
    paths = {e["field"] for e in client.post(f"/v1/plans/{draft['id']}/validate").json()["errors"]}
    assert "benefits[0].amount.bands[1].rate" in paths
    assert "benefits[1].rules[0].reason" in paths
    assert "catalogs.critical_illness_21.diseases[0].include" in paths
    r = client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": "2026-07-01"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_bands_that_do_not_meet_are_refused_with_the_benefit_named(client):
    draft = client.post(f"/v1/plans/{_default_id(client)}/derive", json={"patch": [
        {"op": "replace", "path": "/benefits/0/amount/bands/2/from", "value": "35000"}]}).json()
    errors = client.post(f"/v1/plans/{draft['id']}/validate").json()["errors"]
    assert [e["field"] for e in errors] == ["benefits[0].amount"]
    assert "band 2 must start where band 1 ends" in errors[0]["message"]


def test_a_published_version_never_changes(client):
    base = _default_id(client)
    r = client.put(f"/v1/plans/{base}", json=client.get(f"/v1/plans/{base}").json()["document"])
    assert r.status_code == 409


def test_a_claim_is_decided_under_the_version_in_force_on_its_admission_date(client, admin_app):
    base = _default_id(client)
    draft = client.post(f"/v1/plans/{base}/derive", json={"patch": [
        {"op": "replace", "path": "/benefits/0/amount/bands/0/rate", "value": "0.60"}]}).json()
    published = client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": "2026-07-01"}).json()
    assert published["status"] == "published"
    before = post_bill(admin_app, patient="M1", setl_id="S-JUNE", begndate="2026-06-20", enddate="2026-06-25", diag="J18.900", b_yuan=5_000)
    after = post_bill(admin_app, setl_id="S-JULY", begndate="2026-07-02", enddate="2026-07-05", diag="J18.900", b_yuan=5_000)
    june = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": before, "submitted_on": "2026-07-10", "note": "纸质申请"}).json()
    july = client.post("/v1/claims", json={"member_id": "W1", "settlement_id": after, "submitted_on": "2026-07-10", "note": "纸质申请"}).json()
    assert june["plan_version"] == client.get(f"/v1/plans/{base}").json()["version"]
    assert june["lines"][0]["amount"] == "2000.00"  # 40% of 5,000
    assert july["plan_version"] == published["version"]
    assert july["lines"][0]["amount"] == "3000.00"  # 60% of 5,000 under the new version


def _a_year_ahead() -> dt.date:
    today = china_today()
    return today.replace(year=today.year + 1, day=28 if (today.month, today.day) == (2, 29) else today.day)


def _rows(admin_app, model) -> int:
    with admin_app.state.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _status(client, plan_id: int) -> str:
    return client.get(f"/v1/plans/{plan_id}").json()["status"]


def _draft(client, base: int, first_rate: str = "0.60") -> int:
    return client.post(f"/v1/plans/{base}/derive", json={"patch": [
        {"op": "replace", "path": "/benefits/0/amount/bands/0/rate", "value": first_rate}]}).json()["id"]


def _oldest_admissible() -> dt.date:
    return years_before(china_today(), OLDEST_ADMISSION_YEARS)


def test_retiring_the_only_version_in_force_is_refused_naming_the_days_left_without_a_plan(client, admin_app):
    base = _default_id(client)
    post_bill(admin_app, setl_id="S-OLD", begndate="2024-03-01", enddate="2024-03-03", diag="J18.900")
    audit_before = _rows(admin_app, models.AuditEntry)
    r = client.post(f"/v1/plans/{base}/retire")
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    # From the oldest admission a hospital may still post (five years back) to a year
    # from today (China): every claim that can still come must find a version.
    assert f"{_oldest_admissible()}..{_a_year_ahead()}" in r.json()["detail"]
    assert _status(client, base) == "published"
    assert _rows(admin_app, models.AuditEntry) == audit_before


def test_with_no_admission_stored_the_days_that_need_a_plan_start_five_years_back(client, admin_app):
    r = client.post(f"/v1/plans/{_default_id(client)}/retire")
    assert r.status_code == 409 and f"{_oldest_admissible()}..{_a_year_ahead()}" in r.json()["detail"]


def test_a_version_from_after_the_oldest_admissible_day_cannot_replace_the_one_before_it(client, admin_app):
    base = _default_id(client)
    later = client.post(f"/v1/plans/{_draft(client, base)}/publish", json={"effective_from": "2025-01-01"}).json()
    assert later["status"] == "published"
    # No bill of 2022 or 2023 is stored, but one may still be posted: the old version stays.
    r = client.post(f"/v1/plans/{base}/retire")
    assert r.status_code == 409 and f"{_oldest_admissible()}..2024-12-31" in r.json()["detail"]


def test_a_replacement_published_for_the_same_first_day_takes_over_and_the_old_one_can_be_retired(client, admin_app):
    base = _default_id(client)
    replacement = client.post(f"/v1/plans/{_draft(client, base)}/publish", json={"effective_from": "2000-01-01"}).json()
    assert replacement["status"] == "published"
    # Published later for the same day, it is in force before the old one is retired...
    sid = post_bill(admin_app, patient="M1", setl_id="S-REP", begndate="2026-06-20", enddate="2026-06-25", diag="J18.900", b_yuan=5_000)
    claim = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": sid, "submitted_on": "2026-07-10", "note": "纸质申请"}).json()
    assert claim["plan_version"] == replacement["version"]
    assert claim["lines"][0]["amount"] == "3000.00"  # 60% of 5,000
    # ...and retiring the old one leaves no day without a plan.
    r = client.post(f"/v1/plans/{base}/retire")
    assert r.status_code == 200 and r.json()["status"] == "retired"
    r = client.post(f"/v1/plans/{replacement['id']}/retire")
    assert r.status_code == 409 and f"{_oldest_admissible()}.." in r.json()["detail"]
    assert _status(client, replacement["id"]) == "published"


def test_a_later_version_can_be_retired_while_an_earlier_one_covers_its_days(client, admin_app):
    base = _default_id(client)
    july = client.post(f"/v1/plans/{_draft(client, base)}/publish", json={"effective_from": "2026-07-01"}).json()
    assert client.post(f"/v1/plans/{july['id']}/retire").json()["status"] == "retired"
    assert _status(client, base) == "published"


def _leave_a_hole_from(admin_app, base: int) -> None:
    """A database from before the check: the only version retired behind the service's back."""
    with admin_app.state.sessions() as session:
        session.get(models.PlanVersion, base).status = "retired"
        session.commit()


def test_publishing_a_first_version_that_starts_after_the_earliest_admission_is_refused(client, admin_app):
    base = _default_id(client)
    draft = _draft(client, base)
    post_bill(admin_app, setl_id="S-MAR", begndate="2026-03-01", enddate="2026-03-03", diag="J18.900")
    _leave_a_hole_from(admin_app, base)
    audit_before = _rows(admin_app, models.AuditEntry)
    r = client.post(f"/v1/plans/{draft}/publish", json={"effective_from": "2026-07-01"})
    assert r.status_code == 409 and f"{_oldest_admissible()}..2026-06-30" in r.json()["detail"]
    assert _status(client, draft) == "draft" and _rows(admin_app, models.AuditEntry) == audit_before
    r = client.post(f"/v1/plans/{draft}/publish", json={"effective_from": str(_oldest_admissible())})
    assert r.status_code == 200 and r.json()["status"] == "published"


def test_a_claim_admitted_where_no_version_is_in_force_is_a_conflict(client, admin_app):
    _leave_a_hole_from(admin_app, _default_id(client))
    sid = post_bill(admin_app, patient="M1", setl_id="S-R", begndate="2026-03-01", enddate="2026-03-03", diag="J18.900")
    claims_before = _rows(admin_app, models.Claim)
    r = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": sid, "submitted_on": "2026-03-10", "note": "纸质申请"})
    assert r.status_code == 409 and "no published plan" in r.json()["detail"]
    assert _rows(admin_app, models.Claim) == claims_before


# ---------------------------------------------------------------- catalogs: inline or shipped, never a path


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../etc/passwd", "plans/critical-illness-21.csv", "nope.csv"])
def test_a_document_naming_a_catalog_file_that_is_not_shipped_is_refused_and_nothing_stored(client, admin_app, name):
    document = client.get(f"/v1/plans/{_default_id(client)}").json()["document"]
    document["catalogs"]["critical_illness_21"] = {"file": name}
    before = _rows(admin_app, models.PlanVersion)
    r = client.post("/v1/plans", json=document)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["catalogs.critical_illness_21.file"]
    assert "root:" not in r.text and "Errno" not in r.text
    assert _rows(admin_app, models.PlanVersion) == before


def test_a_yaml_draft_may_name_the_shipped_catalog_but_not_a_path(client, admin_app):
    text = resources.files("rules.plans").joinpath(DEFAULT_PLAN).read_text(encoding="utf-8")
    r = client.post("/v1/plans", content=text.encode(), headers={"content-type": "application/yaml"})
    assert r.status_code == 201 and r.json()["version"] == client.get(f"/v1/plans/{_default_id(client)}").json()["version"]
    draft = r.json()["id"]
    bad = text.replace("file: critical-illness-21.csv", "file: /etc/hostname")
    r = client.put(f"/v1/plans/{draft}", content=bad.encode(), headers={"content-type": "application/yaml"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["catalogs.critical_illness_21.file"]
    assert client.get(f"/v1/plans/{draft}").json()["document"]["catalogs"]["critical_illness_21"]["diseases"]


def test_a_derived_plan_with_relief_no_longer_after_the_share_is_refused_and_cannot_be_published(client):
    draft = client.post(f"/v1/plans/{_default_id(client)}/derive", json={"patch": [
        {"op": "replace", "path": "/benefits/3/amount/after", "value": []}]}).json()
    assert draft["valid"] is False
    assert [e["field"] for e in draft["errors"]] == ["benefits[3].amount.after"]
    r = client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": "2026-07-01"})
    assert r.status_code == 422 and _status(client, draft["id"]) == "draft"


def test_only_administrators_manage_plans(client, admin_app):
    with admin_app.state.sessions() as session:
        from service.auth import Role, create_key

        _, officer = create_key(session, Role.OFFICER, union_id="HHHT")
        session.commit()
    r = client.get("/v1/plans", headers={"Authorization": f"Bearer {officer}"})
    assert r.status_code == 403 and r.json()["status"] == 403
