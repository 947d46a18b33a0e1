"""Disease catalogs: which ICD-10 codes count as which listed disease (plan section 10)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

_WELL_FORMED = re.compile(r"^[A-Z][0-9]{2}(\.[A-Z0-9]+)?$")


def normalise_icd(code: str) -> str:
    """Trim, upper-case, and put the dot after the category: 'c349' -> 'C34.9'."""
    text = code.strip().upper()
    if len(text) > 3 and "." not in text:
        text = f"{text[:3]}.{text[3:]}"
    return text


def is_well_formed(code: str) -> bool:
    """A letter, two digits, optionally a dot and more letters or digits."""
    return _WELL_FORMED.match(code) is not None


@dataclass(frozen=True, slots=True)
class IcdToken:
    """One include or exclude token: a category range ``A00-B99`` or a code prefix."""

    text: str
    low: str | None = None
    high: str | None = None

    @classmethod
    def parse(cls, raw: str) -> "IcdToken":
        text = raw.strip().upper()
        if "-" in text:
            low, high = (normalise_icd(part) for part in text.split("-", 1))
            if not (len(low) == 3 and len(high) == 3 and is_well_formed(low) and is_well_formed(high) and low <= high):
                raise ValueError(f"ICD range {raw!r} must be two categories like A00-B99, low first")
            return cls(text=f"{low}-{high}", low=low, high=high)
        norm = normalise_icd(text)
        if not is_well_formed(norm):
            raise ValueError(f"ICD token {raw!r} is not a code like C34 or N18.5")
        return cls(text=norm)

    def matches(self, code: str) -> bool:
        if self.low is not None:
            return self.low <= code[:3] <= self.high  # type: ignore[operator]
        return code.startswith(self.text)


@dataclass(frozen=True, slots=True)
class Disease:
    code: str
    name_zh: str
    name_en: str
    include: tuple[IcdToken, ...]
    exclude: tuple[IcdToken, ...] = ()
    disease_class: str = ""  # groups diseases for benefits that pay a fixed amount by class

    def matches(self, code: str) -> bool:
        return any(t.matches(code) for t in self.include) and not any(t.matches(code) for t in self.exclude)


def _tokens(cell: str) -> tuple[IcdToken, ...]:
    return tuple(IcdToken.parse(t) for t in cell.split(";") if t.strip())


@dataclass(frozen=True)
class DiseaseCatalog:
    diseases: tuple[Disease, ...]
    _cache: dict[str, Disease | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_csv(cls, text: str) -> "DiseaseCatalog":
        """Columns: code, name_zh, name_en, icd10_include, icd10_exclude[, class]."""
        rows = list(csv.DictReader(io.StringIO(text)))
        diseases = []
        for i, row in enumerate(rows, start=2):
            try:
                diseases.append(
                    Disease(
                        code=(row.get("code") or "").strip(),
                        name_zh=(row.get("name_zh") or "").strip(),
                        name_en=(row.get("name_en") or "").strip(),
                        include=_tokens(row.get("icd10_include") or ""),
                        exclude=_tokens(row.get("icd10_exclude") or ""),
                        disease_class=(row.get("class") or "").strip(),
                    )
                )
            except ValueError as err:
                raise ValueError(f"line {i}: {err}") from None
        return cls(tuple(diseases))

    def match(self, raw_code: str) -> Disease | None:
        """The first disease whose include tokens match and exclude tokens do not."""
        try:
            return self._cache[raw_code]
        except KeyError:
            pass
        found = _match(self.diseases, normalise_icd(raw_code))
        if len(self._cache) < 100_000:  # a bounded memo: ICD codes repeat a lot in real claims
            self._cache[raw_code] = found
        return found


def _match(diseases: tuple[Disease, ...], code: str) -> Disease | None:
    if not is_well_formed(code):
        return None
    return next((d for d in diseases if d.matches(code)), None)
