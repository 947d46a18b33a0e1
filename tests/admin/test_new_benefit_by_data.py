"""A women's special-disease grant added through a rule document alone, published and decided."""

from __future__ import annotations

from tests.admin.conftest import post_bill

FEMALE_CANCERS = {
    "diseases": [
        {"code": "FC01", "name_zh": "乳腺癌", "name_en": "Breast cancer", "include": ["C50"], "class": "A"},
        {"code": "FC02", "name_zh": "宫颈癌", "name_en": "Cervical cancer", "include": ["C53"], "class": "A"},
        {"code": "FC03", "name_zh": "卵巢癌", "name_en": "Ovarian cancer", "include": ["C56"], "class": "B"},
        {"code": "FC04", "name_zh": "子宫内膜癌", "name_en": "Endometrial cancer", "include": ["C54-C55"], "class": "B"},
    ]
}
WOMENS_GRANT = {
    "code": "MA_WG",
    "programme": "mutual_aid",
    "name_zh": "女职工特殊疾病互助金",
    "name_en": "Women's special-disease grant",
    "rules": [
        {"id": "not_enrolled", "step": "programme", "when": {"enrolled": False}, "then": "not_applicable", "reason": "NOT_ENROLLED"},
        {"id": "gender", "step": "scope", "when": {"member_gender": {"ne": "F"}}, "then": "not_applicable", "reason": "GENDER_NOT_COVERED"},
        {"id": "disease", "step": "scope", "when": {"main_diagnosis": {"not_in_catalog": "female_cancers"}},
         "then": "not_applicable", "reason": "DISEASE_NOT_IN_CATALOG"},
        {"id": "waiting_period", "step": "eligibility", "when": {"renewing": False, "days_since_coverage_start": {"lt": 90}},
         "then": "denied", "reason": "WAITING_PERIOD"},
    ],
    "amount": {"kind": "fixed_per_disease", "catalog": "female_cancers", "accumulate_over": "period",
               "amount_by_class": {"A": "5000.00", "B": "3000.00"}},
}


def _publish_womens_grant(client) -> dict:
    base = next(p for p in client.get("/v1/plans").json()["items"] if p["status"] == "published")
    draft = client.post(f"/v1/plans/{base['id']}/derive", json={"patch": [
        {"op": "add", "path": "/catalogs/female_cancers", "value": FEMALE_CANCERS},
        {"op": "add", "path": "/benefits/-", "value": WOMENS_GRANT},
        {"op": "replace", "path": "/name", "value": "womens-grant-2026"},
    ], "note": "女职工特殊疾病互助"}).json()
    assert draft["valid"], draft["errors"]
    return client.post(f"/v1/plans/{draft['id']}/publish", json={"effective_from": "2026-04-01"}).json()


def _line(claim: dict, code: str) -> dict:
    return next(line for line in claim["lines"] if line["benefit"] == code)


def test_a_womens_grant_added_by_data_pays_by_disease_class(client, admin_app):
    version = _publish_womens_grant(client)["version"]
    assert version.startswith("womens-grant-2026@")
    breast = post_bill(admin_app, setl_id="S-W1", begndate="2026-05-02", enddate="2026-05-09", diag="C50.901")
    claim = client.post("/v1/claims", json={"member_id": "W1", "settlement_id": breast, "submitted_on": "2026-05-20", "note": "纸质申请"}).json()
    assert claim["plan_version"] == version
    assert [line["benefit"] for line in claim["lines"]] == ["MA_IP", "MA_DA", "MA_CI", "CIR", "MA_WG"]
    # The line explains itself from the new plan's own names: the benefit's and the disease's.
    assert _line(claim, "MA_WG") == {"benefit": "MA_WG", "status": "approved", "amount": "5000.00", "reasons": [],
                                     "review_note": "", "reviewed": False,
                                     "name_zh": "女职工特殊疾病互助金", "name_en": "Women's special-disease grant",
                                     "explanation_zh": "给付5,000.00元；病种：乳腺癌（FC01）。",
                                     "explanation_en": "Paid 5,000.00 yuan; Disease: Breast cancer (FC01)."}
    assert _line(claim, "MA_CI")["amount"] == "10000.00"  # breast cancer is also a catalog critical illness
    # 6,000 (MA_IP on B 14,000) + 140 (7 days x 20) + 10,000 + 5,000
    assert claim["total"] == "21140.00"
    assert any(t["rule"] == "MA_WG.amount" and t["numbers"]["class"] == "A" for t in claim["trace"])


