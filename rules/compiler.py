"""Compile a plan's rules into a durable_rules ruleset definition.

durable_rules fires every rule whose condition holds. The plan says the first rule
that holds decides a line (default-plan.md section 3), so rule k of a benefit is
compiled as "k holds and no deciding rule before it holds". Exactly the deciding rule
fires, and the trace names it. Reduce and pend rules apply only to a line that no
deciding rule took, so they carry the negation of every deciding rule of their line.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from rules.conditions import All, Compare, Node
from rules.document import DECIDING, Plan, Rule


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str  # 'MA_IP.waiting_period': the benefit code and the rule id
    benefit: str
    rule: Rule
    condition: Node  # the rule's own `when` (what the trace shows)
    compiled: Node  # with the negations of earlier deciding rules

    @property
    def then(self) -> str:
        return self.rule.then

    @property
    def reason(self) -> str:
        return self.rule.reason


@dataclass(frozen=True, slots=True)
class CompiledPlan:
    ruleset_name: str
    definition: dict[str, Any]  # durable_rules JSON, without actions
    rules: dict[str, CompiledRule]
    # What the ruleset can tell apart: each fact a condition reads, with the numbers it
    # is compared to (None for text and true/false facts, compared by value).
    distinctions: tuple[tuple[str, tuple[Any, ...] | None], ...]

    def situation(self, facts: dict[str, Any]) -> tuple[Any, ...]:
        """The facts as the ruleset sees them: two claims with the same situation fire the same rules.

        Every condition compares a fact with constants, so for a number only its place
        among those constants matters (below the first, equal to it, between it and the
        next...). That is exact, and it makes repeated situations common.
        """
        out = []
        for fact, constants in self.distinctions:
            value = facts[fact]
            if constants is None:
                out.append(value)
            else:
                i = bisect.bisect_left(constants, value)
                out.append(2 * i + (i < len(constants) and constants[i] == value))
        return tuple(out)


def _distinctions(rules: dict[str, CompiledRule]) -> tuple[tuple[str, tuple[Any, ...] | None], ...]:
    numbers: dict[str, set[Any]] = {}
    values: set[str] = set()

    def walk(node: Node) -> None:
        if isinstance(node, Compare):
            if isinstance(node.value, bool) or not isinstance(node.value, int):
                values.add(node.fact)
            else:
                numbers.setdefault(node.fact, set()).add(node.value)
        else:
            for part in node.parts:
                walk(part)

    for rule in rules.values():
        walk(rule.compiled)
    return tuple(sorted(
        [(fact, tuple(sorted(c))) for fact, c in numbers.items() if fact not in values]
        + [(fact, None) for fact in values]
    ))


def compile_plan(plan: Plan) -> CompiledPlan:
    rules: dict[str, CompiledRule] = {}
    for benefit in plan.document.benefits:
        deciding: list[Node] = []
        for rule in benefit.rules:
            own = plan.conditions[(benefit.code, rule.id)]
            # Rules are in step order, so a reduce or pend rule sees every deciding rule.
            compiled = All((own, *(c.negate() for c in deciding))) if deciding else own
            if rule.then in DECIDING:
                deciding.append(own)
            name = f"{benefit.code}.{rule.id}"
            rules[name] = CompiledRule(name, benefit.code, rule, own, compiled)
    definition = {name: {"all": [{"m": r.compiled.to_durable()}]} for name, r in rules.items()}
    # The ruleset is named by what it contains: one registration per distinct ruleset.
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:16]
    name = f"plan_{plan.name.replace('-', '_').replace('.', '_')}_{digest}"
    return CompiledPlan(name, definition, rules, _distinctions(rules))
