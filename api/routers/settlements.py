"""The hospital API: post settlements (the national setlinfo record), read your own."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status

from api import idempotency

from api.problems import answers
from api.routers import CREATED, located
from api.deps import CurrentCaller, PagingDep, ProvincialMedTypesDep, RowId, SessionDep
from api.idempotency import IdempotencyDep
from claims.identity import CERTNO_PATTERN
from claims.settlement import (
    AMOUNT_FIELDS,
    CERT_TYPES,
    COMPONENT_FUNDS,
    DIAGNOSIS_TEXT_LIMITS,
    HOSPITAL_GRADES,
    INSURANCE_TYPES,
    MEDICAL_TYPES,
    REQUIRED_FIELDS,
    TEXT_LIMITS,
)
from service import settlements
from service.errors import Invalid
from service.idempotency import Answer
from service.schemas import Page, SettlementRead

router = APIRouter(prefix="/v1", tags=["hospitals"])

_AMOUNT = {
    "anyOf": [{"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}, {"type": "number", "minimum": 0}],
    "description": "yuan, at most two decimals (a string is best; numbers are read as exact decimals)",
}
_VISIBLE = "no control or invisible (Unicode Cc, Cf) characters"
_ID = "compared and stored after Unicode NFKC (full-width ＺＷ－１ is ZW-1); " + _VISIBLE


def _text(limit: int, description: str = _VISIBLE, min_length: int = 0) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit, "description": description,
            **({"minLength": min_length} if min_length else {})}


def _codes(codes, description: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(codes), "description": description}


# What post_settlement enforces (claims.settlement.parse_posted_settlement), stated
# from the same lists; what a JSON schema cannot say is in the descriptions.
SETTLEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "SettlementRecord",
    "description": "The national medical-insurance settlement record (setlinfo); amounts must add up "
                   "(default-plan.md section 2); the bill must be true: hosp_lv the grade registered for the "
                   "hospital, the stay not ending after today (China's date), and no submitted_on (the service "
                   "records when a claim arrives). Every text: " + _VISIBLE + ".",
    "properties": {
        "fixmedins_code": _text(TEXT_LIMITS["fixmedins_code"], _ID, 1),
        "fixmedins_name": _text(TEXT_LIMITS["fixmedins_name"]),
        "hosp_lv": _codes(HOSPITAL_GRADES, "hospital grade, as registered for the hospital"),
        "setl_id": _text(TEXT_LIMITS["setl_id"], _ID, 1),
        "mdtrt_id": _text(TEXT_LIMITS["mdtrt_id"], _ID),
        "psn_no": _text(TEXT_LIMITS["psn_no"], _ID),
        "certno": {"type": "string", "pattern": CERTNO_PATTERN,
                   "description": "the patient's resident identity number (GB 11643 check digit; x is read as X; "
                                  "full-width digits as digits): only the member with this number may claim the bill"},
        "psn_cert_type": _codes(CERT_TYPES, "01: resident identity card"),
        "psn_name": _text(TEXT_LIMITS["psn_name"]),
        "insutype": _codes(INSURANCE_TYPES, "insurance type"),
        "med_type": _codes(MEDICAL_TYPES, "medical type: the national codes, plus the province's own that the "
                                          "deployment lists (claims serve --provincial-med-types)"),
        "begndate": {"type": "string", "format": "date"},
        "enddate": {"type": "string", "format": "date", "description": "not after today (China's date)"},
        **{name: _AMOUNT for name in AMOUNT_FIELDS},
        "diagnoses": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "diag_code": _text(DIAGNOSIS_TEXT_LIMITS["diag_code"], _ID, 1),
                    "diag_name": _text(DIAGNOSIS_TEXT_LIMITS["diag_name"]),
                    "maindiag_flag": {"type": "string", "enum": ["0", "1"]},
                },
                "required": ["diag_code", "maindiag_flag"],
            },
        },
    },
    "not": {"required": ["submitted_on"]},
    "required": [*(f for f in REQUIRED_FIELDS if f not in COMPONENT_FUNDS), "certno"],
}


def document_provincial_med_types(app: FastAPI, codes: frozenset[str]) -> None:
    """Make the app's OpenAPI document list the deployment's provincial med_type codes too."""
    if not codes:
        return
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            body = document["paths"]["/v1/settlements"]["post"]["requestBody"]["content"]["application/json"]
            med_type = body["schema"]["properties"]["med_type"]
            med_type["enum"] = [*MEDICAL_TYPES, *sorted(codes - set(MEDICAL_TYPES))]
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def loads_exact(raw: bytes, field: str) -> Any:
    """A settlement's JSON with every number read as an exact Decimal, never a binary float.

    The API's body and the console's uploaded record are read by this one function.
    ValueError, not only JSONDecodeError: an integer of more digits than Python reads
    (4,300) raises the plain one.
    """
    try:
        return json.loads(raw or b"null", parse_float=Decimal, parse_int=int)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors too
        raise Invalid.at(field, f"not valid JSON: {err}") from None
    except RecursionError:
        raise Invalid.at(field, "nested too deeply to be a settlement") from None


async def exact_json_body(request: Request) -> Any:
    """The JSON body with every number read as an exact Decimal, never a binary float."""
    return loads_exact(await request.body(), "body")


ExactBody = Annotated[Any, Depends(exact_json_body)]


@router.post(
    "/settlements",
    response_model=SettlementRead,
    status_code=status.HTTP_201_CREATED,
    summary="Post a settlement",
    responses={**CREATED,
               200: {"description": "The same settlement was already posted with the same content", "model": SettlementRead},
               **answers(409, 422, s409="The same (hospital, setl_id) was posted with different content, "
                                        "or a request with this Idempotency-Key is still being answered",
                         s422="Inconsistent or untrue settlement: the field at fault is named; nothing is stored "
                              "(also an Idempotency-Key used for another request)")},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": SETTLEMENT_SCHEMA}}}},
)
def post_settlement(body: ExactBody, session: SessionDep, caller: CurrentCaller, once: IdempotencyDep,
                    provincial_med_types: ProvincialMedTypesDep):
    """Post a settlement right after discharge. Posting it again with the same content is safe."""
    def post() -> Answer:
        row, created = settlements.post_settlement(session, caller, body, provincial_med_types)
        return Answer(status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                      settlements.to_read(row).model_dump(mode="json"))

    answer = idempotency.answer_once(session, caller, once, post)
    return located(answer, f"/v1/settlements/{json.loads(answer.body)['id']}")


@router.get("/settlements/{settlement_id}", response_model=SettlementRead, summary="Read a settlement",
            responses=answers(404, s404="No such settlement, or not one this key may read (the same answer)"))
def get_settlement(settlement_id: RowId, session: SessionDep, caller: CurrentCaller):
    """A settlement, to its hospital, to the patient (the member with its certno) and to their union's officers."""
    return settlements.to_read(settlements.get_settlement(session, caller, settlement_id))


@router.get("/settlements", response_model=Page[SettlementRead], summary="List settlements")
def list_settlements(session: SessionDep, caller: CurrentCaller, paging: PagingDep,
                     hospital: Annotated[str | None, Query(max_length=32)] = None):
    """A hospital's own settlements in the order posted (an administrator names the hospital or sees all)."""
    rows, total = settlements.list_settlements(session, caller, hospital, paging.page, paging.page_size)
    return Page[SettlementRead](items=[settlements.to_read(r) for r in rows], total=total,
                                page=paging.page, page_size=paging.page_size)
