"""Paying members: payee accounts, payment runs (maker–checker), the bank's files, remittance advice."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import HTMLResponse

from api.deps import CurrentCaller, PagingDep, PlansDep, RowId, SessionDep, WritingSessionDep
from api.problems import answers
from api.routers import CREATED, located
from api.routers.registry import IMPORT_BODY, _uploaded_csv
from claims.money import format_fen
from service import payments
from service.schemas import (
    Page,
    PayeeAccountRead,
    PayeeAccountWrite,
    PaymentRunCreate,
    PaymentRunCreated,
    PaymentRunDetail,
    PaymentRunRead,
    RemittanceAdvice,
    ReturnsResult,
)

router = APIRouter(prefix="/v1", tags=["payments"])
RunStatus = Literal["draft", "approved", "exported", "closed", "cancelled"]


@router.put("/members/{member_id}/payee-account", response_model=PayeeAccountRead, summary="Set a member's payee account",
            responses=answers(409, s409="An item of the member is with the bank (an exported, unsettled run)"))
def set_payee_account(member_id: str, data: PayeeAccountWrite, session: SessionDep, caller: CurrentCaller):
    """The account a member is paid into (the member, their union's officers, administrators).

    It replaces the active account, which is kept (deactivated); the number is answered
    masked (``****1234``) and the audit log keeps it masked. Refused while an item of
    the member is in an exported run the bank has not settled (409).
    """
    return payments.account_read(payments.set_payee_account(session, caller, member_id, data))


@router.get("/members/{member_id}/payee-account", response_model=PayeeAccountRead, summary="Read a member's payee account")
def get_payee_account(member_id: str, session: SessionDep, caller: CurrentCaller):
    """The member's active account, masked: to the member, their officers, finance of their union's tree."""
    return payments.account_read(payments.get_payee_account(session, caller, member_id))


@router.post("/payment-runs", status_code=status.HTTP_201_CREATED, response_model=PaymentRunCreated,
             summary="Build a payment run",
             responses={**CREATED, **answers(404, 409, s404="No such union (or not in the caller's tree)",
                                             s409="Nothing is left to pay, or another run took the lines at the same moment")})
def create_run(data: PaymentRunCreate, response: Response, session: SessionDep, caller: CurrentCaller):
    """A draft run over the approved, unpaid lines of a union's subtree decided in a window (finance, administrators).

    One item a member adding up their lines, their open recoveries netted first. Members
    with no active payee account (or owing more than they are owed) get no item and
    are listed in ``left_out``.
    """
    run, left_out = payments.create_run(session, caller, data)
    located(response, f"/v1/payment-runs/{run.id}")
    return PaymentRunCreated.model_validate({**_run_read(run).model_dump(), "left_out": left_out})


@router.get("/payment-runs", response_model=Page[PaymentRunRead], summary="List payment runs")
def list_runs(session: SessionDep, caller: CurrentCaller, paging: PagingDep,
              status_: Annotated[RunStatus | None, Query(alias="status")] = None):
    """Payment runs newest first; a finance officer sees those of their union's tree."""
    rows, total = payments.list_runs(session, caller, status=status_, page=paging.page, page_size=paging.page_size)
    return Page[PaymentRunRead](items=[_run_read(r) for r in rows], total=total, page=paging.page,
                                page_size=paging.page_size)


@router.get("/payment-runs/{run_id}", response_model=PaymentRunDetail, summary="Read a payment run with its items")
def get_run(run_id: RowId, session: SessionDep, caller: CurrentCaller):
    """The run, each item with its lines; account numbers masked."""
    run = payments.get_run(session, caller, run_id)
    return PaymentRunDetail.model_validate({**_run_read(run).model_dump(), "payment_items": payments.run_items(session, run.id)})


@router.post("/payment-runs/{run_id}/approve", response_model=PaymentRunRead, summary="Approve a payment run",
             responses=answers(409, s409="The run is not a draft"))
def approve_run(run_id: RowId, session: SessionDep, caller: CurrentCaller):
    """The checker's approval: a finance officer or administrator other than the maker (the maker gets 403)."""
    return _run_read(payments.approve_run(session, caller, run_id))


@router.post("/payment-runs/{run_id}/cancel", response_model=PaymentRunRead, summary="Cancel a payment run",
             responses=answers(409, s409="The run was exported, closed or cancelled already"))
def cancel_run(run_id: RowId, session: SessionDep, caller: CurrentCaller):
    """Call off a draft or approved run: its lines are payable again, its recoveries open."""
    return _run_read(payments.cancel_run(session, caller, run_id))


@router.get("/payment-runs/{run_id}/bank-file", summary="Download the bank file of a payment run",
            response_class=Response,
            responses={200: {"description": "The CSV the bank pays from", "content": {"text/csv": {"schema": {"type": "string"}}}},
                       **answers(409, s409="The run is not approved (or was cancelled or closed)")})
def bank_file(run_id: RowId, session: WritingSessionDep, caller: CurrentCaller,
              encoding: Annotated[Literal["utf-8", "gb18030"], Query(description="utf-8 (with a BOM) or gb18030")] = "utf-8"):
    """CSV ``seq,payee_name,account_no,bank_name,amount,currency,reference,memo`` of an approved or exported run.

    The first download marks the run exported; every download is audited. The only
    place account numbers are whole. No cell starts a spreadsheet formula.
    """
    body, name = payments.bank_file(session, caller, run_id, encoding)
    return Response(body, media_type=f"text/csv; charset={encoding}",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/payment-runs/{run_id}/returns", response_model=ReturnsResult, summary="Import the bank's return file",
             responses=answers(409, s409="The run has not been exported"), openapi_extra={"requestBody": IMPORT_BODY})
def import_returns(data: Annotated[bytes, Depends(_uploaded_csv)], run_id: RowId, session: SessionDep,
                   caller: CurrentCaller):
    """CSV ``reference,status,reason,bank_ref,date`` (status ``paid`` or ``returned``; reference = the item id).

    All or nothing: a bad row refuses the file, each error named ``row N.column``. The
    same file again changes nothing. A returned item's lines are payable again; when
    every item is settled the run is closed.
    """
    return payments.import_returns(session, caller, run_id, data)


@router.get("/payment-items/{item_id}/advice", response_model=RemittanceAdvice, summary="Read a remittance advice",
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}})
def advice(item_id: RowId, session: SessionDep, caller: CurrentCaller, plans: PlansDep,
           format_: Annotated[Literal["json", "html"], Query(alias="format")] = "json"):
    """What a payment paid the member, claim by claim and line by line, with the reasons in Chinese and English.

    ``?format=html``: a printable page (Chinese, English beside). To the member, their
    officers, finance of their union's tree and administrators.
    """
    found = payments.advice(session, caller, plans, item_id)
    if format_ == "html":
        return HTMLResponse(payments.advice_html(found))
    return found


@router.get("/payment-items/{item_id}/advice.html", response_class=HTMLResponse,
            summary="Print a remittance advice")
def advice_page(item_id: RowId, session: SessionDep, caller: CurrentCaller, plans: PlansDep):
    """The remittance advice as a printable page in Chinese with English beside."""
    return HTMLResponse(payments.advice_html(payments.advice(session, caller, plans, item_id)))


def _run_read(run) -> PaymentRunRead:
    return PaymentRunRead(
        id=run.id, union_id=run.union_id, status=run.status, decided_from=run.decided_from,
        decided_to=run.decided_to, total=format_fen(run.total), item_count=run.item_count, made_by=run.made_by,
        approved_by=run.approved_by, created_at=run.created_at, approved_at=run.approved_at,
        exported_at=run.exported_at, closed_at=run.closed_at, cancelled_at=run.cancelled_at)
