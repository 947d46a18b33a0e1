"""Plan versions through the admin API: drafts, validation, differences, publishing by date."""

from __future__ import annotations

from tests.admin.conftest import post_bill


def _default_id(client) -> int:
    published = [p for p in client.get("/v1/plans").json() if p["status"] == "published"]
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
    before = post_bill(admin_app, setl_id="S-JUNE", begndate="2026-06-20", enddate="2026-06-25", diag="J18.900", b_yuan=5_000)
    after = post_bill(admin_app, setl_id="S-JULY", begndate="2026-07-02", enddate="2026-07-05", diag="J18.900", b_yuan=5_000)
    june = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": before, "submitted_on": "2026-07-10", "note": "纸质申请"}).json()
    july = client.post("/v1/claims", json={"member_id": "W1", "settlement_id": after, "submitted_on": "2026-07-10", "note": "纸质申请"}).json()
    assert june["plan_version"] == client.get(f"/v1/plans/{base}").json()["version"]
    assert june["lines"][0]["amount"] == "2000.00"  # 40% of 5,000
    assert july["plan_version"] == published["version"]
    assert july["lines"][0]["amount"] == "3000.00"  # 60% of 5,000 under the new version


def test_retiring_the_only_version_in_force_leaves_claims_without_a_plan(client, admin_app):
    base = _default_id(client)
    assert client.post(f"/v1/plans/{base}/retire").json()["status"] == "retired"
    sid = post_bill(admin_app, setl_id="S-R", begndate="2026-03-01", enddate="2026-03-03", diag="J18.900")
    r = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": sid, "submitted_on": "2026-03-10", "note": "纸质申请"})
    assert r.status_code == 409 and "no published plan" in r.json()["detail"]


def test_only_administrators_manage_plans(client, admin_app):
    with admin_app.state.sessions() as session:
        from service.auth import Role, create_key

        _, officer = create_key(session, Role.OFFICER, union_id="HHHT")
        session.commit()
    r = client.get("/v1/plans", headers={"Authorization": f"Bearer {officer}"})
    assert r.status_code == 403 and r.json()["status"] == 403
