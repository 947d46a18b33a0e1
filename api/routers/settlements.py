"""The hospital API: post settlements (the national setlinfo record), read your own."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from api import idempotency
from api.deps import CurrentCaller, PagingDep, RowId, SessionDep
from api.idempotency import IdempotencyDep
from claims.settlement import AMOUNT_FIELDS, COMPONENT_FUNDS, REQUIRED_FIELDS
from service import settlements
from service.errors import Invalid
from service.idempotency import Answer
from service.schemas import Page, SettlementRead

router = APIRouter(prefix="/v1", tags=["hospitals"])

_AMOUNT = {
    "anyOf": [{"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}, {"type": "number", "minimum": 0}],
    "description": "yuan, at most two decimals (a string is best; numbers are read as exact decimals)",
}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 64}
SETTLEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "SettlementRecord",
    "description": "The national medical-insurance settlement record (setlinfo); amounts must add up (default-plan.md section 2).",
    "properties": {
        "fixmedins_code": _TEXT,
        "fixmedins_name": {"type": "string", "maxLength": 200},
        "hosp_lv": {"type": "string", "enum": [f"{i:02d}" for i in range(1, 12)]},
        "setl_id": _TEXT,
        "psn_no": {"type": "string", "maxLength": 64},
        "insutype": {"type": "string", "enum": ["310", "390", "320", "330", "392", "510"]},
        "med_type": {"type": "string", "minLength": 1, "maxLength": 8},
        "begndate": {"type": "string", "format": "date"},
        "enddate": {"type": "string", "format": "date"},
        **{name: _AMOUNT for name in AMOUNT_FIELDS},
        "diagnoses": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "diag_code": {"type": "string", "minLength": 1, "maxLength": 32},
                    "diag_name": {"type": "string", "maxLength": 200},
                    "maindiag_flag": {"type": "string", "enum": ["0", "1"]},
                },
                "required": ["diag_code", "maindiag_flag"],
            },
        },
    },
    "required": [f for f in REQUIRED_FIELDS if f not in COMPONENT_FUNDS],
}


async def exact_json_body(request: Request) -> Any:
    """The JSON body with every number read as an exact Decimal, never a binary float."""
    raw = await request.body()
    try:
        return json.loads(raw or b"null", parse_float=Decimal, parse_int=int)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Invalid.at("body", f"not valid JSON: {err}") from None
    except RecursionError:
        raise Invalid.at("body", "nested too deeply to be a settlement") from None


ExactBody = Annotated[Any, Depends(exact_json_body)]


@router.post(
    "/settlements",
    response_model=SettlementRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The same settlement was already posted with the same content", "model": SettlementRead},
               409: {"description": "The same (hospital, setl_id) was posted with different content, "
                                    "or a request with this Idempotency-Key is still being answered"},
               422: {"description": "Inconsistent settlement: the field at fault is named; nothing is stored "
                                    "(also an Idempotency-Key used for another request)"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": SETTLEMENT_SCHEMA}}}},
)
def post_settlement(body: ExactBody, session: SessionDep, caller: CurrentCaller, once: IdempotencyDep):
    """Post a settlement right after discharge. Posting it again with the same content is safe."""
    def post() -> Answer:
        row, created = settlements.post_settlement(session, caller, body)
        return Answer(status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                      settlements.to_read(row).model_dump(mode="json"))

    return idempotency.answer_once(session, caller, once, post)


@router.get("/settlements/{settlement_id}", response_model=SettlementRead)
def get_settlement(settlement_id: RowId, session: SessionDep, caller: CurrentCaller):
    return settlements.to_read(settlements.get_settlement(session, caller, settlement_id))


@router.get("/settlements", response_model=Page[SettlementRead])
def list_settlements(session: SessionDep, caller: CurrentCaller, paging: PagingDep,
                     hospital: Annotated[str | None, Query(max_length=32)] = None):
    rows, total = settlements.list_settlements(session, caller, hospital, paging.page, paging.page_size)
    return Page[SettlementRead](items=[settlements.to_read(r) for r in rows], total=total,
                                page=paging.page, page_size=paging.page_size)
