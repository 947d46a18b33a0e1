"""The hospital settlement (the national medical-insurance ``setlinfo`` record).

Field names are the national ones, so a hospital system posts what it already has.
``parse_settlement`` applies every consistency check of default-plan.md section 2 in
the order the plan gives and names the first field at fault; the batch command reads
case files with it. ``parse_posted_settlement`` is the stricter reading of a bill a
hospital posts to the service: the bill must also be true (domain.md, "Bills are true
to the registry": national codes, the patient's identity number, no stay ending in the
future, identifiers NFKC-normalised and free of control and invisible characters).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from claims.errors import BillInconsistent, InvalidCase
from claims.identity import hidden_character, identifier_problem, normalise_id, parse_certno
from claims.money import AmountError, parse_yuan

CODE_FIELDS = ("fixmedins_code", "setl_id", "hosp_lv", "insutype", "med_type")
# Every amount, in the order of the national field list (the order checks run in).
AMOUNT_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "hifp_pay",
    "hifob_pay",
    "hifmi_pay",
    "cvlserv_pay",
    "hifes_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
)
# The component funds count as 0.00 when absent or null.
COMPONENT_FUNDS = ("hifp_pay", "hifob_pay", "hifmi_pay", "cvlserv_pay", "hifes_pay", "maf_pay", "oth_pay")
REQUIRED_FIELDS = (
    *CODE_FIELDS,
    "begndate",
    "enddate",
    "diagnoses",
    *(f for f in AMOUNT_FIELDS if f not in COMPONENT_FUNDS),
)

# The national code lists (domain.md, "The hospital settlement").
HOSPITAL_GRADES = tuple(f"{i:02d}" for i in range(1, 12))  # 01 三级特等 .. 10 一丙, 11 no grade
INSURANCE_TYPES = ("310", "390", "320", "330", "392", "510")
MEDICAL_TYPES = ("11", "12", "13", "14", "21", "22", "23", "24", "41", "51", "52")
# Only the resident identity card: a member is known by its number, so a bill whose
# patient shows another kind of document could never be claimed.
CERT_TYPES = ("01",)
# Compared and stored after NFKC (diag_code too, inside each diagnosis).
IDENTIFIER_FIELDS = ("fixmedins_code", "setl_id", "mdtrt_id", "psn_no", "certno")
OPTIONAL_TEXT_FIELDS = ("fixmedins_name", "mdtrt_id", "psn_no", "psn_name", "psn_cert_type")
TEXT_LIMITS = {"fixmedins_code": 32, "fixmedins_name": 200, "setl_id": 64, "mdtrt_id": 64, "psn_no": 64,
               "psn_name": 50}
DIAGNOSIS_TEXT_LIMITS = {"diag_code": 32, "diag_name": 200}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    diag_code: str
    diag_name: str
    is_main: bool


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~8 us a claim on the batch path
class Settlement:
    """A validated settlement; every amount in integer fen. Treat it as read-only."""

    fixmedins_code: str
    fixmedins_name: str
    hosp_lv: str
    setl_id: str
    insutype: str
    med_type: str
    begndate: dt.date
    enddate: dt.date
    medfee_sumamt: int
    fulamt_ownpay_amt: int
    overlmt_selfpay: int
    preselfpay_amt: int
    inscp_scp_amt: int
    hifp_pay: int
    hifob_pay: int
    hifmi_pay: int
    cvlserv_pay: int
    hifes_pay: int
    maf_pay: int
    oth_pay: int
    fund_pay_sumamt: int
    psn_part_amt: int
    acct_pay: int
    psn_cash_pay: int
    diagnoses: tuple[Diagnosis, ...]

    @property
    def in_policy_self_pay(self) -> int:
        """B: the in-policy self-pay left after every fund (政策范围内个人自付)."""
        return max(0, self.inscp_scp_amt - self.fund_pay_sumamt)

    @property
    def length_of_stay(self) -> int:
        """LOS in days, at least 1 (a same-day discharge counts as one day)."""
        return max(1, (self.enddate - self.begndate).days)

    @property
    def main_diagnosis(self) -> Diagnosis:
        return next(d for d in self.diagnoses if d.is_main)

    @property
    def bill_key(self) -> tuple[str, str]:
        """What makes a bill unique: the hospital and its settlement id."""
        return (self.fixmedins_code, self.setl_id)


def parse_date(value: object, field: str) -> dt.date:
    """An ISO date, optionally with a time of day (only the date counts)."""
    if type(value) is str:
        if len(value) == 10:
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        text = value.strip()
        try:
            if len(text) > 10:
                return dt.datetime.fromisoformat(text.replace(" ", "T", 1)).date()
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidCase(field, f"{field} is not an ISO date: {value!r}")


def _parse_diagnoses(raw: object, prefix: str) -> tuple[Diagnosis, ...]:
    if not isinstance(raw, list):
        raise InvalidCase(f"{prefix}diagnoses", "diagnoses must be a list")
    out = []
    for i, item in enumerate(raw):
        path = f"{prefix}diagnoses[{i}]"
        if not isinstance(item, dict):
            raise InvalidCase(path, f"{path} must be an object")
        code = item.get("diag_code")
        if not isinstance(code, str):
            raise InvalidCase(f"{path}.diag_code", f"{path}.diag_code must be a string")
        name = item.get("diag_name") or ""
        if not isinstance(name, str):
            raise InvalidCase(f"{path}.diag_name", f"{path}.diag_name must be a string")
        flag = item.get("maindiag_flag")
        out.append(Diagnosis(code, name, str(flag).strip() == "1" if flag is not None else False))
    return tuple(out)


def parse_settlement(raw: object, prefix: str = "bill.") -> Settlement:
    """Validate a settlement record.

    Raises ``BillInconsistent`` (the bill is rejected, field named as section 2 names
    it) or ``InvalidCase`` (the record is not even shaped like a settlement, e.g. a
    date that does not parse; the field is given as a path starting with ``prefix``).
    """
    if not isinstance(raw, dict):
        raise InvalidCase(prefix.rstrip("."), "the bill must be an object")
    for field in REQUIRED_FIELDS:
        value = raw.get(field)
        if value is None or (type(value) is str and not value.strip()):
            raise BillInconsistent(field, f"{field} is required")
    for field in CODE_FIELDS:
        if not isinstance(raw[field], str):
            raise InvalidCase(prefix + field, f"{field} must be a string code")
    fen: dict[str, int] = {}
    for field in AMOUNT_FIELDS:
        value = raw.get(field)
        if value is None and field in COMPONENT_FUNDS:
            fen[field] = 0
            continue
        try:
            fen[field] = parse_yuan(value)
        except AmountError as err:
            raise BillInconsistent(field, f"{field} {err}: {value!r}") from None
        if fen[field] > MAX_BILL_FEN:
            raise BillInconsistent(field, f"{field} is larger than any hospital bill "
                                          f"(at most {MAX_BILL_FEN // 100} yuan): {value!r}")
    begndate = parse_date(raw["begndate"], prefix + "begndate")
    enddate = parse_date(raw["enddate"], prefix + "enddate")
    if enddate < begndate:
        raise BillInconsistent("enddate", f"enddate {enddate} is before begndate {begndate}")
    diagnoses = _parse_diagnoses(raw["diagnoses"], prefix)
    mains = sum(1 for d in diagnoses if d.is_main)
    if mains != 1:
        raise BillInconsistent("diagnoses", f"exactly one main diagnosis is required, found {mains}")

    funds = sum(fen[f] for f in COMPONENT_FUNDS)
    if fen["fund_pay_sumamt"] != funds:
        raise BillInconsistent("fund_pay_sumamt", "fund_pay_sumamt is not the sum of the seven funds")
    if fen["medfee_sumamt"] != fen["fund_pay_sumamt"] + fen["psn_part_amt"]:
        raise BillInconsistent("medfee_sumamt", "medfee_sumamt is not fund_pay_sumamt + psn_part_amt")
    scope = fen["medfee_sumamt"] - fen["fulamt_ownpay_amt"] - fen["overlmt_selfpay"] - fen["preselfpay_amt"]
    if fen["inscp_scp_amt"] != scope:
        raise BillInconsistent(
            "inscp_scp_amt",
            "inscp_scp_amt is not medfee_sumamt - fulamt_ownpay_amt - overlmt_selfpay - preselfpay_amt",
        )
    if fen["psn_part_amt"] != fen["acct_pay"] + fen["psn_cash_pay"]:
        raise BillInconsistent("psn_part_amt", "psn_part_amt is not acct_pay + psn_cash_pay")

    name = raw.get("fixmedins_name") or ""
    return Settlement(
        fixmedins_code=raw["fixmedins_code"].strip(),
        fixmedins_name=name if isinstance(name, str) else str(name),
        hosp_lv=raw["hosp_lv"].strip(),
        setl_id=raw["setl_id"].strip(),
        insutype=raw["insutype"].strip(),
        med_type=raw["med_type"].strip(),
        begndate=begndate,
        enddate=enddate,
        diagnoses=diagnoses,
        **fen,
    )


def parse_posted_settlement(
    raw: object, *, today: dt.date, provincial_med_types: frozenset[str] = frozenset()
) -> tuple[dict, Settlement]:
    """A settlement as a hospital posts it: ``parse_settlement`` and the bill must be true.

    Returns the record with its identifiers normalised (the form to keep) and the
    settlement read from it. On top of section 2: no control or invisible character in
    any text (the path named, e.g. ``diagnoses[0].diag_name``), every text within its
    length, the national codes (plus ``provincial_med_types``), the patient's resident
    identity number (``certno``), no stay ending after ``today`` (China's date), and no
    receipt date (``submitted_on`` is the service's to set when a claim arrives).
    Raises ``InvalidCase``, ``BillInconsistent`` or ``InvalidIdentity``, field named.
    The hospital grade against the registry is the caller's to check.
    """
    if not isinstance(raw, dict):
        raise InvalidCase("body", "the settlement must be an object")
    if "submitted_on" in raw:
        raise InvalidCase("submitted_on", "a settlement carries no receipt date: the service records when a claim arrives")
    _refuse_hidden(raw, "")
    record = _normalised(raw)
    _check_texts(record)
    _check_dates_are_china_s(record)
    bill = parse_settlement(record, prefix="")
    for field, allowed in (("hosp_lv", HOSPITAL_GRADES), ("insutype", INSURANCE_TYPES),
                           ("med_type", (*MEDICAL_TYPES, *sorted(provincial_med_types)))):
        if getattr(bill, field) not in allowed:
            raise InvalidCase(field, f"{getattr(bill, field)!r} is not a code of the list: {', '.join(allowed)}")
    record["certno"] = parse_certno(record.get("certno"))
    cert_type = record.get("psn_cert_type")
    if cert_type is not None and cert_type.strip() not in CERT_TYPES:
        raise InvalidCase("psn_cert_type", f"{cert_type!r} is not a code of the list: {', '.join(CERT_TYPES)}"
                                           " (the patient is known by their resident identity number)")
    if bill.enddate > today:
        raise InvalidCase("enddate", f"the stay cannot end in the future (enddate {bill.enddate}, today {today} in China)")
    earliest = years_before(today, OLDEST_ADMISSION_YEARS)
    if bill.begndate < earliest:
        # No plan pays a stay that old (the deadlines run 90 days after a period and
        # 365 after discharge), and an admission in year 1 would only make every later
        # schedule look as if it left days without a plan.
        raise InvalidCase("begndate", f"an admission before {earliest} ({OLDEST_ADMISSION_YEARS} years ago) "
                                      "cannot be claimed")
    return record, bill


OLDEST_ADMISSION_YEARS = 5
# No stay costs a hundred million yuan: a larger amount is a typo or an attack. Below it,
# a day's or a year's sums of any number of bills stay far inside a 64-bit integer
# (sixteen-digit amounts overflowed SQLite's SUM in a hospital's day totals after about ten bills).
MAX_BILL_FEN = 100_000_000 * 100
MAX_DIAGNOSES = 100  # a national record lists a few; thousands would only cost memory


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (28 February for a 29th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _check_dates_are_china_s(record: dict) -> None:
    """A date with a time-zone offset could be another day in China: the record gives China's own dates."""
    for field in ("begndate", "enddate"):
        value = record.get(field)
        if isinstance(value, str) and len(value.strip()) > 10 and (
                value.strip().endswith(("Z", "z")) or "+" in value[10:] or "-" in value[10:]):
            raise InvalidCase(field, "give the date (and time) in China without a time-zone offset")


def _refuse_hidden(value: object, path: str) -> None:
    """Refuse a control or invisible format character anywhere in the record, naming its path."""
    if isinstance(value, str):
        hidden = hidden_character(value)
        if hidden:
            raise InvalidCase(path, f"contains the control or invisible character {hidden}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_hidden(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_hidden(item, f"{path}[{i}]")


def _normalised(raw: dict) -> dict:
    """A copy of the record with its identifiers in NFKC (``ＺＷ－１`` is ``ZW-1``), each then checked."""
    record = dict(raw)
    for field in IDENTIFIER_FIELDS:
        if isinstance(record.get(field), str):
            record[field] = normalise_id(record[field])
            problem = identifier_problem(record[field]) if record[field] and field != "certno" else None
            if problem:
                raise InvalidCase(field, problem)
    if isinstance(record.get("diagnoses"), list):
        if len(record["diagnoses"]) > MAX_DIAGNOSES:
            raise InvalidCase("diagnoses", f"at most {MAX_DIAGNOSES} diagnoses")
        record["diagnoses"] = [
            {**d, "diag_code": normalise_id(d["diag_code"])} if isinstance(d, dict) and isinstance(d.get("diag_code"), str)
            else d
            for d in record["diagnoses"]
        ]
        for i, d in enumerate(record["diagnoses"]):
            code = d.get("diag_code") if isinstance(d, dict) else None
            problem = identifier_problem(code) if isinstance(code, str) and code else None
            if problem:
                raise InvalidCase(f"diagnoses[{i}].diag_code", problem)
    return record


def _check_texts(record: dict) -> None:
    for field in OPTIONAL_TEXT_FIELDS:
        value = record.get(field)
        if value is not None and not isinstance(value, str):
            raise InvalidCase(field, f"{field} must be a string")
    for field, limit in TEXT_LIMITS.items():
        value = record.get(field)
        if isinstance(value, str) and len(value) > limit:
            raise InvalidCase(field, f"at most {limit} characters")
    diagnoses = record.get("diagnoses")
    for i, d in enumerate(diagnoses if isinstance(diagnoses, list) else ()):
        if not isinstance(d, dict):
            continue  # parse_settlement names it
        for field, limit in DIAGNOSIS_TEXT_LIMITS.items():
            value = d.get(field)
            if isinstance(value, str) and len(value) > limit:
                raise InvalidCase(f"diagnoses[{i}].{field}", f"at most {limit} characters")
        if isinstance(d.get("diag_code"), str) and not d["diag_code"]:
            raise InvalidCase(f"diagnoses[{i}].diag_code", "required")
        if d.get("maindiag_flag") not in ("0", "1"):
            raise InvalidCase(f"diagnoses[{i}].maindiag_flag", 'the main-diagnosis flag is "1" or "0"')
