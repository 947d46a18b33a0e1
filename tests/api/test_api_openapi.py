"""The API's documentation: served offline, and true to what every route answers.

The rules are held for every route of ``app.routes`` (those added later included):
a summary and a description; a key → the bearer scheme, 401, 403, 422 and 429; every
problem answer as ``application/problem+json`` with the ``Problem`` schema the
handlers send (never FastAPI's ``HTTPValidationError``); a body → 413; a path
parameter → 404; a list → ``{items,total,page,page_size}``; a 201 or 202 → ``Location``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from api import problems
from api.deps import CurrentCaller, get_principal
from api.problems import MEDIA_TYPE
from service.schemas import Problem
from tests.api.builders import YEAR, auth, enrollment, settlement
from tests.builders import certno_for

PROBLEM_REF = "#/components/schemas/Problem"
PAGE_FIELDS = {"items", "total", "page", "page_size"}
# A create that makes many things names no one of them (its body lists them all).
NO_LOCATION = {("POST", "/v1/claims/batch"): "a batch makes many claims; its answer lists each"}


def operations(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every documented operation of the app."""
    found = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            found += [(m, ctx.path, route) for m in sorted(route.methods) if m != "HEAD"]
    return found


@pytest.fixture
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _authenticated(route: APIRoute) -> bool:
    def walk(dependant) -> bool:
        return any(d.call is get_principal or walk(d) for d in dependant.dependencies)

    return walk(route.dependant)


def violations(app: FastAPI) -> list[str]:
    """Every way the app's documented operations break the rules of this module's docstring."""
    spec = app.openapi()
    wrong: list[str] = []
    for method, path, route in operations(app):
        where = f"{method} {path}"
        op = spec["paths"][path][method.lower()]
        answers = op["responses"]
        if not route.summary:
            wrong.append(f"{where}: no summary= (the function's name is no summary)")
        if not (route.description or "").strip():
            wrong.append(f"{where}: no description (a docstring)")
        if _authenticated(route):
            if op.get("security") != [{"HTTPBearer": []}]:
                wrong.append(f"{where}: needs a key but declares no bearer security")
            for status in ("401", "403", "422", "429"):
                if status not in answers:
                    wrong.append(f"{where}: needs a key but documents no {status}")
        if "requestBody" in op and "413" not in answers:
            wrong.append(f"{where}: takes a body but documents no 413")
        if "{" in path and "404" not in answers:
            wrong.append(f"{where}: has a path parameter but documents no 404")
        for status, answer in answers.items():
            if int(status) >= 400 and answer.get("content") != {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}:
                wrong.append(f"{where}: {status} is not documented as application/problem+json Problem: {answer}")
        ok = next((answers[s] for s in ("200", "201", "202") if s in answers), None)
        if method == "GET" and ok is not None:
            schema = _resolve(spec, ok.get("content", {}).get("application/json", {}).get("schema", {}))
            if schema.get("type") == "array":
                wrong.append(f"{where}: a bare array; a list answers {sorted(PAGE_FIELDS)}")
            elif "items" in schema.get("properties", {}) and not PAGE_FIELDS <= set(schema["properties"]):
                # A page may carry more beside (the hardship register its counts by category).
                wrong.append(f"{where}: a list that is not a Page: {sorted(schema['properties'])}")
        for status in ("201", "202"):
            if status in answers and (method, path) not in NO_LOCATION and "Location" not in answers[status].get("headers", {}):
                wrong.append(f"{where}: answers {status} without documenting Location")
    if "HTTPValidationError" in spec.get("components", {}).get("schemas", {}):
        wrong.append("FastAPI's HTTPValidationError is in the schema; we never send it")
    return wrong


def test_every_operation_is_held_to_the_documentation_rules(app: FastAPI) -> None:
    assert len(operations(app)) > 30
    assert violations(app) == []


def test_the_rules_catch_a_route_that_breaks_them() -> None:
    """The checker itself: a list as a bare array, no summary, no docstring, a 201 without Location."""
    router = APIRouter()

    @router.get("/v1/things", response_model=list[int])
    def list_things(caller: CurrentCaller):
        return []

    @router.post("/v1/things/{thing_id}", status_code=201, summary="Make a thing", response_model=int)
    def make_thing(thing_id: int, caller: CurrentCaller):
        """Makes one."""
        return thing_id

    bad = FastAPI()
    bad.include_router(router)
    problems.document(bad)
    found = violations(bad)
    assert "GET /v1/things: no summary= (the function's name is no summary)" in found
    assert "GET /v1/things: no description (a docstring)" in found
    assert any(v.startswith("GET /v1/things: a bare array") for v in found)
    # What follows from a route's form is documented for it: only Location is missing.
    assert [v for v in found if v.startswith("POST")] == ["POST /v1/things/{thing_id}: answers 201 without documenting Location"]


def test_the_problem_schema_is_what_the_handlers_send(client: TestClient, spec: dict[str, Any], admin_key: str) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) == {
        "type", "title", "status", "detail", "instance", "errors"}
    # A validation error, a 401 and a 404 as sent fit the documented schema.
    for answer in (client.post("/v1/unions", json={"id": ""}, headers=auth(admin_key)),
                   client.get("/v1/unions"),
                   client.get("/v1/claims/99999", headers=auth(admin_key))):
        assert answer.headers["content-type"] == MEDIA_TYPE
        Problem.model_validate(answer.json(), strict=True)
        assert answer.json()["status"] == answer.status_code


