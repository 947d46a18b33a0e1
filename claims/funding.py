"""Which fund pays a benefit line, and how a relief line is split by source (``funds.md`` §2).

Pure: no database. The plan document's ``funding`` section becomes a ``Funding``; a
plan without one is funded as ``DEFAULT_FUNDING`` says, which is ``funds.md`` exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from claims.money import apply_rate

MUTUAL_AID = "mutual_aid"
RELIEF = "relief"
RELIEF_SOURCES = ("central", "region", "league", "charity")
FUND_EXHAUSTED = "FUND_EXHAUSTED"


@dataclass(frozen=True, slots=True)
class Funding:
    """The funding rules of a plan version.

    - ``contribution`` / ``union_subsidy``: fen a member-period, recorded with each enrollment;
    - ``funds``: benefit code → ``mutual_aid`` or ``relief``;
    - ``relief_shares``: (source, rate) in order; the rates add up to 1; the fen left by
      rounding goes to the first source;
    - ``fallback``: the source that covers what a source cannot (``charity``);
    - ``when_exhausted``: ``pend`` (the line waits, reason ``FUND_EXHAUSTED``).
    """

    contribution: int = 9000
    union_subsidy: int = 1000
    funds: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(
        {"MA_IP": MUTUAL_AID, "MA_DA": MUTUAL_AID, "MA_CI": MUTUAL_AID, "CIR": RELIEF}))
    relief_shares: tuple[tuple[str, Fraction], ...] = (
        ("central", Fraction(1, 2)), ("region", Fraction(3, 10)), ("league", Fraction(1, 5)))
    fallback: str = "charity"
    when_exhausted: str = "pend"

    def fund_of(self, benefit: str) -> str:
        """The fund that pays a benefit; a benefit the section does not name is mutual aid."""
        return self.funds.get(benefit, MUTUAL_AID)


DEFAULT_FUNDING = Funding()


def funding_of(plan: object) -> Funding:
    """A plan's funding rules: its own ``funding`` section, or the default."""
    return getattr(plan, "funding", None) or DEFAULT_FUNDING


def relief_shares(amount: int, shares: tuple[tuple[str, Fraction], ...]) -> list[tuple[str, int]]:
    """Split ``amount`` fen by the shares: each rounded half-up, the remainder to the first source.

    The parts always add up to ``amount`` exactly.
    """
    parts = [(source, apply_rate(amount, rate)) for source, rate in shares]
    if parts:
        rest = amount - sum(fen for _, fen in parts)
        parts[0] = (parts[0][0], parts[0][1] + rest)
    return parts
