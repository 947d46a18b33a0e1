"""Who may open which console page: every route of /console, by every kind of user.

Like the API's access matrix (tests/api/test_api_access.py, which leaves /console to
this file), a page added without a row here fails
``test_every_console_route_has_a_row``. A page of another role answers 403 with a page;
without a session, a redirect to the sign-in page; an id outside the user's scope the
same "not found" page as an id that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from tests.console.cast import Seeded
from tests.console.conftest import csrf_of

PUBLIC = "public"
USERS = ("admin", "officer", "officer_other", "finance", "finance_checker", "hospital", "hospital_other", "member",
         "member_other")


@dataclass(frozen=True)
class Row:
    allowed: tuple[str, ...]  # roles (usernames' roles) the page is for, or PUBLIC
    path: Callable[[Seeded], str] = lambda s: ""
    data: Callable[[Seeded], dict[str, Any]] = lambda s: {}


ROLE_OF = {"admin": "admin", "officer": "officer", "officer_other": "officer", "finance": "finance",
           "finance_checker": "finance",
           "hospital": "hospital", "hospital_other": "hospital", "member": "member", "member_other": "member"}

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/console"): Row(PUBLIC, lambda s: "/console"),
    ("GET", "/console/sign-in"): Row(PUBLIC, lambda s: "/console/sign-in"),
    ("POST", "/console/sign-in"): Row(PUBLIC, lambda s: "/console/sign-in"),
    ("POST", "/console/sign-out"): Row(PUBLIC, lambda s: "/console/sign-out"),
    ("GET", "/console/lang"): Row(PUBLIC, lambda s: "/console/lang?to=en"),
    ("GET", "/console/static/{path}"): Row(PUBLIC, lambda s: "/console/static/console.css"),
    ("GET", "/console/officer"): Row(("officer",), lambda s: "/console/officer"),
    ("GET", "/console/officer/members"): Row(("officer",), lambda s: "/console/officer/members?q=M"),
    ("GET", "/console/officer/members/{member_id}"): Row(("officer",), lambda s: "/console/officer/members/M1"),
    ("GET", "/console/officer/members/{member_id}/claims/new"): Row(
        ("officer",), lambda s: "/console/officer/members/M2/claims/new"),
    ("POST", "/console/officer/members/{member_id}/claims"): Row(
        ("officer",), lambda s: "/console/officer/members/M2/claims",
        lambda s: {"fixmedins_code": "H1", "setl_id": "NO-SUCH-BILL"}),
    ("GET", "/console/officer/claims/{claim_id}"): Row(("officer",), lambda s: f"/console/officer/claims/{s.approved_claim}"),
    ("POST", "/console/officer/claims/{claim_id}/review"): Row(
        ("officer",), lambda s: f"/console/officer/claims/{s.pended_claim}/review",
        lambda s: {"benefit": "MA_DA", "action_MA_DA": "skip"}),
    ("GET", "/console/officer/review"): Row(("officer",), lambda s: "/console/officer/review"),
    ("GET", "/console/officer/enrollments/import"): Row(("officer",), lambda s: "/console/officer/enrollments/import"),
    ("POST", "/console/officer/enrollments/import"): Row(("officer",), lambda s: "/console/officer/enrollments/import"),
    ("GET", "/console/officer/hardship"): Row(("officer",), lambda s: "/console/officer/hardship"),
    ("GET", "/console/hospital"): Row(("hospital",), lambda s: "/console/hospital"),
    ("GET", "/console/hospital/settlements/new"): Row(("hospital",), lambda s: "/console/hospital/settlements/new"),
    ("POST", "/console/hospital/settlements"): Row(("hospital",), lambda s: "/console/hospital/settlements",
                                                   lambda s: {"setl_id": ""}),
    ("GET", "/console/hospital/settlements/{settlement_id}"): Row(
        ("hospital",), lambda s: f"/console/hospital/settlements/{s.settlement}"),
    ("GET", "/console/admin"): Row(("admin",), lambda s: "/console/admin"),
    ("GET", "/console/admin/users"): Row(("admin",), lambda s: "/console/admin/users"),
    ("POST", "/console/admin/users"): Row(("admin",), lambda s: "/console/admin/users",
                                          lambda s: {"username": "", "role": "admin", "password": ""}),
    ("GET", "/console/admin/keys"): Row(("admin",), lambda s: "/console/admin/keys"),
    ("POST", "/console/admin/keys"): Row(("admin",), lambda s: "/console/admin/keys",
                                         lambda s: {"role": "member", "scope": "NO-SUCH-MEMBER"}),
    ("POST", "/console/admin/keys/{key_id}/revoke"): Row(("admin",), lambda s: "/console/admin/keys/999999/revoke"),
    ("GET", "/console/member"): Row(("member",), lambda s: "/console/member"),
    ("GET", "/console/member/claims/{claim_id}"): Row(("member",), lambda s: f"/console/member/claims/{s.approved_claim}"),
    ("GET", "/console/finance"): Row(("finance",), lambda s: "/console/finance"),
    # console2: the desk, reconciliation, payment runs, statements, benefits, advice, the plan editor
    ("GET", "/console/hospital/desk"): Row(("hospital",), lambda s: "/console/hospital/desk"),
    ("POST", "/console/hospital/desk/preview"): Row(("hospital",), lambda s: "/console/hospital/desk/preview",
                                                    lambda s: {"setl_id": ""}),
    ("POST", "/console/hospital/desk/settle"): Row(("hospital",), lambda s: "/console/hospital/desk/settle",
                                                   lambda s: {"setl_id": ""}),
    ("GET", "/console/hospital/settlements/{settlement_id}/decision"): Row(
        ("hospital",), lambda s: f"/console/hospital/settlements/{s.settlement}/decision"),
    ("POST", "/console/hospital/settlements/{settlement_id}/cancel"): Row(
        ("hospital",), lambda s: f"/console/hospital/settlements/{s.settlement}/cancel", lambda s: {"reason": ""}),
    ("GET", "/console/hospital/reconciliation"): Row(("hospital",), lambda s: "/console/hospital/reconciliation"),
    ("POST", "/console/hospital/reconciliation"): Row(("hospital",), lambda s: "/console/hospital/reconciliation",
                                                      lambda s: {"list": "no header"}),
    ("GET", "/console/finance/runs"): Row(("finance",), lambda s: "/console/finance/runs"),
    ("POST", "/console/finance/runs"): Row(("finance",), lambda s: "/console/finance/runs",
                                           lambda s: {"union_id": "R", "decided_from": "not-a-date"}),
    ("GET", "/console/finance/runs/{run_id}"): Row(("finance",), lambda s: "/console/finance/runs/999999"),
    ("POST", "/console/finance/runs/{run_id}/approve"): Row(("finance",), lambda s: "/console/finance/runs/999999/approve"),
    ("POST", "/console/finance/runs/{run_id}/cancel"): Row(("finance",), lambda s: "/console/finance/runs/999999/cancel"),
    ("POST", "/console/finance/runs/{run_id}/bank-file"): Row(("finance",),
                                                              lambda s: "/console/finance/runs/999999/bank-file"),
    ("POST", "/console/finance/runs/{run_id}/returns"): Row(("finance",), lambda s: "/console/finance/runs/999999/returns"),
    ("GET", "/console/finance/statements"): Row(("finance",), lambda s: "/console/finance/statements"),
    ("GET", "/console/member/benefits"): Row(("member",), lambda s: "/console/member/benefits"),
    ("GET", "/console/member/payments"): Row(("member",), lambda s: "/console/member/payments"),
    ("GET", "/console/member/payments/{item_id}"): Row(("member",), lambda s: "/console/member/payments/999999"),
    ("GET", "/console/member/payments/{item_id}/print"): Row(("member",),
                                                             lambda s: "/console/member/payments/999999/print"),
    ("POST", "/console/admin/plans"): Row(("admin",), lambda s: "/console/admin/plans"),
    ("GET", "/console/admin/plans/{plan_id}"): Row(("admin",), lambda s: "/console/admin/plans/1"),
    ("POST", "/console/admin/plans/{plan_id}/document"): Row(("admin",), lambda s: "/console/admin/plans/1/document",
                                                             lambda s: {"document": "name: x"}),
    ("GET", "/console/admin/plans/{plan_id}/diff"): Row(("admin",), lambda s: "/console/admin/plans/1/diff"),
    ("POST", "/console/admin/plans/{plan_id}/simulate"): Row(("admin",), lambda s: "/console/admin/plans/999999/simulate"),
    ("POST", "/console/admin/plans/{plan_id}/publish"): Row(("admin",), lambda s: "/console/admin/plans/1/publish",
                                                            lambda s: {"effective_from": ""}),
    ("POST", "/console/admin/plans/{plan_id}/retire"): Row(("admin",), lambda s: "/console/admin/plans/999999/retire"),
    ("GET", "/console/admin/jobs/{job_id}"): Row(("admin",), lambda s: "/console/admin/jobs/999999"),
    # console3: allocations, the federation report (officers, finance, administrators)
    ("GET", "/console/finance/allocations"): Row(("finance",), lambda s: "/console/finance/allocations"),
    ("POST", "/console/finance/allocations"): Row(("finance",), lambda s: "/console/finance/allocations",
                                                  lambda s: {"source": "region", "amount": "not-money"}),
    ("GET", "/console/reports"): Row(("officer", "finance", "admin"), lambda s: "/console/reports"),
    ("GET", "/console/reports/export"): Row(("officer", "finance", "admin"), lambda s: "/console/reports/export?format=csv"),
}


def console_routes(app: FastAPI) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):  # static files: read with GET
            found.add(("GET", f"{route.path}/{{path}}"))
            continue
        if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI >= 0.130)
            pairs = [(ctx.original_route, ctx.path) for ctx in route.effective_route_contexts()]
        else:
            pairs = [(route, route.path)]  # type: ignore[attr-defined]
        for original, path in pairs:
            found.update((m, path) for m in original.methods if m != "HEAD")
    return {(m, p) for m, p in found if p == "/console" or p.startswith("/console/")}


def test_every_console_route_has_a_row(console_app) -> None:
    routes = console_routes(console_app)
    assert sorted(routes - MATRIX.keys()) == [], "console routes with no row in the matrix"
    assert sorted(MATRIX.keys() - routes) == [], "rows for console routes the app does not have"


def _call(client, method: str, url: str, data: dict[str, Any]):
    if method == "GET":
        return client.get(url)
    page = client.get("/console/sign-in") if "sign-in" in url else None
    token = csrf_of(page.text) if page is not None else _session_csrf(client)
    return client.post(url, data={**data, "csrf_token": token})


def _session_csrf(client) -> str:
    # The signed-in user's token, from a page every user may open (the front door's target).
    home = client.get("/console", follow_redirects=True)
    return csrf_of(home.text) if 'name="csrf_token"' in home.text else ""


PROTECTED = [key for key, row in MATRIX.items() if row.allowed != PUBLIC]


@pytest.mark.parametrize("route", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_each_page_answers_its_own_role_and_refuses_every_other(route, signed_in, seeded) -> None:
    method, _ = route
    row = MATRIX[route]
    url = row.path(seeded)
    for username in USERS:
        client = signed_in(username)
        answer = _call(client, method, url, row.data(seeded))
        if ROLE_OF[username] in row.allowed:
            assert answer.status_code != 403 and "/sign-in" not in answer.headers.get("location", ""), \
                (username, answer.status_code, answer.text[:300])
        else:
            assert answer.status_code == 403, (username, answer.status_code)
            assert "无权访问" in answer.text and answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("route", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_without_a_session_each_page_sends_to_the_sign_in_page(route, signed_in, seeded) -> None:
    method, path = route
    client = signed_in("nobody")
    answer = client.get(MATRIX[route].path(seeded)) if method == "GET" else client.post(MATRIX[route].path(seeded))
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/sign-in?next=")


@pytest.mark.parametrize("username, url", [
    ("officer_other", "/console/officer/members/M1"),
    ("officer_other", "/console/officer/members/M1/claims/new"),
    ("officer_other", "/console/officer/claims/{approved_claim}"),
    ("member_other", "/console/member/claims/{approved_claim}"),
    ("hospital_other", "/console/hospital/settlements/{settlement}"),
])
def test_another_scopes_record_is_answered_as_one_that_does_not_exist(username, url, signed_in, seeded) -> None:
    client = signed_in(username)
    theirs = client.get(url.format(**seeded.__dict__))
    unknown = client.get(url.format(approved_claim=999999, settlement=999999).replace("/M1", "/NOBODY"))
    assert theirs.status_code == unknown.status_code == 404
    assert "未找到" in theirs.text


def test_an_officer_sees_the_pended_claim_of_their_union_in_the_queue_and_not_another_unions(signed_in, seeded) -> None:
    page = signed_in("officer").get("/console/officer/review")
    assert f"/console/officer/claims/{seeded.pended_claim}" in page.text
    assert f"/console/officer/claims/{seeded.other_claim}\"" not in page.text
    other = signed_in("officer_other").get("/console/officer/review")
    assert f"/console/officer/claims/{seeded.pended_claim}" not in other.text


def test_a_member_lists_only_their_own_claims(signed_in, seeded) -> None:
    page = signed_in("member").get("/console/member")
    assert f"/console/member/claims/{seeded.approved_claim}" in page.text
    assert f"/console/member/claims/{seeded.other_claim}\"" not in page.text


def test_an_officer_searches_their_own_unions_members_by_id_or_name(signed_in) -> None:
    mine = signed_in("officer").get("/console/officer/members?q=M", headers={"HX-Request": "true"})
    assert "<html" not in mine.text  # htmx gets the table alone
    assert "/console/officer/members/M1" in mine.text and "/console/officer/members/M3" not in mine.text
    by_name = signed_in("officer").get("/console/officer/members?q=秀英").text
    assert "/console/officer/members/M1" in by_name and "/console/officer/members/M2" not in by_name
    theirs = signed_in("officer_other").get("/console/officer/members?q=王秀英").text
    assert "/console/officer/members/M1" not in theirs


@pytest.mark.parametrize("q", ["%", "_", "M_"])
def test_a_search_for_a_wildcard_character_finds_it_literally(signed_in, q: str) -> None:
    page = signed_in("officer").get("/console/officer/members", params={"q": q})
    assert "/console/officer/members/M" not in page.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/consolex", "/v1/claims",
                                    "/console\\@evil", "/console/\r\nSet-Cookie: x=1"])
def test_the_language_switch_and_sign_in_return_only_inside_the_console(signed_in, target: str) -> None:
    answer = signed_in("nobody").get("/console/lang", params={"to": "en", "next": target})
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
