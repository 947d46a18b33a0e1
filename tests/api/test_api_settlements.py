"""The hospital API: settlements are stored once per (hospital, setl_id), whole or not at all."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import models
from tests.api.builders import auth, post_settlement, settlement

PROBLEM = "application/problem+json"


def stored_settlements(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(models.Settlement))


def test_a_hospital_posting_the_same_settlement_again_gets_the_stored_one_back(client, cast, session) -> None:
    bill = settlement(setl_id="S-RETRY-1")
    first = client.post("/v1/settlements", json=bill, headers=auth(cast.hospital))
    assert first.status_code == 201, first.text

    again = client.post("/v1/settlements", json=bill, headers=auth(cast.hospital))

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert stored_settlements(session) == 1


def test_the_same_bill_spelled_differently_is_the_same_settlement(client, cast, session) -> None:
    """A retry may print 1000.00 as 1000 or 1000.000, pad a code with spaces or add a time of day."""
    bill = settlement(setl_id="S-RETRY-2")
    first = client.post("/v1/settlements", json=bill, headers=auth(cast.hospital)).json()
    respelled = {**bill, "psn_cash_pay": "1000", "psn_part_amt": "1000.000", "setl_id": " S-RETRY-2 ",
                 "begndate": bill["begndate"] + " 08:30:00"}

    again = client.post("/v1/settlements", json=respelled, headers=auth(cast.hospital))

    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    assert stored_settlements(session) == 1


def test_the_same_settlement_id_with_other_content_is_a_conflict_and_the_first_stays(client, cast, session) -> None:
    first = post_settlement(client, cast.hospital, setl_id="S-TWICE", b="1000.00")

    other = client.post("/v1/settlements", json=settlement(setl_id="S-TWICE", b="2000.00"), headers=auth(cast.hospital))

    assert other.status_code == 409, other.text
    assert other.headers["content-type"] == PROBLEM
    assert "S-TWICE" in other.json()["detail"]
    stored = client.get(f"/v1/settlements/{first['id']}", headers=auth(cast.hospital)).json()
    assert stored["in_policy_self_pay"] == "1000.00"
    assert stored_settlements(session) == 1


def test_two_hospitals_may_use_the_same_settlement_id(client, cast, session) -> None:
    one = post_settlement(client, cast.hospital, setl_id="S-SAME", fixmedins_code="H1")
    two = post_settlement(client, cast.hospital_other, setl_id="S-SAME", fixmedins_code="H2")
    assert one["id"] != two["id"]
    assert stored_settlements(session) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"setl_id": None}, "setl_id"),
        ({"begndate": ""}, "begndate"),
        ({"diagnoses": None}, "diagnoses"),
        ({"acct_pay": None}, "acct_pay"),
        ({"hifob_pay": "0.001", "fund_pay_sumamt": "4000.001"}, "hifob_pay"),
        ({"overlmt_selfpay": "-5.00"}, "overlmt_selfpay"),
        ({"medfee_sumamt": "abc"}, "medfee_sumamt"),
        ({"enddate": "2020-01-01"}, "enddate"),
        ({"diagnoses": [{"diag_code": "J18.900", "maindiag_flag": "1"}, {"diag_code": "I10", "maindiag_flag": "1"}]},
         "diagnoses"),
        ({"diagnoses": [{"diag_code": "J18.900", "maindiag_flag": "0"}]}, "diagnoses"),
        ({"hifmi_pay": "10.00"}, "fund_pay_sumamt"),
        ({"medfee_sumamt": "5000.01"}, "medfee_sumamt"),
        ({"inscp_scp_amt": "4999.99"}, "inscp_scp_amt"),
        ({"acct_pay": "0.01"}, "psn_part_amt"),
    ],
)
def test_a_settlement_that_does_not_add_up_is_refused_naming_its_field_and_nothing_is_stored(
    client, cast, session, change, field
) -> None:
    refused = client.post("/v1/settlements", json=settlement(**change), headers=auth(cast.hospital))

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    problem = refused.json()
    assert problem["status"] == 422
    assert problem["type"] == "/problems/bill-inconsistent"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert stored_settlements(session) == 0
    assert session.scalar(select(func.count()).where(models.AuditEntry.entity == "settlement")) == 0


def test_a_settlement_shaped_wrong_is_refused_naming_its_field(client, cast, session) -> None:
    refused = client.post("/v1/settlements", json=settlement(begndate="02/05/2025"), headers=auth(cast.hospital))
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["begndate"]
    assert stored_settlements(session) == 0


def test_numbers_in_a_json_body_are_read_as_exact_decimals(client, cast, session) -> None:
    """0.1 + 0.2 is 0.3 exactly (in binary floating point it is 0.30000000000000004)."""
    bill = settlement(fund="0.30", b="1000.00", setl_id="S-EXACT")
    bill.update(hifp_pay="@0.1", hifob_pay="@0.2", fund_pay_sumamt="@0.3", acct_pay="@100.000",
                psn_cash_pay="@900", medfee_sumamt="@1000.3")
    body = re.sub(r'"@([0-9.]+)"', r"\1", json.dumps(bill))  # "@0.1" -> 0.1, a JSON number
    assert '"hifp_pay": 0.1,' in body and '"acct_pay": 100.000,' in body  # really JSON numbers

    posted = client.post("/v1/settlements", content=body,
                         headers={**auth(cast.hospital), "content-type": "application/json"})

    assert posted.status_code == 201, posted.text
    record = posted.json()["record"]
    assert (record["hifp_pay"], record["hifob_pay"], record["fund_pay_sumamt"]) == ("0.10", "0.20", "0.30")
    assert (record["acct_pay"], record["psn_cash_pay"], record["medfee_sumamt"]) == ("100.00", "900.00", "1000.30")
    assert posted.json()["in_policy_self_pay"] == "1000.00"


def test_a_number_with_more_than_two_decimals_is_refused_not_rounded(client, cast, session) -> None:
    body = json.dumps(settlement(setl_id="S-FEN")).replace('"acct_pay": "0.00"', '"acct_pay": 0.001')
    refused = client.post("/v1/settlements", content=body,
                          headers={**auth(cast.hospital), "content-type": "application/json"})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["acct_pay"]
    assert stored_settlements(session) == 0


def test_a_hospital_cannot_post_a_settlement_of_another_hospital(client, cast, session) -> None:
    refused = client.post("/v1/settlements", json=settlement(fixmedins_code="H1"), headers=auth(cast.hospital_other))
    assert refused.status_code == 403, refused.text
    assert stored_settlements(session) == 0


def test_a_settlement_of_an_unregistered_hospital_is_refused(client, cast, session) -> None:
    refused = client.post("/v1/settlements", json=settlement(fixmedins_code="H404"), headers=auth(cast.admin))
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["fixmedins_code"]
    assert stored_settlements(session) == 0


def test_a_hospital_reads_and_lists_only_its_own_settlements(client: TestClient, cast) -> None:
    own = [post_settlement(client, cast.hospital)["id"] for _ in range(2)]
    other = post_settlement(client, cast.hospital_other, fixmedins_code="H2")["id"]

    mine = client.get("/v1/settlements", headers=auth(cast.hospital)).json()
    theirs = client.get("/v1/settlements", headers=auth(cast.hospital_other)).json()
    everything = client.get("/v1/settlements", headers=auth(cast.admin)).json()
    of_h2 = client.get("/v1/settlements", params={"hospital": "H2"}, headers=auth(cast.admin)).json()
    # A hospital's own filter cannot widen what it sees.
    widened = client.get("/v1/settlements", params={"hospital": "H2"}, headers=auth(cast.hospital)).json()

    assert ([s["id"] for s in mine["items"]], mine["total"]) == (own, 2)
    assert ([s["id"] for s in theirs["items"]], theirs["total"]) == ([other], 1)
    assert everything["total"] == 3
    assert [s["id"] for s in of_h2["items"]] == [other]
    assert [s["id"] for s in widened["items"]] == own
    assert client.get(f"/v1/settlements/{own[0]}", headers=auth(cast.hospital)).status_code == 200
    # Another hospital's bill is answered as an id never posted: its existence is not revealed.
    assert client.get(f"/v1/settlements/{own[0]}", headers=auth(cast.hospital_other)).json() == \
        client.get("/v1/settlements/999999", headers=auth(cast.hospital_other)).json() | {
            "detail": f"no settlement {own[0]}", "instance": f"/v1/settlements/{own[0]}"}
    assert client.get("/v1/settlements/999999", headers=auth(cast.hospital)).status_code == 404


def test_a_posted_settlement_is_in_the_audit_log(client, cast, session) -> None:
    posted = post_settlement(client, cast.hospital, setl_id="S-AUDIT")
    client.post("/v1/settlements", json=settlement(setl_id="S-AUDIT"), headers=auth(cast.hospital))  # a retry
    entries = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "settlement.posted")).all()
    assert [(e.entity_id, e.details["setl_id"]) for e in entries] == [(str(posted["id"]), "S-AUDIT")]
