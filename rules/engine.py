"""The adjudication engine: one claim in, one explained decision out.

The same ``Engine`` serves the batch CLI, the service and simulations. It stores
nothing: it reads a member's accumulators and returns a ``Decision`` whose lines carry
the accumulator changes to apply. Order of decisions (default-plan.md section 3):

0. claim level: a duplicate bill denies every line (checked by the caller's store);
1-3. programme, scope, eligibility: the plan's rules, evaluated by durable_rules;
4. amount: the benefit's formula (rules/formulas.py), with reductions;
5. review: pend rules, then the high-amount review over the whole claim.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from claims.accumulators import AccumulatorReader
from claims.cases import Claim
from claims.decision import BenefitLine, ClaimStatus, Decision, LineStatus, claim_status
from claims.errors import ClaimsError
from claims.members import Membership
from claims.money import format_fen
from claims.reasons import Reason
from rules import durable_engine
from rules.compiler import CompiledPlan, CompiledRule, compile_plan
from rules.conditions import facts_named
from rules.document import Benefit, Plan, load_plan, pays_out_of_base
from rules.facts import STANDING_FACTS, derive_facts
from rules.formulas import FORMULAS, AmountContext, Standing, StandingContext, fen, ratio

_STATUS_OF = {"not_applicable": LineStatus.NOT_APPLICABLE, "denied": LineStatus.DENIED}
_NOTHING_HELD: tuple[None, tuple[()], tuple[()]] = (None, (), ())


MEMO_LIMIT = 8_192  # distinct situations seen: ~4,700 in 100,000 generated claims


def scopes_on(membership: Membership | None, admitted: dt.date) -> dict[str, str]:
    """The accumulator scope keys of a claim admitted on ``admitted``: its period's, its calendar year's.

    Without an enrollment the period is the calendar year's (a line that needs none).
    """
    return {
        "period": membership.enrollment.period_key if membership else f"year:{admitted.year}",
        "calendar_year": str(admitted.year),
    }


@dataclass(frozen=True, slots=True)
class BenefitStanding:
    """A benefit on a day: where the member stands, and the reason it pays nothing that day, if one holds."""

    benefit: Benefit
    standing: Standing
    closed_by: str | None  # the reason of a deciding rule that holds for any claim admitted that day


class Engine:
    """Decides claims under one plan version.

    What the ruleset fires depends only on the claim's *situation* (each fact the
    conditions read, numbers placed among the constants they are compared with; see
    ``CompiledPlan.situation``). The engine remembers what fired per situation, so a
    situation already asserted is answered without asserting it again; ``memo=False``
    asserts every claim (a test checks both give the same decisions).
    """

    def __init__(self, plan: Plan | None = None, memo: bool = True) -> None:
        self.plan = plan if plan is not None else load_plan()
        self.compiled: CompiledPlan = compile_plan(self.plan)
        durable_engine.register(self.compiled.ruleset_name, self.compiled.definition)
        self.benefits = self.plan.document.benefits
        self._memo: dict[tuple[Any, ...], dict[str, Any]] | None = {} if memo else None
        high = self.plan.document.review.high_amount
        self._high_amount = (fen(high.above), high.reason) if high else None
        self._factors = {
            name: ratio(r.rule.factor) for name, r in self.compiled.rules.items() if r.rule.factor is not None
        }
        self._formulas = {b.code: FORMULAS[b.amount.kind](b.amount, self.plan.catalogs) for b in self.benefits}
        self._share_base = {b.code for b in self.benefits if pays_out_of_base(b.amount)}
        # What the trace shows for each rule: the facts its own condition reads.
        self._reads = {name: facts_named(r.condition) for name, r in self.compiled.rules.items()}

    @property
    def version(self) -> str:
        return self.plan.version

    # ------------------------------------------------------------------ outcomes

    def rejected(self, case_id: str, error: ClaimsError, invalid: bool = False) -> Decision:
        """The decision for a bill that failed section 2, or a malformed case."""
        return Decision(
            case_id=case_id,
            status=ClaimStatus.INVALID if invalid else ClaimStatus.REJECTED,
            plan_version=self.version,
            reasons=[Reason.INVALID_CASE if invalid else Reason.BILL_INCONSISTENT],
            field=error.field,
            message=error.message,
            trace=[{"rule": "claim.invalid_case" if invalid else "claim.bill_consistency", "field": error.field,
                    "message": error.message}],
        )

    def adjudicate(self, claim: Claim, accumulators: AccumulatorReader, duplicate: bool = False,
                   explain: bool = True, derived: tuple[dict[str, Any], Any] | None = None,
                   fixed: dict[str, BenefitLine] | None = None) -> Decision:
        """Decide a valid claim. ``duplicate``: this bill was already adjudicated.

        ``explain=False`` leaves the trace empty (simulations compare outcomes only);
        ``derived`` is ``derive(claim)`` already made (two plans with the same catalogs
        see the same facts). ``fixed``: lines a reviewer decided, kept as they are;
        their amounts count for the lines after them (a residual share) and for the
        claim's high-amount review, and no review rule pends them again.
        """
        if duplicate:
            bill = claim.settlement
            return Decision(
                case_id=claim.case_id,
                status=ClaimStatus.DENIED,
                plan_version=self.version,
                lines=[BenefitLine(b.code, LineStatus.DENIED, reasons=[Reason.DUPLICATE_BILL]) for b in self.benefits],
                trace=[{"rule": "claim.duplicate_bill", "step": "claim",
                        "facts": {"fixmedins_code": bill.fixmedins_code, "setl_id": bill.setl_id}}],
            )

        facts, membership = derived if derived is not None else self.derive(claim)
        held_by_benefit = self._held(facts)

        scopes = scopes_on(membership, claim.settlement.begndate)
        trace: list[dict[str, Any]] = []
        lines: dict[str, BenefitLine] = {}
        pend_rules: dict[str, tuple[CompiledRule, ...]] = {}
        base_left = facts["in_policy_self_pay"]  # of B, what the lines paying out of it have not paid yet
        for benefit in self.benefits:
            code = benefit.code
            if fixed is not None and code in fixed:
                lines[code] = fixed[code]
                if code in self._share_base and fixed[code].counts:
                    base_left -= fixed[code].amount  # a reviewer's amount takes its part of B like any other
                if explain:
                    trace.append({"rule": f"{code}.reviewed", "benefit": code, "step": "review",
                                  "outcome": f"kept as the reviewer decided: {fixed[code].status.value} "
                                             f"{format_fen(fixed[code].amount)}"})
                continue
            deciding, reducing, pending = held_by_benefit.get(code, _NOTHING_HELD)
            if deciding is not None:
                lines[code] = BenefitLine(code, _STATUS_OF[deciding.then], reasons=[deciding.reason])
                if explain:
                    trace.append(self._fired(deciding, facts))
                continue
            reductions = [(self._factors[r.name], r.reason) for r in reducing]
            result = self._formulas[code](
                AmountContext(code, facts, accumulators, scopes, reductions, lines, explain, base_left))
            if result.not_applicable:
                lines[code] = BenefitLine(code, LineStatus.NOT_APPLICABLE, reasons=[result.not_applicable])
                outcome = f"not_applicable: {result.not_applicable}"
            elif result.denied:
                lines[code] = BenefitLine(code, LineStatus.DENIED, reasons=[result.denied])
                outcome = f"denied: {result.denied}"
            else:
                if explain:
                    trace.extend(self._fired(r, facts) for r in reducing)
                lines[code] = BenefitLine(code, LineStatus.APPROVED, result.amount, list(result.reasons), result.changes)
                outcome = "approved"
                if code in self._share_base:
                    base_left -= result.amount
                if pending:
                    pend_rules[code] = pending
            if explain:
                trace.append({"rule": f"{code}.amount", "benefit": code, "step": "amount", "formula": benefit.amount.kind,
                              "numbers": result.numbers,
                              "outcome": f"approved: {format_fen(result.amount)}" if outcome == "approved" else outcome})

        # Review: pend rules first, then the high amount over the whole claim.
        for code, rules in pend_rules.items():
            for r in rules:
                line = lines[code]
                line.status = LineStatus.PENDED
                line.reasons.append(r.reason)
                if explain:
                    trace.append(self._fired(r, facts))
        ordered = [lines[b.code] for b in self.benefits]
        if self._high_amount is not None:
            above, reason = self._high_amount
            total = sum(line.amount for line in ordered if line.counts)
            if total > above:
                for line in ordered:
                    if line.status is LineStatus.APPROVED and (fixed is None or line.benefit not in fixed):
                        line.status = LineStatus.PENDED
                        line.reasons.append(reason)
                if explain:
                    trace.append({"rule": "review.high_amount", "step": "review",
                                  "numbers": {"total": format_fen(total), "above": format_fen(above)},
                                  "outcome": f"pended: {reason}"})

        return Decision(
            case_id=claim.case_id,
            status=claim_status(ordered),
            plan_version=self.version,
            lines=ordered,
            trace=trace,
        )

    def standing(self, facts: dict[str, Any], scopes: dict[str, str], totals: AccumulatorReader,
                 reserved: AccumulatorReader) -> list[BenefitStanding]:
        """Each benefit of the plan for a member on a day (``rules.facts.standing_facts``).

        A benefit is closed that day by the first deciding rule (not applicable, denied)
        that reads only what the day settles (``STANDING_FACTS``: enrolment, waiting,
        hardship register) and holds: no claim admitted that day is paid by it (this rule,
        or one before it that reads the bill, decides the line). Rules that read the bill
        (its type, its hospital) close nothing here.
        """
        closed: dict[str, str] = {}
        for name, rule in self.compiled.rules.items():
            if (rule.then in _STATUS_OF and rule.benefit not in closed
                    and set(self._reads[name]) <= STANDING_FACTS and rule.condition.holds(facts)):
                closed[rule.benefit] = rule.reason
        return [
            BenefitStanding(b, self._formulas[b.code].standing(StandingContext(b.code, facts, totals, reserved, scopes)),
                            closed.get(b.code))
            for b in self.benefits
        ]

    def derive(self, claim: Claim) -> tuple[dict[str, Any], Any]:
        """The claim's facts under this plan's catalogs, and the membership found."""
        return derive_facts(claim, self.plan.catalogs)

    def _held(self, facts: dict[str, Any]) -> dict[str, tuple[Any, tuple[CompiledRule, ...], tuple[CompiledRule, ...]]]:
        """Per benefit: the deciding rule that fired (or None), the reduce and the pend rules that fired."""
        if self._memo is None:
            return self._group(durable_engine.evaluate(self.compiled.ruleset_name, facts))
        situation = self.compiled.situation(facts)
        held = self._memo.get(situation)
        if held is None:
            held = self._group(durable_engine.evaluate(self.compiled.ruleset_name, facts))
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[situation] = held
        return held

    def _group(self, fired: list[str]) -> dict[str, tuple[Any, tuple[CompiledRule, ...], tuple[CompiledRule, ...]]]:
        by_benefit: dict[str, list[CompiledRule]] = {}
        for name in fired:
            rule = self.compiled.rules[name]
            by_benefit.setdefault(rule.benefit, []).append(rule)
        return {
            code: (
                next((r for r in rules if r.then in _STATUS_OF), None),
                tuple(r for r in rules if r.then == "reduce"),
                tuple(r for r in rules if r.then == "pend"),
            )
            for code, rules in by_benefit.items()
        }

    def _fired(self, rule: CompiledRule, facts: dict[str, Any]) -> dict[str, Any]:
        return {
            "rule": rule.name,
            "benefit": rule.benefit,
            "step": rule.rule.step,
            "then": rule.rule.then,
            "reason": rule.rule.reason,
            "facts": {name: facts[name] for name in self._reads[rule.name]},
        }