def test_the_bearer_scheme_is_declared_for_the_authorize_button(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "/health" in spec["paths"] and "security" not in spec["paths"]["/health"]["get"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_only_files_the_app_serves_itself(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html.text)
    urls += re.findall(r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']""", html.text)
    assert urls, "the page names no script, style or spec"
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url} from elsewhere"
        assert client.get(url).status_code == 200, url
    assert "http://" not in html.text and "https://" not in html.text


def test_lists_of_plans_unions_and_hospitals_are_pages(client: TestClient, cast) -> None:
    for path in ("/v1/plans", "/v1/unions", "/v1/hospitals"):
        first = client.get(path, params={"page_size": 1}, headers=auth(cast.admin)).json()
        assert set(first) == PAGE_FIELDS and first["page_size"] == 1 and len(first["items"]) == 1, path
        assert first["total"] >= 2 or path == "/v1/plans", path
    unions = client.get("/v1/unions", params={"page": 2, "page_size": 1}, headers=auth(cast.admin)).json()
    # The cast's union tree, by id: C2, L1, L2, R, U1, U2.
    assert [u["id"] for u in unions["items"]] == ["L1"] and unions["total"] == 6
    # An officer's page counts only their own union.
    mine = client.get("/v1/unions", headers=auth(cast.officer)).json()
    assert mine["total"] == 1 and [u["id"] for u in mine["items"]] == ["U1"]


def test_a_page_size_over_the_limit_is_refused_naming_it(client: TestClient, cast) -> None:
    answer = client.get("/v1/hospitals", params={"page_size": 201}, headers=auth(cast.admin))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "page_size"


def test_every_create_answers_201_with_the_location_of_what_it_made(client: TestClient, cast) -> None:
    admin = auth(cast.admin)
    made = [
        client.post("/v1/unions", json={"id": "U7", "name": "新工会"}, headers=admin),
        client.post("/v1/hospitals", json={"code": "H7", "name": "新医院", "grade": "03"}, headers=admin),
        client.post("/v1/members", json={"id": "M7", "union_id": "U1", "certno": certno_for("M7")}, headers=admin),
        client.post("/v1/members/M7/enrollments", json=enrollment(YEAR), headers=admin),
        client.post("/v1/members/M7/hardship", json={"category": "dibao", "registered_on": f"{YEAR}-01-01"},
                    headers=admin),
        client.post("/v1/keys", json={"role": "member", "member_id": "M7"}, headers=admin),
    ]
    plan_id = client.get("/v1/plans", headers=admin).json()["items"][0]["id"]
    made.append(client.post(f"/v1/plans/{plan_id}/derive", headers=admin,
                            json={"patch": [{"op": "replace", "path": "/title_en", "value": "derived"}]}))
    document = client.get(f"/v1/plans/{plan_id}", headers=admin).json()["document"]
    made.append(client.post("/v1/plans", json=document, headers=admin))
    for answer in made:
        assert answer.status_code == 201, answer.text
        location = answer.headers["location"]
        if "/keys/" in location:  # read through the key routes, which another branch brings
            assert location == f"/v1/keys/{answer.json()['id']}"
            continue
        read = client.get(location, headers=admin)
        assert read.status_code == 200, location
        assert any(v in read.text for v in (str(answer.json().get("id")), answer.json().get("code", "-"))), location


def test_a_settlement_and_a_claim_answer_with_their_location_also_when_replayed(client: TestClient, cast) -> None:
    posted = client.post("/v1/settlements", json=_settlement_body(), headers=auth(cast.hospital))
    assert posted.status_code == 201 and posted.headers["location"] == f"/v1/settlements/{posted.json()['id']}"
    again = client.post("/v1/settlements", json=_settlement_body(), headers=auth(cast.hospital))
    assert again.status_code == 200 and "location" not in again.headers  # nothing was made
    claim = {"member_id": "M1", "settlement_id": posted.json()["id"]}
    once = {**auth(cast.officer), "Idempotency-Key": "claim-location-1"}
    first = client.post("/v1/claims", json=claim, headers=once)
    assert first.status_code == 201 and first.headers["location"] == f"/v1/claims/{first.json()['id']}"
    replay = client.post("/v1/claims", json=claim, headers=once)
    assert replay.status_code == 201 and replay.headers["location"] == first.headers["location"]


def _settlement_body() -> dict[str, Any]:
    return settlement(fixmedins_code="H1", setl_id="LOC-1")


def test_a_simulation_job_answers_202_with_the_location_of_the_job(client: TestClient, cast,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("service.simulation.launch", lambda job_id, db_url: None)
    plan_id = client.get("/v1/plans", headers=auth(cast.admin)).json()["items"][0]["id"]
    answer = client.post(f"/v1/plans/{plan_id}/simulate", json={}, headers=auth(cast.admin))
    assert answer.status_code == 202
    assert answer.headers["location"] == f"/v1/jobs/{answer.json()['id']}"
    assert client.get(answer.headers["location"], headers=auth(cast.admin)).status_code == 200


def test_a_union_not_the_officers_is_answered_as_one_that_does_not_exist(client: TestClient, cast) -> None:
    other = client.get("/v1/unions/U2", headers=auth(cast.officer))
    missing = client.get("/v1/unions/U404", headers=auth(cast.officer))
    assert other.status_code == missing.status_code == 404
    # The same body but for the id asked.
    assert other.text.replace("U2", "?") == missing.text.replace("U404", "?")
