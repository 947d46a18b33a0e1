"""Which fund pays a benefit line, and how a relief line is split by source (``funds.md`` §2).

Pure: no database. The plan document's ``funding`` section becomes a ``Funding``; a
plan without one is funded as ``DEFAULT_FUNDING`` says, which is ``funds.md`` exactly.

How a line is charged, given what each relief source has left (``cover``): each
source takes its share as far as its available amount goes and passes the rest to
the fallback source; when the fallback cannot take all that is passed to it, nothing
is charged and the line waits (``FUND_EXHAUSTED``). How a reduction is given back
(``release``): the fallback's money first (it is the money of last resort), then the
sources from the last listed to the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from claims.money import apply_rate

MUTUAL_AID = "mutual_aid"
RELIEF = "relief"
FUNDS = (MUTUAL_AID, RELIEF)
RELIEF_SOURCES = ("central", "region", "league", "charity")
LEAGUE = "league"  # the one source kept per league (the league of the member's union)
FUND_EXHAUSTED = "FUND_EXHAUSTED"
WHEN_EXHAUSTED = ("pend",)


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

    def shares_of(self, benefit: str, amount: int) -> list[tuple[str | None, int]]:
        """What each source would pay of ``amount`` fen of a line, before looking at what is left.

        Mutual aid is one pool (source ``None``); relief is split by ``relief_shares``.
        """
        if self.fund_of(benefit) == MUTUAL_AID:
            return [(None, amount)]
        return [(source, fen) for source, fen in relief_shares(amount, self.relief_shares)]

    @property
    def release_order(self) -> tuple[str, ...]:
        """The order a reduction gives money back in: the fallback, then the sources last to first."""
        return (self.fallback, *(s for s, _ in reversed(self.relief_shares) if s != self.fallback))


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


def cover(parts: list[tuple[str, int]], available: Mapping[str, int], fallback: str) -> list[tuple[str, int]] | None:
    """What each source is charged for a relief line's ``parts``, or None when it cannot be paid.

    ``available``: fen each source has left (allocations − charges). A source takes its
    share as far as that goes and passes the rest to ``fallback``; when the fallback
    cannot take all of it either, None: nothing is charged and the whole line waits.
    """
    taken: dict[str, int] = {}
    passed = 0
    for source, fen in parts:
        room = max(available.get(source, 0) - taken.get(source, 0), 0)
        take = min(fen, room)
        if take:
            taken[source] = taken.get(source, 0) + take
        passed += fen - take
    if passed:
        room = max(available.get(fallback, 0) - taken.get(fallback, 0), 0)
        if room < passed:
            return None
        taken[fallback] = taken.get(fallback, 0) + passed
    return list(taken.items())


def release(held: Mapping[str | None, int], amount: int, order: tuple[str, ...]) -> list[tuple[str | None, int]]:
    """Give back ``amount`` fen of what a line holds charged (``held``: source → fen), in ``order``.

    Sources not in ``order`` (the mutual-aid pool, ``None``; a source a later version
    dropped) give back after those in it. Returns (source, fen given back), each fen > 0.
    """
    if amount > sum(held.values()):
        raise ValueError(f"cannot give back {amount} fen of a line holding {sum(held.values())}")
    ranked = [s for s in order if s in held] + [s for s in held if s not in order]
    out: list[tuple[str | None, int]] = []
    for source in ranked:
        if amount <= 0:
            break
        give = min(held[source], amount)
        if give > 0:
            out.append((source, give))
            amount -= give
    return out
