"""Rule conditions: the ``when`` of a rule document, as a small boolean tree.

A ``when`` is a mapping from a fact name to either a value (equality) or a mapping of
operators, all of which must hold::

    when: {renewing: false, days_since_coverage_start: {ge: 30, lt: 90}}
    when: {med_type: {not_in: ["21", "14"]}}
    when: {main_diagnosis: {not_in_catalog: critical_illness_21}}
    when: {any: [{hosp_lv: "11"}, {insutype: {ne: "310"}}]}

The tree can be negated exactly (the compiler uses that to give "the first rule that
holds decides" to a rules engine that fires every rule that holds) and written as a
durable_rules condition. ``in`` becomes an ``$or`` of equalities because durable_rules
has no ``$in``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from claims.money import AmountError, parse_yuan
from rules.facts import FACTS, catalog_fact

_NEGATED = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "gt": "le", "le": "gt"}
_DURABLE_OPS = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_ORDERED = {"lt", "le", "gt", "ge"}


class ConditionError(ValueError):
    """A ``when`` that cannot be understood; ``path`` points inside it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class Compare:
    fact: str
    op: str  # eq ne lt le gt ge
    value: Any

    def negate(self) -> "Node":
        return Compare(self.fact, _NEGATED[self.op], self.value)

    def holds(self, facts: dict[str, Any]) -> bool:
        v = facts[self.fact]
        match self.op:
            case "eq":
                return v == self.value
            case "ne":
                return v != self.value
            case "lt":
                return v < self.value
            case "le":
                return v <= self.value
            case "gt":
                return v > self.value
            case _:
                return v >= self.value

    def to_durable(self) -> dict[str, Any]:
        if self.op == "eq":
            return {self.fact: self.value}
        return {_DURABLE_OPS[self.op]: {self.fact: self.value}}


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple["Node", ...]

    def negate(self) -> "Node":
        return Any_(tuple(p.negate() for p in self.parts))

    def holds(self, facts: dict[str, Any]) -> bool:
        return all(p.holds(facts) for p in self.parts)

    def to_durable(self) -> dict[str, Any]:
        if len(self.parts) == 1:
            return self.parts[0].to_durable()
        return {"$and": [p.to_durable() for p in self.parts]}


@dataclass(frozen=True, slots=True)
class Any_:
    parts: tuple["Node", ...]

    def negate(self) -> "Node":
        return All(tuple(p.negate() for p in self.parts))

    def holds(self, facts: dict[str, Any]) -> bool:
        return any(p.holds(facts) for p in self.parts)

    def to_durable(self) -> dict[str, Any]:
        if len(self.parts) == 1:
            return self.parts[0].to_durable()
        return {"$or": [p.to_durable() for p in self.parts]}


Node = Union[Compare, All, Any_]


def _typed(fact: str, value: Any, path: str) -> Any:
    """Check a literal against the fact's type; money is written in yuan, held in fen."""
    kind = FACTS[fact].type
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConditionError(path, f"{fact} is true or false, not {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConditionError(path, f"{fact} is a whole number, not {value!r}")
        return value
    if kind == "money":
        try:
            return parse_yuan(value if not isinstance(value, float) else str(value))
        except AmountError as err:
            raise ConditionError(path, f"{fact}: {value!r} {err}") from None
    if not isinstance(value, str):
        raise ConditionError(path, f"{fact} is a text code: write {value!r} in quotes")
    return value


def parse_when(when: Any, catalogs: set[str], path: str = "when") -> Node:
    """Read a ``when`` mapping into a condition tree, checking names and types."""
    if not isinstance(when, dict) or not when:
        raise ConditionError(path, "a condition is a non-empty mapping of fact names to tests")
    parts: list[Node] = []
    for key, test in when.items():
        here = f"{path}.{key}"
        if key == "any":
            if not isinstance(test, list) or not test:
                raise ConditionError(here, "any: takes a non-empty list of conditions")
            parts.append(Any_(tuple(parse_when(t, catalogs, f"{here}[{i}]") for i, t in enumerate(test))))
            continue
        if key not in FACTS:
            raise ConditionError(here, f"unknown fact {key!r}; known facts: {', '.join(sorted(FACTS))}")
        if not isinstance(test, dict):
            parts.append(Compare(key, "eq", _typed(key, test, here)))
            continue
        if not test:
            raise ConditionError(here, "an empty test")
        for op, value in test.items():
            at = f"{here}.{op}"
            if op in ("in_catalog", "not_in_catalog"):
                if key != "main_diagnosis":
                    raise ConditionError(at, f"{op} applies to main_diagnosis only")
                if value not in catalogs:
                    raise ConditionError(at, f"unknown catalog {value!r}")
                parts.append(Compare(catalog_fact(value), "ne" if op == "in_catalog" else "eq", ""))
            elif op in ("in", "not_in"):
                if not isinstance(value, list) or not value:
                    raise ConditionError(at, f"{op} takes a non-empty list")
                values = [_typed(key, v, f"{at}[{i}]") for i, v in enumerate(value)]
                if op == "in":
                    parts.append(Any_(tuple(Compare(key, "eq", v) for v in values)))
                else:
                    parts.append(All(tuple(Compare(key, "ne", v) for v in values)))
            elif op in _NEGATED:
                typed = _typed(key, value, at)
                if op in _ORDERED and FACTS[key].type in ("bool", "str"):
                    raise ConditionError(at, f"{op} compares numbers; {key} is not one")
                parts.append(Compare(key, op, typed))
            else:
                raise ConditionError(at, f"unknown test {op!r}; use eq ne lt le gt ge in not_in in_catalog not_in_catalog")
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def facts_named(node: Node) -> list[str]:
    """The facts a condition reads, in order, once each (for the decision trace)."""
    out: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Compare):
            if n.fact not in out:
                out.append(n.fact)
        else:
            for p in n.parts:
                walk(p)

    walk(node)
    return out