def test_the_womens_grant_class_b_amount_and_once_per_disease(client, admin_app):
    _publish_womens_grant(client)
    first = post_bill(admin_app, setl_id="S-W2", begndate="2026-05-02", enddate="2026-05-04", diag="C56.x00")
    second = post_bill(admin_app, setl_id="S-W3", begndate="2026-06-02", enddate="2026-06-04", diag="C56.x00")
    a = client.post("/v1/claims", json={"member_id": "W1", "settlement_id": first, "submitted_on": "2026-06-20", "note": "纸质申请"}).json()
    b = client.post("/v1/claims", json={"member_id": "W1", "settlement_id": second, "submitted_on": "2026-06-20", "note": "纸质申请"}).json()
    assert _line(a, "MA_WG")["amount"] == "3000.00"
    assert _line(b, "MA_WG")["status"] == "denied"
    assert [r["code"] for r in _line(b, "MA_WG")["reasons"]] == ["ALREADY_PAID_FOR_DISEASE"]


def test_the_womens_grant_does_not_apply_to_men_or_other_diseases(client, admin_app):
    _publish_womens_grant(client)
    man = post_bill(admin_app, patient="M1", setl_id="S-M1", begndate="2026-05-02", enddate="2026-05-04", diag="C50.901")
    other = post_bill(admin_app, setl_id="S-W4", begndate="2026-05-02", enddate="2026-05-04", diag="J18.900")
    m = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": man, "submitted_on": "2026-05-20", "note": "纸质申请"}).json()
    w = client.post("/v1/claims", json={"member_id": "W1", "settlement_id": other, "submitted_on": "2026-05-20", "note": "纸质申请"}).json()
    assert [r["code"] for r in _line(m, "MA_WG")["reasons"]] == ["GENDER_NOT_COVERED"]
    assert _line(m, "MA_WG")["status"] == "not_applicable"
    assert [r["code"] for r in _line(w, "MA_WG")["reasons"]] == ["DISEASE_NOT_IN_CATALOG"]


def test_claims_admitted_before_the_grant_takes_effect_do_not_get_it(client, admin_app):
    _publish_womens_grant(client)
    march = post_bill(admin_app, setl_id="S-W5", begndate="2026-03-02", enddate="2026-03-04", diag="C50.901")
    claim = client.post("/v1/claims", json={"member_id": "W1", "settlement_id": march, "submitted_on": "2026-04-20", "note": "纸质申请"}).json()
    assert [line["benefit"] for line in claim["lines"]] == ["MA_IP", "MA_DA", "MA_CI", "CIR"]


def test_a_grant_by_class_must_price_every_class_of_its_catalog(client):
    base = next(p for p in client.get("/v1/plans").json()["items"] if p["status"] == "published")
    unpriced = {**WOMENS_GRANT, "amount": {**WOMENS_GRANT["amount"], "amount_by_class": {"A": "5000.00"}}}
    draft = client.post(f"/v1/plans/{base['id']}/derive", json={"patch": [
        {"op": "add", "path": "/catalogs/female_cancers", "value": FEMALE_CANCERS},
        {"op": "add", "path": "/benefits/-", "value": unpriced},
    ]}).json()
    assert draft["valid"] is False
    assert [e["field"] for e in draft["errors"]] == ["benefits[4].amount.amount_by_class"]
    assert "'B'" in draft["errors"][0]["message"]
