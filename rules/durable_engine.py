"""The one module that talks to durable_rules.

durable_rules (2.0.28) is not thread-safe, keeps state per session id in a fixed-size
table, and never frees a ruleset (see ../shared/style.md). So here:

- every call into it holds one process-wide lock;
- the library's own background dispatch threads are never started (they call into
  the engine on their own schedule, outside any lock of ours);
- a ruleset is registered once per definition and cached; a plan version compiles to
  the same definition every time, so it is registered at most once per process;
- each evaluation uses a fresh session id and deletes its state before returning.
  Deleting the state of a session whose fact matched no rule segfaults the core
  (measured here), while not deleting it fills the session table; so every ruleset
  gets one rule, ``claim.received``, that matches every claim fact. It also proves
  the fact was evaluated: a fact it does not match is an error, not "no rule held";
- the library's errors become ``RulesEngineError`` naming the ruleset and, when it can
  be found, the rule.
"""

from __future__ import annotations

import copy
import itertools
import threading
from typing import Any

from durable import engine as _durable

try:  # the compiled core raises its own error type when a ruleset does not parse
    from durable_rules_engine import error as _CoreError  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - the extension always ships it
    _CoreError = Exception


class RulesEngineError(RuntimeError):
    """durable_rules refused a ruleset or failed while evaluating a fact."""

    def __init__(self, ruleset: str, message: str, rule: str | None = None) -> None:
        where = f"ruleset {ruleset}" + (f", rule {rule}" if rule else "")
        super().__init__(f"{where}: {message}")
        self.ruleset = ruleset
        self.rule = rule


class _Host(_durable.Host):
    """A host without the timer threads that dispatch queued actions in the background.

    Everything here is asserted synchronously and its actions run inside the call, so
    nothing is ever queued for those threads to find.
    """

    def _run(self) -> None:
        pass


_LOCK = threading.Lock()
_HOST: _Host | None = None
_REGISTERED: set[str] = set()
_SESSIONS = itertools.count(1)
_fired: list[str] = []

RECEIVED = "claim.received"
_RECEIVED_RULE = {"all": [{"m": {"fact": "claim"}}]}


def _record(name: str):
    def action(_closure: Any) -> None:
        _fired.append(name)

    return action


def _with_actions(definition: dict[str, Any]) -> dict[str, Any]:
    # durable_rules pops 'run' out of the dict it is given: hand it a copy.
    out = copy.deepcopy(definition)
    out[RECEIVED] = copy.deepcopy(_RECEIVED_RULE)
    for name, rule in out.items():
        rule["run"] = _record(name)
    return out


def _find_bad_rule(definition: dict[str, Any]) -> str | None:
    """Which rule the core refuses, by registering each alone under a probe name.

    Only runs after a registration failed; the probes are a few KB each and are
    never freed, which is acceptable on that error path only.
    """
    assert _HOST is not None
    for i, (name, rule) in enumerate(definition.items()):
        try:
            _HOST.register_rulesets({f"probe_{next(_SESSIONS)}_{i}": _with_actions({name: rule})})
        except _CoreError:
            return name
    return None


def register(ruleset: str, definition: dict[str, Any]) -> None:
    """Register a ruleset once per process (a no-op when it is already there)."""
    global _HOST
    with _LOCK:
        if ruleset in _REGISTERED:
            return
        if _HOST is None:
            _HOST = _Host()
        try:
            _HOST.register_rulesets({ruleset: _with_actions(definition)})
        except _CoreError as err:
            raise RulesEngineError(ruleset, str(err), _find_bad_rule(definition)) from None
        _REGISTERED.add(ruleset)


def evaluate(ruleset: str, fact: dict[str, Any]) -> list[str]:
    """Assert one fact in a fresh session; the names of the rules that fired, in order."""
    assert _HOST is not None and ruleset in _REGISTERED, f"ruleset {ruleset} is not registered"
    with _LOCK:
        sid = str(next(_SESSIONS))
        _fired.clear()
        try:
            _HOST.assert_fact(ruleset, {**fact, "fact": "claim", "sid": sid})
        except _durable.MessageNotHandledException:
            # claim.received matches every claim fact, so this means the fact was malformed.
            raise RulesEngineError(ruleset, "the claim fact matched no rule", RECEIVED) from None
        except Exception as err:  # noqa: BLE001 - anything from the C core is ours to name
            raise RulesEngineError(ruleset, f"evaluating a fact failed: {err}") from err
        if RECEIVED not in _fired:
            raise RulesEngineError(ruleset, "the claim fact was not evaluated", RECEIVED)
        _HOST.delete_state(ruleset, sid)
        return [name for name in _fired if name != RECEIVED]
